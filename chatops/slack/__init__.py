"""The Slack shell: Bolt listeners that turn Slack payloads into service calls and results into Block Kit."""
