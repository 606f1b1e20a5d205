"""Use cases over a real store (SQLite and PostgreSQL), with the clock passed in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from chatops.audit import verify
from chatops.config import parse_regions
from chatops.domain.policy import Status
from chatops.errors import ConflictError, InputError, NotAllowedError, NotFoundError, WindowError
from chatops.service import ProposalRequest, Service
from chatops.store.sql import SqlStore

NOW = datetime(2009, 6, 10, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    """
[policy]
approvals_required = 1
flagged_approvals_required = 2

[team]
timezone = "America/Los_Angeles"
working_hours = ["mon-fri 09:00-17:00"]

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]

[[regions.sensitive_periods]]
start = 2009-06-12
end = 2009-06-30
reason = "Presidential election protests"
""",
    source="test",
)
APPROVERS = frozenset({"UA", "UB", "UC", "UP"})
MONDAY_22_PDT = datetime(2009, 6, 16, 5, 0, tzinfo=UTC)  # 09:30 in Tehran
TUESDAY_14_PDT = datetime(2009, 6, 16, 21, 0, tzinfo=UTC)  # 01:30 in Tehran


def make_service(store: SqlStore, *, now: datetime = NOW) -> Service:
    return Service(store=store, config=CONFIG, channel="C1", approvers=lambda: APPROVERS, clock=lambda: now)


def request(
    start: datetime = MONDAY_22_PDT, *, key: str | None = "k1", title: str = "Core network upgrade"
) -> ProposalRequest:
    return ProposalRequest(
        idempotency_key=key,
        proposer="UP",
        title=title,
        start=start,
        duration=timedelta(hours=1),
        input_tz="America/Los_Angeles",
    )


def kinds(store: SqlStore, proposal_id: int) -> list[str]:
    return [e.kind for e in store.events(proposal_id)]


def test_the_2009_window_is_flagged_and_needs_two_approvers(store: SqlStore) -> None:
    service = make_service(store)
    outcome = service.propose(request())
    row = outcome.proposal
    assert outcome.created and row.flagged and row.approvals_required == 2 and row.status is Status.PENDING
    assert outcome.assessment is not None
    assert outcome.assessment.suggestions[0].start == datetime(2009, 6, 16, 18, 30, tzinfo=UTC)
    assert row.evaluation["regions"][0]["local_start"] == "2009-06-16T09:30:00+04:30"

    with pytest.raises(NotAllowedError, match="yourself"):
        service.approve(row.id, actor="UP")
    with pytest.raises(NotAllowedError, match="not an approver"):
        service.approve(row.id, actor="U_STRANGER")
    assert service.approve(row.id, actor="UA").proposal.status is Status.PENDING
    with pytest.raises(NotAllowedError, match="already approved"):
        service.approve(row.id, actor="UA")
    done = service.approve(row.id, actor="UB")
    assert done.proposal.status is Status.APPROVED and done.approvals == ("UA", "UB")
    assert kinds(store, row.id) == ["proposed", "approved", "approved"]
    with pytest.raises(NotAllowedError, match="already approved"):
        service.approve(row.id, actor="UC")
    assert not verify(store).problems


def test_the_moved_window_is_clear_and_needs_one(store: SqlStore) -> None:
    row = make_service(store).propose(request(TUESDAY_14_PDT)).proposal
    assert not row.flagged and row.approvals_required == 1


def test_the_same_key_twice_is_one_proposal(store: SqlStore) -> None:
    service = make_service(store)
    first = service.propose(request())
    again = service.propose(request())
    assert not again.created and again.proposal.id == first.proposal.id
    assert store.count_proposals() == 1
    other = service.propose(request(key="k2"))
    assert other.created and other.proposal.id != first.proposal.id


def test_concurrent_proposals_with_one_key_make_one(store: SqlStore) -> None:
    service = make_service(store)
    results: list[int] = []
    barrier = threading.Barrier(6)

    def go() -> None:
        barrier.wait()
        results.append(service.propose(request(key="same")).proposal.id)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 6
    assert store.count_proposals() == 1


@pytest.mark.parametrize(
    ("start", "duration", "error", "match"),
    [
        (NOW - timedelta(minutes=1), timedelta(hours=1), WindowError, "past"),
        (MONDAY_22_PDT, timedelta(days=8), WindowError, "longer than"),
    ],
)
def test_bad_windows_change_nothing(
    store: SqlStore, start: datetime, duration: timedelta, error: type[Exception], match: str
) -> None:
    bad = ProposalRequest(
        idempotency_key="x", proposer="UP", title="t", start=start, duration=duration, input_tz="UTC"
    )
    with pytest.raises(error, match=match):
        make_service(store).propose(bad)
    assert store.count_proposals() == 0


@pytest.mark.parametrize(
    ("title", "match"),
    [("   ", "title is empty"), ("x" * 151, "most is 150"), ("\x00\x00", "title is empty")],
)
def test_bad_titles_change_nothing(store: SqlStore, title: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        make_service(store).propose(request(title=title))
    assert store.count_proposals() == 0


def test_reject_needs_a_reason_and_closes(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    with pytest.raises(InputError, match="reason is empty"):
        service.reject(row.id, actor="UA", reason=" ")
    with pytest.raises(NotAllowedError):
        service.reject(row.id, actor="U_STRANGER", reason="no")
    closed = service.reject(row.id, actor="UA", reason="election")
    assert closed.proposal.status is Status.REJECTED
    events = store.events(row.id)
    assert events[-1].kind == "rejected" and events[-1].reason == "election"
    with pytest.raises(NotAllowedError, match="already rejected"):
        service.cancel(row.id, actor="UP")


def test_postpone_reevaluates_resets_approvals_and_checks_the_version(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    service.approve(row.id, actor="UA")
    moved = service.postpone(
        row.id,
        actor="UB",
        start=TUESDAY_14_PDT,
        duration=timedelta(hours=1),
        reason="out of Tehran's day",
        expected_version=row.version,
    ).proposal
    assert not moved.flagged and moved.approvals_required == 1 and moved.round == 2
    assert store.approvers(moved.id, round=moved.round) == []
    last = store.events(row.id)[-1]
    assert last.kind == "postponed" and last.data["approvals_reset"] == 1
    assert last.data["from"]["start"] == "2009-06-16T05:00:00+00:00"
    assert last.data["to"]["start"] == "2009-06-16T21:00:00+00:00"
    with pytest.raises(ConflictError):
        service.postpone(
            row.id,
            actor="UB",
            start=MONDAY_22_PDT,
            duration=timedelta(hours=1),
            reason="x",
            expected_version=row.version,
        )
    assert (
        service.approve(row.id, actor="UA").proposal.status is Status.APPROVED
    )  # UA may approve the new window


def test_cancel_is_the_proposers_alone(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    with pytest.raises(NotAllowedError, match="only the proposer"):
        service.cancel(row.id, actor="UA")
    assert service.cancel(row.id, actor="UP").proposal.status is Status.CANCELLED


def test_unknown_proposals_are_not_found(store: SqlStore) -> None:
    service = make_service(store)
    for act in (lambda: service.approve(99, actor="UA"), lambda: service.reject(99, actor="UA", reason="r")):
        with pytest.raises(NotFoundError):
            act()


def test_racing_approvals_count_each_approver_once_and_approve_once(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    barrier = threading.Barrier(9)
    outcomes: list[str] = []

    def click(user: str) -> None:
        barrier.wait()
        try:
            outcomes.append(service.approve(row.id, actor=user).proposal.status.value)
        except NotAllowedError as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=click, args=(u,)) for u in ("UA", "UB", "UC") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    approvals = [e for e in store.events(row.id) if e.kind == "approved"]
    assert len(approvals) == 2  # the third approver finds the change already approved
    assert len({e.actor for e in approvals}) == 2
    assert sum(e.data["status_after"] == "approved" for e in approvals) == 1
    final = store.get_proposal(row.id)
    assert final is not None and final.status is Status.APPROVED
    assert not verify(store).problems


def test_every_change_is_written_with_its_outbox_messages(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    service.approve(row.id, actor="UA")
    claimed = store.claim_outbox(now=2**40, limit=50)
    assert [m.kind for m in claimed] == ["post_parent"]  # one at a time per proposal, oldest first
    assert store.outbox_stats(now=2**40)[0] == 4  # post_parent, proposed reply, approved reply, parent update


def test_a_window_that_has_ended_is_not_approved_but_can_be_postponed(store: SqlStore) -> None:
    row = make_service(store).propose(request()).proposal
    later = make_service(store, now=MONDAY_22_PDT + timedelta(hours=2))
    with pytest.raises(NotAllowedError, match="already ended"):
        later.approve(row.id, actor="UA")
    options = later.postpone_options(row)
    assert options and all(o.start >= MONDAY_22_PDT + timedelta(hours=2) for o in options)
    moved = later.postpone(
        row.id, actor="UP", start=options[0].start, duration=timedelta(hours=1), reason="missed"
    )
    assert later.approve(moved.proposal.id, actor="UA").approvals == ("UA",)
