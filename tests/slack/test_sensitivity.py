"""Admins declare a region sensitive from Slack; open changes hear about it in their thread."""

from __future__ import annotations

from conftest import (
    ADMIN,
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    GROUP,
    OUTSIDER,
    PROPOSER,
    all_text,
    approve_flagged,
    next_week,
    parent_of,
)
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.slack import ids


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


def _status_line(standin: SlackStandIn, ts: str) -> str:
    return all_text(standin.message(CHANNEL, ts))


def _has_buttons(standin: SlackStandIn, ts: str) -> bool:
    """Whether the message asks for a decision (an approved one offers only Done, Extend, Postpone, Cancel)."""
    blocks = standin.message(CHANNEL, ts).blocks or []
    return any(
        e.get("action_id") == ids.APPROVE
        for b in blocks
        if b.get("type") == "actions"
        for e in b.get("elements") or []
    )


def test_an_approved_change_made_flagged_needs_reapproval_and_parent_and_thread_agree(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    slack.command(f"propose {day} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
    parent = parent_of(standin)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 1, message="proposed reply")

    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 2, message="approval reply")
    standin.wait_until(lambda: "Approved" in _status_line(standin, parent.ts), message="approved parent")
    approved = standin.thread(CHANNEL, parent.ts)[1].text or ""
    assert "(1 of 1)" in approved and "now approved" in approved and f"<@{PROPOSER}>" in approved
    assert "1 of 1 approval" in _status_line(standin, parent.ts) and not _has_buttons(standin, parent.ts)

    slack.command(f"sensitive add us-west {day} Regional election", user_id=ADMIN)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 4, message="reply and ping")
    reply = standin.thread(CHANNEL, parent.ts)[2].text or ""
    ping = standin.thread(CHANNEL, parent.ts)[3].text or ""
    assert f"<!subteam^{GROUP}>" in ping  # the approvers are asked again
    assert "needs re-approval" in reply and "1 more approval" in reply and "has 1" in reply
    assert (
        "United States (West)" in reply
        and "Regional election" in reply
        and f"declared by <@{ADMIN}>" in reply
    )
    assert f"{day}" in reply and ("PST" in reply or "PDT" in reply)  # the window, in the proposer's zone
    standin.wait_until(
        lambda: "Needs re-approval" in _status_line(standin, parent.ts), message="needs re-approval parent"
    )
    assert "1 of 2 approvals" in _status_line(standin, parent.ts) and _has_buttons(standin, parent.ts)

    # The earlier approval still counts, and its approver cannot approve twice; another approver completes it.
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)
    standin.wait_until(
        lambda: any("already approved" in (e.text or "") for e in standin.ephemerals()), message="refusal"
    )
    done = approve_flagged(slack, standin, parent, APPROVER_2, why="The election office is closed then")
    assert done.status_code == 200, done.text
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 5, message="second approval reply")
    second = standin.thread(CHANNEL, parent.ts)[4].text or ""
    assert "(2 of 2, flagged window)" in second and "now approved" in second
    assert "The election office is closed then" in second
    standin.wait_until(
        lambda: "2 of 2 approvals" in _status_line(standin, parent.ts), message="approved again parent"
    )
    assert ":white_check_mark: *Approved*" in _status_line(standin, parent.ts)
    assert not _has_buttons(standin, parent.ts)

    # Every reply that tells an audit event carries its hash in its metadata (the ping tells none).
    for i, message in enumerate(standin.thread(CHANNEL, parent.ts)):
        if i == 3:
            continue
        assert message.metadata is not None and message.metadata["event_type"] == "chatops_audit_event"
        assert len(message.metadata["event_payload"]["hash"]) == 64
