"""After approval, over a real store (SQLite and PostgreSQL) with the clock passed in: approval expiry keeps the
younger approvals, Done and Extend change state and queue the reminders' sync, and the audit re-derives it all."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from chatops.audit import verify
from chatops.config import parse_regions
from chatops.domain.policy import Status
from chatops.errors import InputError, NotAllowedError
from chatops.service import EmergencyRequest, ProposalRequest, Service
from chatops.store.schema import outbox
from chatops.store.sql import SqlStore

CONFIG = parse_regions(
    """
[policy]
approvals_required = 2
flagged_approvals_required = 3
approval_max_age_days = 30
approval_expiry_notice_hours = 24

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]

[[regions.sensitive_periods]]
start = 2030-03-01
end = 2030-03-31
reason = "Elections"
""",
    source="test",
)
START = datetime(2030, 3, 10, 21, 0, tzinfo=UTC)  # 00:30 in Tehran: clear
DAY = timedelta(days=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setup(store: SqlStore, now: datetime) -> tuple[Service, Clock, int]:
    clock = Clock(now)
    service = Service(
        store=store, config=CONFIG, channel="C1", approvers=lambda: frozenset({"UA", "UB", "UC"}), clock=clock
    )
    request = ProposalRequest(
        idempotency_key=None,
        proposer="UP",
        title="Core network upgrade",
        start=START,
        duration=timedelta(hours=1),
        input_tz="UTC",
    )
    return service, clock, service.propose(request).proposal.id


def syncs(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return len(conn.execute(outbox.select().where(outbox.c.kind == "sync_reminders")).all())


def test_an_old_approval_expires_with_notice_and_a_younger_one_still_counts(store: SqlStore) -> None:
    service, clock, pid = setup(store, START - 45 * DAY)
    service.approve(pid, actor="UA")  # 45 days before the start: too old by then
    clock.now = START - 10 * DAY
    assert service.approve(pid, actor="UB").proposal.status is Status.APPROVED
    assert syncs(store) == 1
    expires = START - 15 * DAY  # UA's approval turns 30 days old
    clock.now = expires - 2 * DAY
    assert service.sweep().warned == ()  # not yet within the notice
    clock.now = expires - timedelta(hours=3)
    assert service.sweep().warned == (pid,)
    clock.now = expires
    assert service.sweep().expired == (pid,)
    row = store.get_proposal(pid)
    assert row is not None and row.status is Status.NEEDS_REAPPROVAL and row.round == 2
    assert store.approvers(pid, round=2) == ["UB"]  # the younger approval carried over
    assert syncs(store) == 2  # its reminders go
    # UA approves again; the change is approved in round 2 and its reminders come back.
    assert service.approve(pid, actor="UA").proposal.status is Status.APPROVED
    assert syncs(store) == 3
    assert service.sweep().expired == ()
    report = verify(store)
    assert report.intact, report.problems


def test_the_sweep_reads_no_snapshot_and_acts_on_the_change_as_it_is_when_written(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every minute the sweep reads the approved changes to come: their summaries and approvals, never their
    snapshots (about 90 KB each with the shipped regions). What it read is checked again when it writes: a
    change whose approvals were renewed between its read and its write is left alone."""
    service, clock, pid = setup(store, START - 45 * DAY)
    _, _, other = setup(store, START - 45 * DAY)
    for change in (pid, other):
        service.approve(change, actor="UA")  # too old by START - 15 days
        service.approve(change, actor="UB")

    def no_snapshots(**_: object) -> None:
        raise AssertionError("the sweep read proposals with their snapshots")

    monkeypatch.setattr(store, "list_proposals", no_snapshots)
    monkeypatch.setattr(store, "get_proposal", no_snapshots)
    clock.now = START - 15 * DAY
    approvals_at = store.approvals_at

    def renewed_meanwhile(proposal_id: int, *, round: int) -> list[tuple[str, int]]:
        read = approvals_at(proposal_id, round=round)
        if proposal_id == other:  # after this read, and before the sweep writes, someone else moves it on

            def move_on() -> None:
                with store.transaction() as tx:
                    tx.update_proposal(other, at=9, round=round)

            writer = threading.Thread(target=move_on)
            writer.start()
            writer.join()
        return read

    monkeypatch.setattr(store, "approvals_at", renewed_meanwhile)
    assert service.sweep().expired == (pid,)
    monkeypatch.undo()
    assert store.get_proposal(pid).status is Status.NEEDS_REAPPROVAL  # type: ignore[union-attr]
    assert store.get_proposal(other).status is Status.APPROVED  # type: ignore[union-attr]


def test_done_and_extend_are_for_approved_changes_only(store: SqlStore) -> None:
    service, clock, pid = setup(store, START - DAY)
    with pytest.raises(NotAllowedError, match="only an approved change"):
        service.complete(pid, actor="UP")
    with pytest.raises(NotAllowedError, match="only an approved change"):
        service.extend(pid, actor="UP", extra=timedelta(minutes=30))
    service.approve(pid, actor="UA")
    service.approve(pid, actor="UB")
    with pytest.raises(InputError, match="longer than zero"):
        service.extend(pid, actor="UP", extra=timedelta(0))
    with pytest.raises(NotAllowedError, match="proposer or an approver"):
        service.complete(pid, actor="U_STRANGER")
    clock.now = START + timedelta(minutes=30)
    extended = service.extend(pid, actor="UP", extra=timedelta(minutes=30)).proposal
    assert extended.status is Status.APPROVED and extended.end_ts - extended.start_ts == 5400
    assert service.complete(pid, actor="UA").proposal.status is Status.DONE
    with pytest.raises(NotAllowedError):
        service.postpone(pid, actor="UP", start=START + DAY, duration=timedelta(hours=1), reason="again")
    report = verify(store)
    assert report.intact, report.problems


def test_a_flagged_extension_needs_the_flagged_number_of_approvals_again(store: SqlStore) -> None:
    service, _clock, pid = setup(store, START - DAY)
    service.approve(pid, actor="UA")
    service.approve(pid, actor="UB")
    # 21:00-22:00 UTC is 00:30-01:30 in Tehran; 8 more hours run into 08:00 there, its peak.
    outcome = service.extend(pid, actor="UP", extra=timedelta(hours=8))
    row = outcome.proposal
    assert row.status is Status.NEEDS_REAPPROVAL and row.round == 2 and row.approvals_required == 3
    assert row.flagged and outcome.assessment is not None and outcome.assessment.flagged
    for approver in ("UA", "UB"):
        service.approve(pid, actor=approver, justification="Agreed")
    assert store.get_proposal(pid).status is Status.NEEDS_REAPPROVAL  # type: ignore[union-attr]
    assert service.approve(pid, actor="UC", justification="Agreed").proposal.status is Status.APPROVED
    report = verify(store)
    assert report.intact, report.problems


def test_an_emergency_approved_at_once_queues_its_reminders_and_can_be_marked_done(store: SqlStore) -> None:
    clock = Clock(START)
    service = Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA"}),
        clock=clock,
        emergency_approval="none",
    )
    outcome = service.emergency(
        EmergencyRequest(
            idempotency_key=None,
            proposer="UP",
            title="Roll back the bad deploy",
            duration=timedelta(hours=1),
            incident_url="https://status.example.org/incidents/42",
            reason="Checkout is down",
        )
    )
    assert outcome.proposal.status is Status.APPROVED
    assert syncs(store) == 1  # the end reminder (the start is now) is scheduled like any approved change's
    assert service.complete(outcome.proposal.id, actor="UP").proposal.status is Status.DONE
    assert syncs(store) == 2
