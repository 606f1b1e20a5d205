"""Admins declare a region sensitive from Slack; open changes hear about it in their thread."""

from __future__ import annotations

from conftest import ADMIN, CHANNEL, GROUP, OUTSIDER, PROPOSER, all_text, next_week, parent_of
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn


def test_an_admin_declaration_flags_an_open_change_and_others_are_refused(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    # A Monday, 14:00 in Los Angeles: peak there; 01:30 (00:30 in summer) in Tehran, outside its peak.
    day = next_week(0)
    slack.command(f"propose {day} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
    parent = parent_of(standin)
    assert "FLAGGED" not in (parent.text or "")
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 1, message="proposed reply")

    slack.command(f"sensitive add us-west {day} Regional election", user_id=OUTSIDER)
    standin.wait_until(
        lambda: any("only chatops admins" in (e.text or "") for e in standin.ephemerals()),
        message="the refusal",
    )

    slack.command(f"sensitive add us-west {day} {day} Regional <!here> election", user_id=ADMIN)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 3, message="reply and ping")
    reply = standin.thread(CHANNEL, parent.ts)[1].text or ""
    ping = standin.thread(CHANNEL, parent.ts)[2].text or ""
    assert f"<!subteam^{GROUP}>" in ping and "now flagged, it needs 2 approvals" in ping
    assert "now flagged" in reply and "Regional &lt;!here&gt; election" in reply and f"<@{ADMIN}>" in reply
    standin.wait_until(
        lambda: "FLAGGED" in (standin.message(CHANNEL, parent.ts).text or ""), message="parent"
    )
    assert "0 of 2 approvals" in all_text(standin.message(CHANNEL, parent.ts))

    slack.command("sensitive", user_id=OUTSIDER)
    standin.wait_until(
        lambda: any(
            "#1" in (e.text or "") and "us-west" in (e.text or "")
            for e in standin.ephemerals(user=OUTSIDER) or standin.ephemerals()
        ),
        message="the listing",
    )
    slack.command("sensitive lift 1", user_id=ADMIN)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 4, message="lifted reply")
    assert "no longer flagged" in (standin.thread(CHANNEL, parent.ts)[3].text or "")
