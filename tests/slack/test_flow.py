"""The product, end to end over HTTP: propose → flagged message with buttons → refusals → approvals → thread."""

from __future__ import annotations

from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    OUTSIDER,
    PROPOSER,
    all_text,
    approve_flagged,
    local_clock,
    next_week,
    parent_of,
)
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.slack import ids


def thread_texts(standin: SlackStandIn, ts: str) -> list[str]:
    return [m.text or "" for m in standin.thread(CHANNEL, ts)]


def test_flagged_window_is_proposed_refused_privately_then_approved_by_two(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    response = slack.command(
        f"propose {day} 22:00 America/Los_Angeles 1h Core network upgrade", user_id=PROPOSER
    )
    assert response.status_code == 200

    parent = parent_of(standin)
    shown = all_text(parent)
    assert "Core network upgrade" in shown
    assert "FLAGGED" in parent.text or ":warning:" in shown
    assert "Iran" in shown and "Election protests" in shown
    # Tehran local time of 22:00 Pacific: 09:30 in winter, 08:30 while Los Angeles keeps summer time.
    assert local_clock(day, "22:00", given="America/Los_Angeles", shown="Asia/Tehran") in shown
    assert "<!date^" in shown  # each reader sees their own local time
    assert "0 of 2 approvals" in shown
    for action in (ids.APPROVE, ids.POSTPONE, ids.REJECT):
        assert action in shown
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) >= 1, message="the 'proposed' reply")
    assert "proposed" in thread_texts(standin, parent.ts)[0]

    # The proposer cannot approve their own change; an outsider cannot approve at all. Both hear it privately.
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=OUTSIDER)
    standin.wait_until(lambda: len(standin.ephemerals()) >= 3, message="two private refusals")
    private = [e.text or "" for e in standin.ephemerals()]
    assert any("cannot approve it yourself" in t for t in private), private
    assert any("not an approver" in t for t in private)
    assert len(standin.thread(CHANNEL, parent.ts)) == 1  # nothing recorded

    # A flagged window is approved through a confirmation that asks why.
    approve_flagged(slack, standin, parent, APPROVER_1)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) >= 2, message="first approval")
    approve_flagged(slack, standin, parent, APPROVER_2)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) >= 3, message="second approval")
    standin.wait_until(
        lambda: "Approved" in all_text(standin.message(CHANNEL, parent.ts)),
        message="the parent to say Approved",
    )
    texts = thread_texts(standin, parent.ts)
    assert f"<@{APPROVER_1}> approved" in texts[1] and "1 of 2" in texts[1]
    assert f"<@{APPROVER_2}> approved" in texts[2] and "2 of 2" in texts[2] and "now approved" in texts[2]
    final = standin.message(CHANNEL, parent.ts)
    assert ids.APPROVE not in all_text(final)  # no more buttons once decided
