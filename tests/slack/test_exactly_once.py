"""kill -9 while Slack is slow to answer chat.postMessage (issue case 2): after a restart, the message the dead
instance posted is found and adopted; nothing is posted twice and no orphan parent keeps live buttons."""

from __future__ import annotations

from pathlib import Path

from burst import approve_flagged
from conftest import APPROVER_1, CHANNEL, PROPOSER, SECRET, all_text, next_week, start_server, stop_server
from crash import kill_instance, logs_shown_on_failure
from dbs import fresh_url
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.slack import ids

FAST_LEASE = {"CHATOPS_DELIVERY_LEASE_SECONDS": "4"}


def top_level(standin: SlackStandIn) -> list:
    return [m for m in standin.messages(CHANNEL).values() if m.thread_ts is None]


def test_killed_during_a_slow_proposal_post_the_parent_exists_once_and_works(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    with fresh_url("postgresql", tmp_path) as url:
        first = start_server(tmp_path, standin, url, name="first", extra_env=FAST_LEASE)
        try:
            standin.slow_next("chat.postMessage", 1, delay=4.0)
            with SlackClientSim(first.events_url, signing_secret=SECRET, standin=standin) as slack:
                text = f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Core network upgrade"
                assert slack.command(text, user_id=PROPOSER).status_code == 200
            standin.wait_for("chat.postMessage")  # in Slack; the answer is 4 s away
            kill_instance(first)
        finally:
            kill_instance(first)
        assert len(top_level(standin)) == 1

        second = start_server(tmp_path, standin, url, name="second", extra_env=FAST_LEASE)
        try:
            with logs_shown_on_failure(first, second):
                parent = top_level(standin)[0]
                standin.wait_until(
                    lambda: len(standin.thread(CHANNEL, parent.ts)) == 1,
                    timeout=30,
                    message="the proposed reply",
                )
                assert len(top_level(standin)) == 1  # adopted, not posted again
                assert standin.calls_to("conversations.history")
                with SlackClientSim(second.events_url, signing_secret=SECRET, standin=standin) as slack:
                    clicked = slack.block_action(
                        ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1
                    )
                    assert clicked.status_code == 200
                    standin.wait_for("views.open")  # the live buttons open the justification form
                    submitted = approve_flagged(slack, 1, user=APPROVER_1)
                    # Recorded: the form closes (an empty 200); a refusal would answer 200 with its errors.
                    assert (submitted.status_code, submitted.text) == (200, ""), submitted.text
                standin.wait_until(
                    lambda: "1 of 2" in all_text(standin.message(CHANNEL, parent.ts)),
                    timeout=30,
                    message="the parent shows the approval",
                )
                assert len(standin.thread(CHANNEL, parent.ts)) == 2
        finally:
            stop_server(second)
        assert "Traceback" not in second.output(), second.output()


def test_killed_during_a_slow_reply_the_reply_is_in_the_thread_once(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    with fresh_url("postgresql", tmp_path) as url:
        first = start_server(tmp_path, standin, url, name="first", extra_env=FAST_LEASE)
        try:
            with SlackClientSim(first.events_url, signing_secret=SECRET, standin=standin) as slack:
                text = f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Core network upgrade"
                slack.command(text, user_id=PROPOSER)
                standin.wait_until(lambda: len(standin.calls_to("chat.postMessage")) == 2, message="posted")
                parent = top_level(standin)[0]
                standin.slow_next("chat.postMessage", 1, delay=4.0)
                approve_flagged(slack, 1, user=APPROVER_1)
                standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 2, message="the reply")
            kill_instance(first)
        finally:
            kill_instance(first)

        second = start_server(tmp_path, standin, url, name="second", extra_env=FAST_LEASE)
        try:
            standin.wait_until(
                lambda: "1 of 2" in all_text(standin.message(CHANNEL, parent.ts)),
                timeout=30,
                message="the update after the adopted reply",
            )
            assert len(standin.thread(CHANNEL, parent.ts)) == 2  # "proposed", "approved": once each
            assert standin.calls_to("conversations.replies")
        finally:
            stop_server(second)
