"""Conflicts and emergencies as a reader sees them: on the parent, in a reply and in the list."""

from __future__ import annotations

from test_blocks import assert_valid_message, row_for, texts, world

from chatops.domain.policy import Status
from chatops.domain.records import ConflictDoc, ConflictFound, EmergencyDoc, Proposed, Reviewed, WindowDoc
from chatops.slack import blocks, ids
from chatops.store import EventRow, ProposalRow


def event(row: ProposalRow, payload: object, *, actor: str = "U0APPROVER", seq: int = 2) -> EventRow:
    from chatops.domain.records import payload_data

    return EventRow(
        id=seq,
        gseq=seq,
        proposal_id=row.id,
        seq=seq,
        kind=payload.kind.value,  # type: ignore[attr-defined]
        actor=actor,
        at=row.start_ts - 3600,
        reason="",
        data=payload_data(payload),  # type: ignore[arg-type]
        prev_hash="",
        hash="x",
    )


def test_the_parent_lists_the_conflicting_changes_and_the_owners() -> None:
    mine = row_for(world(3), services=("api", "db"))
    other = row_for(world(3), id=58, title="Db <b>failover</b>", services=("db",), status=Status.APPROVED)
    message = blocks.proposal_message(mine, [], conflicts=[other], owners=("S0DB",))
    assert_valid_message(message)
    shown = "\n".join(texts(message))
    assert "*Conflicts*: 1 other open change on the same service" in shown
    assert "CHG-58 *Db &lt;b&gt;failover&lt;/b&gt;* on db" in shown and "(approved)" in shown
    assert "*Services* api, db (owners <!subteam^S0DB>)" in shown
    assert "Conflicts" not in "\n".join(texts(blocks.proposal_message(mine, [])))


def test_an_emergency_parent_is_loud_shows_flagged_regions_in_red_and_the_review_button() -> None:
    row = row_for(
        world(14), emergency=True, incident_url="https://status.example.com/i/1", approvals_required=1
    )
    assert row.flagged
    message = blocks.proposal_message(row, [])
    assert_valid_message(message)
    shown = "\n".join(texts(message))
    assert message["text"].startswith(":rotating_light: EMERGENCY CHG-57")
    assert ":rotating_light: *EMERGENCY*" in shown and "https://status.example.com/i/1" in shown
    assert ":red_circle: :warning: *This emergency lands in the peak hours of a sensitive region*" in shown
    assert "Follow-up review open" in shown
    review = [b for b in message["blocks"] if b.get("block_id") == ids.REVIEW_BLOCK]
    assert review and review[0]["elements"][0]["action_id"] == ids.MARK_REVIEWED
    assert blocks.parse_button_value(review[0]["elements"][0]["value"]) == (57, 1, 1)

    done = blocks.proposal_message(row.model_copy(update={"reviewed_by": "U0A", "reviewed_at": 1}), [])
    assert ids.MARK_REVIEWED not in str(done["blocks"])
    assert "Follow-up review done by <@U0A>" in "\n".join(texts(done))


def test_a_clear_emergency_has_no_red_line() -> None:
    row = row_for(world(3)[1:], emergency=True, incident_url="https://x.example/1")
    assert not row.flagged
    assert ":red_circle:" not in "\n".join(texts(blocks.proposal_message(row, [])))


def test_the_first_reply_of_an_emergency_opens_its_follow_up() -> None:
    row = row_for(world(14), emergency=True, incident_url="https://status.example.com/i/1", services=("api",))
    window = WindowDoc(start="2026-12-08T06:00:00+00:00", end="2026-12-08T07:00:00+00:00")
    proposed = Proposed(
        window=window,
        input_tz="UTC",
        evaluation=row.snapshot,
        title=row.title,
        services=("api",),
        emergency=EmergencyDoc(incident_url=row.incident_url, reason="it is <!here> down", approval="oncall"),
    )
    reply = blocks.thread_reply(row, event(row, proposed, actor=row.proposer, seq=1))
    assert ":rotating_light: *EMERGENCY* CHG-57" in reply["text"]
    assert "it is &lt;!here&gt; down" in reply["text"] and ":red_circle:" in reply["text"]
    assert "One on-call approver approves it." in reply["text"]
    assert ids.MARK_REVIEWED in str(reply["blocks"])


def test_a_conflict_reply_names_the_other_change_and_mentions_the_owners() -> None:
    row = row_for(world(3), services=("api",), status=Status.APPROVED)
    window = WindowDoc(start="2026-12-08T06:30:00+00:00", end="2026-12-08T07:30:00+00:00")
    found = ConflictFound(
        conflict=ConflictDoc(proposal_id=9, services=("api",), window=window),
        window=window,
        approvals=1,
        approvals_required_after=2,
        status_before=Status.APPROVED,
        status_after=Status.NEEDS_REAPPROVAL,
        owners=("S0API",),
    )
    text = blocks.thread_reply(row, event(row, found))["text"]
    assert ":warning: *Conflict*: CHG-9 on api" in text and "now overlaps CHG-57" in text
    assert "It needs 2 approvals and has 1." in text and "now needs re-approval" in text
    assert "Owners: <!subteam^S0API>" in text
    reviewed = blocks.thread_reply(row, event(row, Reviewed(window=window), seq=3))["text"]
    assert "marked the follow-up review of emergency CHG-57 done" in reviewed


def test_the_list_marks_overlaps_and_emergencies() -> None:
    a = row_for(world(3), services=("api",))
    b = row_for(world(3), id=58, services=("api", "db"), emergency=True)
    c = row_for(world(3), id=59, services=("db",), start_ts=a.end_ts, end_ts=a.end_ts + 60)
    shown = "\n".join(texts(blocks.list_message([a, b, c])))
    assert "CHG-57 *" in shown and "overlaps CHG-58 on api" in shown
    assert ":rotating_light: EMERGENCY CHG-58" in shown and "overlaps CHG-57 on api" in shown
    assert "overlaps CHG-59" not in shown  # it starts as the others end
    assert "CHG-59" in shown


def test_the_home_tab_marks_an_emergency_and_its_open_review() -> None:
    from datetime import UTC, datetime

    from chatops.slack.home import HomeData, home_view

    row = row_for(world(3)[1:], emergency=True, incident_url="https://x.example/1", status=Status.APPROVED)
    data = HomeData(
        tz="UTC",
        now=datetime(2026, 12, 8, 5, 0, tzinfo=UTC),
        waiting=(),
        upcoming=(row,),
        sensitive=(),
        freezes=(),
    )
    shown = str(home_view(data))
    assert "approved, :rotating_light: emergency, review open" in shown
    reviewed = row.model_copy(update={"reviewed_by": "U0A"})
    shown = str(home_view(HomeData(**{**data.__dict__, "upcoming": (reviewed,)})))
    assert ":rotating_light: emergency" in shown and "review open" not in shown
