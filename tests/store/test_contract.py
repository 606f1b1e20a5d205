"""The store contract (chatops/store/__init__.py), checked on every backend: each test runs on SQLite and on
PostgreSQL, each on a fresh database (see tests/dbs.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, update

from chatops.audit import verify_chain
from chatops.domain.policy import Status
from chatops.domain.records import EvaluationSnapshot, OutboxKind, Postponed, Reopened, WindowDoc
from chatops.store import (
    DuplicateKey,
    Encoded,
    NewProposal,
    Outcome,
    ProposalRow,
    ProposalSummary,
    canonical_json,
    event_hash,
)
from chatops.store.schema import events as events_table
from chatops.store.sql import SqlStore

T0 = 1_700_000_000
EVALUATION: dict[str, Any] = {
    "flagged": True,
    "regions": [{"name": "Tehran – Iran", "peak": [9, 17], "share": 0.25, "sensitive": None}],
    "note": "ünïcode & <b>",
    "nested": {"b": 1, "a": [True, False]},
}


def new(key: str | None = "k1", **overrides: Any) -> NewProposal:
    values: dict[str, Any] = {
        "idempotency_key": key,
        "title": "Upgrade core routers",
        "description": "swap line cards",
        "rollback_plan": "swap them back",
        "ticket_url": "https://tickets.example/CHG-1",
        "proposer": "U_PROPOSER",
        "channel": "C_CHANGES",
        "input_tz": "Asia/Tehran",
        "start_ts": T0 + 3600,
        "end_ts": T0 + 7200,
        "flagged": True,
        "approvals_required": 2,
        "evaluation": EVALUATION,
        "created_at": T0,
    }
    values.update(overrides)
    return NewProposal(**values)


def insert(store: SqlStore, key: str | None = "k1", **overrides: Any) -> ProposalRow:
    with store.transaction() as tx:
        return tx.insert_proposal(new(key, **overrides))


def chain_is_intact(store: SqlStore) -> bool:
    """Recompute every hash from the stored fields, as an auditor would (``chatops audit verify``)."""
    return not verify_chain(store.iter_events())


WINDOW = WindowDoc(start="2026-01-01T00:00:00+00:00", end="2026-01-01T01:00:00+00:00")


def ev(i: int = 1) -> Reopened:
    """Some event payload (``i`` tells them apart)."""
    return Reopened(round=i, required=1, window=WINDOW)


OUTBOX_KINDS = {
    "post": OutboxKind.POST_PARENT,
    "reply": OutboxKind.REPLY,
    "update": OutboxKind.UPDATE_PARENT,
    "sync": OutboxKind.SYNC_REMINDERS,
}


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Run ``target(i)`` in ``count`` threads started together; re-raise the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


# -- proposals -----------------------------------------------------------------------------------------------


def test_insert_then_get_round_trips_every_field(store: SqlStore) -> None:
    p = insert(store)
    assert p.id > 0
    assert (p.status, p.round, p.version, p.message_ts) == (Status.PENDING, 1, 1, None)
    assert p.created_at == p.updated_at == T0
    assert p.evaluation == EVALUATION
    assert p.flagged is True
    assert store.get_proposal(p.id) == p
    assert store.proposal_by_key("k1") == p


def test_unknown_proposals_are_none(store: SqlStore) -> None:
    assert store.get_proposal(12345) is None
    assert store.proposal_by_key("nope") is None
    with store.transaction() as tx:
        assert tx.lock_proposal(12345) is None


def test_duplicate_key_raises_and_the_transaction_stays_usable(store: SqlStore) -> None:
    first = insert(store)
    with store.transaction() as tx:
        with pytest.raises(DuplicateKey):
            tx.insert_proposal(new("k1", title="again"))
        # The clashing insert inserted nothing and failed nothing in the database: the transaction goes on.
        other = tx.insert_proposal(new("k2"))
        tx.append_event(other.id, ev(), actor="U_PROPOSER", at=T0)
    assert store.proposal_by_key("k1") == first
    assert store.proposal_by_key("k2") == other
    assert [e.seq for e in store.events(other.id)] == [1]
    assert store.count_proposals() == 2


def test_proposals_without_a_key_never_collide(store: SqlStore) -> None:
    a = insert(store, None)
    b = insert(store, None)
    assert a.id != b.id
    assert store.count_proposals() == 2


def test_an_exception_rolls_back_state_events_and_outbox_together(store: SqlStore) -> None:
    kept = insert(store, "kept")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        p = tx.insert_proposal(new("lost"))
        tx.append_event(p.id, ev(), actor="U1", at=T0)
        tx.enqueue(p.id, kind=OutboxKind.POST_PARENT, at=T0)
        tx.lock_proposal(kept.id)
        tx.update_proposal(kept.id, at=T0 + 1, status=Status.APPROVED)
        tx.add_approval(kept.id, round=1, approver="U2", at=T0 + 1)
        tx.append_event(kept.id, ev(), actor="U2", at=T0 + 1)
        raise Boom

    assert store.proposal_by_key("lost") is None
    assert store.count_proposals() == 1
    assert store.get_proposal(kept.id) == kept
    assert store.approvers(kept.id, round=1) == []
    assert list(store.iter_events()) == []
    assert store.outbox_stats(now=T0 + 10) == (0, 0)
    assert store.claim_outbox(now=T0 + 10) == []


@pytest.fixture(params=[True, False], ids=["returning", "read-back"])
def returning(request: pytest.FixtureRequest, store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> bool:
    """update_proposal with UPDATE … RETURNING (what SQLite 3.35+ and PostgreSQL have) and without it."""
    if request.param:
        assert store.engine.dialect.update_returning
    else:
        monkeypatch.setattr(store.engine.dialect, "update_returning", False)
    return bool(request.param)


@pytest.mark.usefixtures("returning")
def test_update_sets_fields_and_bumps_version(store: SqlStore) -> None:
    p = insert(store)
    with store.transaction() as tx:
        locked = tx.lock_proposal(p.id)
        assert locked == p
        updated = tx.update_proposal(
            p.id,
            at=T0 + 60,
            status=Status.APPROVED,
            start_ts=T0 + 10_000,
            end_ts=T0 + 12_000,
            flagged=False,
            round=2,
            evaluation={"flagged": False},
        )
    assert updated.version == 2
    assert updated.updated_at == T0 + 60
    assert (updated.status, updated.start_ts, updated.end_ts, updated.flagged, updated.round) == (
        Status.APPROVED,
        T0 + 10_000,
        T0 + 12_000,
        False,
        2,
    )
    assert updated.evaluation == {"flagged": False}
    assert updated.created_at == T0
    assert store.get_proposal(p.id) == updated


@pytest.mark.usefixtures("returning")
def test_update_refuses_unknown_columns_and_missing_proposals(store: SqlStore) -> None:
    p = insert(store)
    with store.transaction() as tx, pytest.raises(ValueError, match="version"):
        tx.update_proposal(p.id, at=T0, version=7)
    with store.transaction() as tx, pytest.raises(LookupError):
        tx.update_proposal(p.id + 100, at=T0, round=2)


def test_set_message_ts_does_not_bump_the_version(store: SqlStore) -> None:
    p = insert(store)
    store.set_message_ts(p.id, "1700000000.000100")
    got = store.get_proposal(p.id)
    assert got is not None
    assert got.message_ts == "1700000000.000100"
    assert got.version == 1


def test_list_proposals_filters_by_status_and_end_and_sorts_by_start(store: SqlStore) -> None:
    late = insert(store, "late", start_ts=T0 + 5000, end_ts=T0 + 6000)
    early = insert(store, "early", start_ts=T0 + 1000, end_ts=T0 + 2000)
    over = insert(store, "over", start_ts=T0 - 5000, end_ts=T0 - 4000)
    done = insert(store, "done", start_ts=T0 + 3000, end_ts=T0 + 4000)
    with store.transaction() as tx:
        done = tx.update_proposal(done.id, at=T0, status=Status.APPROVED)

    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert ids(store.list_proposals(statuses=[Status.PENDING])) == [over.id, early.id, late.id]
    assert ids(store.list_proposals(statuses=[Status.PENDING], end_after=T0)) == [early.id, late.id]
    assert ids(store.list_proposals(statuses=[Status.PENDING, Status.APPROVED], end_after=T0)) == [
        early.id,
        done.id,
        late.id,
    ]
    assert ids(store.list_proposals(statuses=[Status.PENDING], limit=2)) == [over.id, early.id]
    assert store.list_proposals(statuses=[Status.REJECTED]) == []
    assert store.list_proposals(statuses=[]) == []
    assert store.list_proposals(statuses=[Status.APPROVED]) == [done]


def test_summaries_are_the_listed_proposals_without_their_snapshots(store: SqlStore) -> None:
    """``list_summaries`` lists what ``list_proposals`` lists, in the same order, every field but the snapshot."""
    insert(store, "late", start_ts=T0 + 5000, end_ts=T0 + 6000, services=("dns", "edge"))
    insert(store, "early", start_ts=T0 + 1000, end_ts=T0 + 2000, flagged=False)
    insert(
        store,
        "over",
        start_ts=T0 - 5000,
        end_ts=T0 - 4000,
        emergency=True,
        incident_url="https://x.example/1",
    )
    tie = insert(store, "tie", start_ts=T0 + 1000, end_ts=T0 + 1500)
    with store.transaction() as tx:
        tx.update_proposal(tie.id, at=T0 + 9, status=Status.APPROVED, message_ts="1700000000.000200")
    summary_fields = set(ProposalSummary.model_fields)
    assert summary_fields == set(ProposalRow.model_fields) - {"evaluation_json"}
    for statuses, end_after, limit in (
        ([Status.PENDING], None, 100),
        ([Status.PENDING, Status.APPROVED], T0, 100),
        ([Status.PENDING, Status.APPROVED], None, 2),
        ([Status.REJECTED], None, 100),
        ([], None, 100),
    ):
        full = store.list_proposals(statuses=statuses, end_after=end_after, limit=limit)
        slim = store.list_summaries(statuses=statuses, end_after=end_after, limit=limit)
        assert all(type(s) is ProposalSummary for s in slim)
        assert slim == [ProposalSummary(**row.model_dump(include=summary_fields)) for row in full]
    assert len(store.list_summaries(statuses=list(Status))) == 4


def test_count_proposals_and_ping(store: SqlStore) -> None:
    assert store.count_proposals() == 0
    insert(store, "a")
    insert(store, "b")
    assert store.count_proposals() == 2
    store.ping()


# -- approvals -----------------------------------------------------------------------------------------------


def test_approvals_are_deduplicated_per_round_and_kept_in_order(store: SqlStore) -> None:
    p = insert(store)
    with store.transaction() as tx:
        assert tx.add_approval(p.id, round=1, approver="U_B", at=T0 + 20) is True
        assert tx.add_approval(p.id, round=1, approver="U_A", at=T0 + 10) is True
        assert tx.add_approval(p.id, round=1, approver="U_C", at=T0 + 20) is True
        assert tx.add_approval(p.id, round=1, approver="U_B", at=T0 + 30) is False
        assert tx.approvers(p.id, round=1) == ["U_A", "U_B", "U_C"]
    with store.transaction() as tx:
        assert tx.add_approval(p.id, round=1, approver="U_A", at=T0 + 40) is False
        assert tx.add_approval(p.id, round=2, approver="U_A", at=T0 + 50) is True
    assert store.approvers(p.id, round=1) == ["U_A", "U_B", "U_C"]
    assert store.approvers(p.id, round=2) == ["U_A"]
    assert store.approvers(p.id, round=3) == []


# -- audit events --------------------------------------------------------------------------------------------


def test_events_are_numbered_per_change_and_chained_globally(store: SqlStore) -> None:
    a = insert(store, "a")
    b = insert(store, "b")
    with store.transaction() as tx:
        e1 = tx.append_event(a.id, ev(1), actor="U1", at=T0, actor_name="Ann Example")
        f1 = tx.append_event(b.id, ev(2), actor="U2", at=T0 + 1)
    with store.transaction() as tx:
        e2 = tx.append_event(a.id, ev(3), actor="U3", at=T0 + 2, reason="looks fine")
        e3 = tx.append_event(a.id, ev(4), actor="U1", at=T0 + 3, reason="späť")

    assert [e.seq for e in (e1, e2, e3)] == [1, 2, 3]
    assert f1.seq == 1
    assert [e.gseq for e in (e1, f1, e2, e3)] == [1, 2, 3, 4]
    assert e1.prev_hash == ""
    assert f1.prev_hash == e1.hash and e2.prev_hash == f1.hash and e3.prev_hash == e2.hash
    assert e1.hash == event_hash(
        prev_hash="",
        gseq=1,
        proposal_id=a.id,
        seq=1,
        kind="reopened",
        actor="U1",
        actor_name="Ann Example",
        at=T0,
        reason="",
        data={"round": 1, "required": 1, "window": WINDOW.model_dump()},
    )
    stored = store.events(a.id)
    assert stored == [e1, e2, e3]
    assert stored[0].actor_name == "Ann Example" and stored[0].payload == ev(1)
    assert store.event(f1.id) == f1
    assert chain_is_intact(store)


SNAPSHOT: dict[str, Any] = {
    "window": WINDOW.model_dump(),
    "flagged": True,
    "regions": [
        {
            "id": "ir",
            "name": "Tehran – Iran",
            "timezone": "Asia/Tehran",
            "local_start": "2026-01-01T03:30:00+03:30",
            "local_end": "2026-01-01T04:30:00+03:30",
            "sensitive": True,
            "peak_overlap_minutes": 60,
            "sensitive_peak_minutes": 60,
            "flagged": True,
            "reasons": ["election (2026-01-01 – 2026-01-02)"],
            "peak_hours": ["00:00-24:00"],
        }
    ],
    "suggestions": [{"start": "2026-01-01T22:00:00+00:00", "end": "2026-01-01T23:00:00+00:00"}],
    "tzdata": {"source": "package", "version": "2026a"},
}


def test_an_event_given_its_evaluation_encoded_stores_the_same_document(store: SqlStore) -> None:
    # A proposal's snapshot is encoded once for its row and its event: the event's data is the same text, hash
    # and all, as when the store dumps and encodes the payload itself.
    payload = Postponed.model_validate(
        {
            "from": WINDOW,
            "to": WINDOW,
            "approvals_reset": 1,
            "round": 2,
            "required": 2,
            "evaluation": EvaluationSnapshot.model_validate(SNAPSHOT),
        }
    )
    a, b = insert(store, "a"), insert(store, "b")
    snapshot = Encoded.of(SNAPSHOT)
    with store.transaction() as tx:
        plain = tx.append_event(a.id, payload, actor="U1", at=T0)
        given = tx.append_event(b.id, payload, actor="U1", at=T0, evaluation=snapshot)
        row = tx.update_proposal(b.id, at=T0, evaluation=snapshot)
    assert given.data == plain.data and given.data["evaluation"] == SNAPSHOT
    stored = store.events(b.id)
    assert stored == [given] and stored[0].payload == payload
    assert canonical_json(stored[0].data) == canonical_json(store.events(a.id)[0].data)
    # Read back, an event holds the stored text as written, and its payload typed from it is the one given.
    assert stored[0].data_json == given.data_json == canonical_json(given.data)
    assert store.event(given.id) == given and store.event(given.id).payload == payload  # type: ignore[union-attr]
    assert row.evaluation_json == snapshot.text and store.get_proposal(b.id) == row
    assert chain_is_intact(store)
    with pytest.raises(TypeError), store.transaction() as tx:  # a kind without an evaluation: nothing written
        tx.append_event(a.id, ev(), actor="U1", at=T0 + 1, evaluation=snapshot)
    assert len(store.events(a.id)) == 1


def test_events_about_no_change_join_the_same_chain(store: SqlStore) -> None:
    a = insert(store, "a")
    with store.transaction() as tx:
        e1 = tx.append_event(a.id, ev(), actor="U1", at=T0)
    period = store.declare_sensitive(
        region_id="ir",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 1, 2),
        reason="x",
        actor="UA",
        at=T0 + 1,
    )
    store.lift_sensitive(period.id, actor="UA", at=T0 + 2)
    chain = list(store.iter_events())
    assert [(e.proposal_id, e.seq, e.kind) for e in chain] == [
        (a.id, 1, "reopened"),
        (None, 1, "sensitive_declared"),
        (None, 2, "sensitive_lifted"),
    ]
    assert chain[1].prev_hash == e1.hash and chain[2].prev_hash == chain[1].hash
    assert chain_is_intact(store)


def test_tampering_with_a_stored_event_breaks_the_chain(store: SqlStore) -> None:
    p = insert(store)
    with store.transaction() as tx:
        for i in range(3):
            tx.append_event(p.id, ev(i), actor="U1", at=T0 + i)
    assert chain_is_intact(store)
    with store.engine.begin() as conn:
        conn.execute(
            update(events_table)
            .where(events_table.c.proposal_id == p.id, events_table.c.seq == 2)
            .values(data=canonical_json({"round": 99, "required": 1, "window": WINDOW.model_dump()}))
        )
    assert not chain_is_intact(store)


def test_iter_events_streams_everything_in_chain_order(store: SqlStore) -> None:
    a = insert(store, "a")
    b = insert(store, "b")
    with store.transaction() as tx:
        tx.append_event(b.id, ev(), actor="U", at=T0)
        tx.append_event(a.id, ev(), actor="U", at=T0 + 1)
        tx.append_event(b.id, ev(), actor="U", at=T0 + 2)
        tx.append_event(a.id, ev(), actor="U", at=T0 + 3)
    assert [(e.proposal_id, e.seq) for e in store.iter_events()] == [
        (b.id, 1),
        (a.id, 1),
        (b.id, 2),
        (a.id, 2),
    ]
    assert [(e.proposal_id, e.seq) for e in store.iter_events(since=T0 + 2)] == [(b.id, 2), (a.id, 2)]


def test_iter_events_handles_more_rows_than_one_batch(store: SqlStore) -> None:
    p = insert(store)
    with store.transaction() as tx:
        for i in range(1203):
            tx.append_event(p.id, ev(), actor="U", at=T0 + i)
    seqs = [e.seq for e in store.iter_events()]
    assert seqs == list(range(1, 1204))


# -- outbox --------------------------------------------------------------------------------------------------


def enqueue(store: SqlStore, proposal_id: int, kind: str, *, at: int = T0) -> int:
    with store.transaction() as tx:
        return tx.enqueue(
            proposal_id, kind=OUTBOX_KINDS[kind], at=at, event_id=7 if kind == "reply" else None
        )


def claimed(store: SqlStore, now: int, **kwargs: Any) -> list[int]:
    return [m.id for m in store.claim_outbox(now=now, **kwargs)]


def test_claim_hands_out_only_each_proposals_oldest_message_in_id_order(store: SqlStore) -> None:
    a = insert(store, "a")
    b = insert(store, "b")
    a1 = enqueue(store, a.id, "post")
    b1 = enqueue(store, b.id, "post")
    a2 = enqueue(store, a.id, "reply")

    first = store.claim_outbox(now=T0, lease_seconds=60)
    assert [m.id for m in first] == [a1, b1]
    assert first[0].kind is OutboxKind.POST_PARENT and first[0].payload == {}
    assert (first[0].attempts, first[0].delivered_at, first[0].last_error) == (0, None, None)
    # a2 waits for a1, even though a1 is only leased.
    assert claimed(store, T0 + 1) == []

    store.mark_delivered(a1, at=T0 + 2)
    assert claimed(store, T0 + 3) == [a2]
    store.mark_delivered(a2, at=T0 + 4)
    store.mark_delivered(b1, at=T0 + 4)
    assert claimed(store, T0 + 1000) == []


def test_a_claim_may_leave_one_kind_and_what_it_holds_back_for_another(store: SqlStore) -> None:
    a = insert(store, "a")
    b = insert(store, "b")
    a1 = enqueue(store, a.id, "sync")
    b1 = enqueue(store, b.id, "reply")
    a2 = enqueue(store, a.id, "reply")  # after a1: held back while a1 waits
    assert claimed(store, T0, except_kind="sync_reminders") == [b1]
    assert claimed(store, T0, except_kind="sync_reminders") == []  # b1 leased; a1 left, a2 behind it
    assert claimed(store, T0) == [a1]
    store.mark_delivered(a1, at=T0 + 1)
    assert claimed(store, T0 + 1, except_kind="sync_reminders") == [a2]


def test_a_claim_records_the_message_in_hand_first(store: SqlStore) -> None:
    a = insert(store, "a")
    a1 = enqueue(store, a.id, "post")
    a2 = enqueue(store, a.id, "reply")
    [first] = store.claim_outbox(now=T0, limit=1)
    assert first.id == a1
    # One transaction: a1 delivered (its parent's ts stored), then a2, which a1 held back, handed out.
    delivered = Outcome(message_id=a1, delivered_at=T0 + 1, message_ts="1700000000.000100")
    assert [m.id for m in store.claim_outbox(now=T0 + 1, limit=1, first=delivered)] == [a2]
    row = store.get_proposal(a.id)
    assert row is not None and row.message_ts == "1700000000.000100"
    # A retry recorded with a claim that finds nothing: counted, due again later, and the lease is gone.
    retry = Outcome(message_id=a2, error="timeout", retry_at=T0 + 50)
    assert store.claim_outbox(now=T0 + 2, limit=1, first=retry) == []
    [again] = store.claim_outbox(now=T0 + 50, limit=1)
    assert (again.id, again.attempts, again.last_error, again.claimed_before) == (a2, 1, "timeout", True)
    store.record(Outcome(message_id=a2, error="gone", abandoned_at=T0 + 51))
    assert store.outbox_stats(now=T0 + 52)[0] == 0
    # Recording a message that does not exist fails the claim with it: nothing is handed out.
    b = insert(store, "b")
    b1 = enqueue(store, b.id, "post")
    with pytest.raises(LookupError):
        store.claim_outbox(now=T0 + 60, first=Outcome(message_id=999, delivered_at=T0 + 60))
    assert claimed(store, T0 + 60) == [b1]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"delivered_at": 1, "retry_at": 2, "error": "x"},
        {"delivered_at": 1, "error": "x"},
        {"retry_at": 2},
        {"retry_at": 2, "error": "x", "message_ts": "1.2"},
        {"abandoned_at": 2},
    ],
)
def test_an_outcome_is_exactly_one_of_delivered_retry_abandoned(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"outcome|message_ts"):
        Outcome(message_id=1, **fields)


def test_a_lease_hides_a_message_until_it_expires(store: SqlStore) -> None:
    p = insert(store)
    m = enqueue(store, p.id, "post")
    assert claimed(store, T0, lease_seconds=30) == [m]
    assert claimed(store, T0 + 29) == []
    # The worker died: after the lease the message is handed out again.
    assert claimed(store, T0 + 30, lease_seconds=30) == [m]


def test_messages_are_not_due_before_their_time(store: SqlStore) -> None:
    p = insert(store)
    m = enqueue(store, p.id, "post", at=T0 + 100)
    assert claimed(store, T0 + 99) == []
    assert claimed(store, T0 + 100) == [m]


def test_a_claim_takes_the_messages_queued_after_one_of_its_change_that_can_go_with_it(
    store: SqlStore,
) -> None:
    """``follow``: with the oldest deliverable message, the unbroken run after it of its change's pending
    messages that are due, unleased and not of the kind left out, in order; nothing of another change."""
    a = insert(store, "a")
    b = insert(store, "b")
    a1 = enqueue(store, a.id, "update")
    a2 = enqueue(store, a.id, "reply")
    b1 = enqueue(store, b.id, "post")
    a3 = enqueue(store, a.id, "sync")
    a4 = enqueue(store, a.id, "reply", at=T0 + 60)  # not due yet: it stops the run
    a5 = enqueue(store, a.id, "reply")
    got = store.claim_outbox(now=T0, limit=1, follow=5)
    assert [m.id for m in got] == [a1, a2, a3]
    assert all(m.proposal is not None and m.proposal.id == a.id for m in got)
    assert claimed(store, T0, limit=5, follow=5) == [b1]  # a's are leased, a4 and a5 behind them
    store.record(*(Outcome(message_id=m, delivered_at=T0 + 1) for m in (a1, a2, a3, b1)))
    assert claimed(store, T0 + 1, limit=1, follow=5) == []  # a4 is not due, and a5 waits behind it
    a6 = enqueue(store, a.id, "sync")
    a7 = enqueue(store, a.id, "reply")
    # A kind left out stops the run before it.
    assert claimed(store, T0 + 60, limit=1, follow=5, except_kind="sync_reminders") == [a4, a5]
    store.record(*(Outcome(message_id=m, delivered_at=T0 + 61) for m in (a4, a5)))
    assert claimed(store, T0 + 61, limit=1, follow=1) == [a6, a7]  # at most ``follow`` more


def test_messages_given_back_untried_are_due_at_once_with_no_attempt_counted(store: SqlStore) -> None:
    a = insert(store, "a")
    a1 = enqueue(store, a.id, "update")
    a2 = enqueue(store, a.id, "reply")
    a3 = enqueue(store, a.id, "sync")
    got = store.claim_outbox(now=T0, limit=1, follow=5, lease_seconds=60)
    assert [(m.id, m.leased_until) for m in got] == [(a1, T0 + 60), (a2, T0 + 60), (a3, T0 + 60)]
    # a1 failed: a2 and a3 were not tried. Recorded with the next claim, which finds nothing (a1 waits).
    failed = Outcome(message_id=a1, error="timeout", retry_at=T0 + 30)
    assert store.claim_outbox(now=T0 + 1, limit=1, follow=5, first=[failed], release=got[1:]) == []
    again = store.claim_outbox(now=T0 + 30, limit=1, follow=5)
    assert [(m.id, m.attempts, m.claimed_before) for m in again] == [
        (a1, 1, True),
        (a2, 0, False),
        (a3, 0, False),
    ]
    # record() gives leases back too, in the same transaction as the outcomes.
    store.record(Outcome(message_id=a1, delivered_at=T0 + 31), release=again[1:])
    assert claimed(store, T0 + 31, limit=1, follow=5) == [a2, a3]


def test_a_lease_taken_again_since_is_not_given_back(store: SqlStore) -> None:
    """A worker slower than its lease: another claim has taken the message since; giving back the first lease
    must not free it under the second (a third claim would then send it without looking in Slack first)."""
    a = insert(store, "a")
    a1 = enqueue(store, a.id, "update")
    a2 = enqueue(store, a.id, "reply")
    slow = store.claim_outbox(now=T0, limit=1, follow=5, lease_seconds=60)
    retaken = store.claim_outbox(now=T0 + 61, limit=1, follow=5, lease_seconds=60)  # both leases ran out
    assert [m.id for m in retaken] == [a1, a2] and all(m.claimed_before for m in retaken)
    store.record(Outcome(message_id=a1, delivered_at=T0 + 62), release=slow[1:])  # the slow one's late word
    assert claimed(store, T0 + 62, limit=1, follow=5) == []  # a2 is still the second claim's
    store.record(Outcome(message_id=a2, delivered_at=T0 + 63))
    assert store.outbox_stats(now=T0 + 63)[0] == 0


def test_claim_respects_the_limit(store: SqlStore) -> None:
    ids = [enqueue(store, insert(store, f"k{i}").id, "post") for i in range(5)]
    assert claimed(store, T0, limit=2) == ids[:2]
    assert claimed(store, T0, limit=10) == ids[2:]


def test_mark_failed_counts_the_attempt_and_retries_at_the_given_time(store: SqlStore) -> None:
    p = insert(store)
    m1 = enqueue(store, p.id, "post")
    m2 = enqueue(store, p.id, "reply")
    assert claimed(store, T0) == [m1]
    store.mark_failed(m1, error="ratelimited", retry_at=T0 + 50)
    # Not due yet (and the lease is gone); the later message stays behind it.
    assert claimed(store, T0 + 49) == []
    again = store.claim_outbox(now=T0 + 50)
    assert [m.id for m in again] == [m1]
    assert (again[0].attempts, again[0].last_error, again[0].next_attempt_at) == (1, "ratelimited", T0 + 50)
    store.mark_failed(m1, error="timeout", retry_at=T0 + 60)
    assert store.claim_outbox(now=T0 + 60)[0].attempts == 2
    store.mark_delivered(m1, at=T0 + 61)
    assert claimed(store, T0 + 61) == [m2]


def test_an_abandoned_message_unblocks_the_next_and_is_never_claimed_again(store: SqlStore) -> None:
    p = insert(store)
    m1 = enqueue(store, p.id, "post")
    m2 = enqueue(store, p.id, "reply")
    assert claimed(store, T0) == [m1]
    store.mark_abandoned(m1, error="channel_not_found", at=T0 + 5)
    assert claimed(store, T0 + 5) == [m2]
    store.mark_delivered(m2, at=T0 + 6)
    assert claimed(store, T0 + 100_000) == []
    assert store.outbox_stats(now=T0 + 100_000) == (0, 0)


def test_a_claimed_message_comes_with_its_proposal_as_stored(store: SqlStore) -> None:
    a = insert(store, "a")
    b = insert(store, "b", title="other")
    enqueue(store, a.id, "post")
    enqueue(store, b.id, "post")
    store.set_message_ts(b.id, "1700000000.000200")
    messages = store.claim_outbox(now=T0)
    assert [(m.proposal_id, m.proposal) for m in messages] == [
        (a.id, store.get_proposal(a.id)),
        (b.id, store.get_proposal(b.id)),
    ]
    assert messages[1].proposal is not None and messages[1].proposal.message_ts == "1700000000.000200"


def test_the_parent_message_can_be_stored_with_the_delivery_mark(store: SqlStore) -> None:
    p = insert(store)
    m = enqueue(store, p.id, "post")
    assert claimed(store, T0) == [m]
    store.mark_delivered(m, at=T0 + 1, message_ts="1700000000.000100")
    row = store.get_proposal(p.id)
    assert row is not None and (row.message_ts, row.version) == ("1700000000.000100", p.version)
    assert store.outbox_stats(now=T0 + 2) == (0, 0)


def count_begins(store: SqlStore) -> list[int]:
    """A one-item list counting the transactions the store begins from now on."""
    begun = [0]

    def on_begin(conn: object) -> None:
        begun[0] += 1

    event.listen(store.engine, "begin", on_begin)
    return begun


def test_reads_inside_reading_share_one_transaction(store: SqlStore) -> None:
    p = insert(store)
    begun = count_begins(store)
    with store.reading():
        assert store.get_proposal(p.id) == p
        with store.reading():  # nested: joins the outer one
            assert store.approvers(p.id, round=1) == []
        assert store.count_proposals() == 1
    assert begun == [1]
    store.get_proposal(p.id)
    store.approvers(p.id, round=1)
    assert begun == [3]  # outside, each read is a transaction of its own


def test_no_write_transaction_inside_reading(store: SqlStore) -> None:
    p = insert(store)
    with store.reading(), pytest.raises(RuntimeError), store.transaction() as tx:
        tx.lock_proposal(p.id)
    # The block is over: writes and reads work again.
    with store.transaction() as tx:
        tx.add_approval(p.id, round=1, approver="UA", at=T0)
    assert store.approvers(p.id, round=1) == ["UA"]


def test_marking_an_unknown_message_raises(store: SqlStore) -> None:
    with pytest.raises(LookupError):
        store.mark_delivered(999, at=T0)
    with pytest.raises(LookupError):
        store.mark_failed(999, error="x", retry_at=T0)
    with pytest.raises(LookupError):
        store.mark_abandoned(999, error="x", at=T0)


def test_outbox_stats_count_what_is_neither_delivered_nor_abandoned(store: SqlStore) -> None:
    assert store.outbox_stats(now=T0) == (0, 0)
    a = insert(store, "a")
    b = insert(store, "b")
    m1 = enqueue(store, a.id, "post", at=T0)
    enqueue(store, a.id, "reply", at=T0 + 10)
    m3 = enqueue(store, b.id, "post", at=T0 + 20)
    assert store.outbox_stats(now=T0 + 100) == (3, 100)
    store.mark_delivered(m1, at=T0 + 30)
    assert store.outbox_stats(now=T0 + 100) == (2, 90)
    store.mark_abandoned(m3, error="gone", at=T0 + 40)
    assert store.outbox_stats(now=T0 + 100) == (1, 90)
    # A clock behind the oldest message never reports a negative age.
    assert store.outbox_stats(now=T0) == (1, 0)


def test_has_undelivered_asks_about_one_proposal_and_one_kind(store: SqlStore) -> None:
    a = insert(store, "a")
    b = insert(store, "b")
    assert not store.has_undelivered(a.id, kind="sync_reminders")
    sync = enqueue(store, a.id, "sync", at=T0)
    enqueue(store, b.id, "reply", at=T0)
    assert store.has_undelivered(a.id, kind="sync_reminders")
    assert not store.has_undelivered(a.id, kind="reply") and not store.has_undelivered(
        b.id, kind="sync_reminders"
    )
    [claimed] = store.claim_outbox(now=T0, limit=1)  # in hand: still undelivered
    assert claimed.id == sync and store.has_undelivered(a.id, kind="sync_reminders")
    store.mark_failed(sync, error="Slack down", retry_at=T0 + 60)  # waiting for a retry: still undelivered
    assert store.has_undelivered(a.id, kind="sync_reminders")
    store.mark_delivered(sync, at=T0 + 60)
    assert not store.has_undelivered(a.id, kind="sync_reminders")
    again = enqueue(store, a.id, "sync", at=T0 + 70)
    store.mark_abandoned(again, error="gave up", at=T0 + 80)
    assert not store.has_undelivered(a.id, kind="sync_reminders")


# -- concurrency ---------------------------------------------------------------------------------------------


def test_concurrent_transactions_on_one_proposal_lose_no_update(store: SqlStore) -> None:
    p = insert(store, approvals_required=0)
    n = 8

    def approve(i: int) -> None:
        with store.transaction() as tx:
            row = tx.lock_proposal(p.id)
            assert row is not None
            assert tx.add_approval(p.id, round=1, approver=f"U{i}", at=T0 + i)
            tx.update_proposal(p.id, at=T0 + i, approvals_required=row.approvals_required + 1)
            tx.append_event(p.id, ev(), actor=f"U{i}", at=T0 + i)
            tx.enqueue(p.id, kind=OutboxKind.REPLY, at=T0 + i)

    run_threads(n, approve)

    final = store.get_proposal(p.id)
    assert final is not None
    assert final.approvals_required == n
    assert final.version == 1 + n
    assert sorted(store.approvers(p.id, round=1)) == sorted(f"U{i}" for i in range(n))
    chain = store.events(p.id)
    assert [e.seq for e in chain] == list(range(1, n + 1))
    assert chain_is_intact(store)
    assert store.outbox_stats(now=T0 + n)[0] == n


def test_two_instances_never_claim_the_same_message(store: SqlStore, db_url: str) -> None:
    proposals = [insert(store, f"k{i}") for i in range(20)]
    expected: set[int] = set()
    for p in proposals:
        for kind in ("post", "reply", "update"):
            expected.add(enqueue(store, p.id, kind))

    other = SqlStore.open(db_url)  # a second app instance on the same database
    claims: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        instance = store if i % 2 == 0 else other
        idle = 0
        while idle < 50:
            batch = instance.claim_outbox(now=T0, limit=3, lease_seconds=3600)
            if not batch:
                with lock:
                    if len(claims) == len(expected):
                        return
                idle += 1
                threading.Event().wait(0.01)
                continue
            idle = 0
            with lock:
                claims.extend(m.id for m in batch)
            for m in batch:
                instance.mark_delivered(m.id, at=T0)

    try:
        run_threads(8, work)
    finally:
        other.close()

    assert len(claims) == len(set(claims)), "a message was claimed twice"
    assert set(claims) == expected
    assert store.outbox_stats(now=T0) == (0, 0)


def test_reminders_are_saved_replaced_refreshed_and_dropped(store: SqlStore) -> None:
    row = insert(store)
    other = insert(store, key="k2")
    kwargs: dict[str, Any] = {"channel": "C_CHANGES", "scheduled_message_id": "Q1", "scheduled_at": T0}
    first = store.save_reminder(row.id, kind="start", post_at=T0 + 3600, **kwargs)
    store.save_reminder(row.id, kind="before", post_at=T0 + 2700, **kwargs | {"scheduled_message_id": "Q2"})
    store.save_reminder(other.id, kind="end", post_at=T0 + 9000, **kwargs | {"scheduled_message_id": None})
    assert [r.kind for r in store.reminders(row.id)] == ["before", "start"]  # by post_at
    assert [r.proposal_id for r in store.reminders()] == [row.id, row.id, other.id]
    store.mark_reminder_refreshed(first.id, at=T0 + 3600)
    assert store.reminders(row.id)[1].refreshed_at == T0 + 3600
    # One reminder of a kind per change: saving it again replaces it (and forgets the refresh).
    again = store.save_reminder(
        row.id,
        kind="start",
        post_at=T0 + 7200,
        channel="C_CHANGES",
        scheduled_message_id="Q3",
        scheduled_at=T0 + 5,
    )
    assert again.id == first.id and again.scheduled_message_id == "Q3" and again.refreshed_at is None
    assert len(store.reminders(row.id)) == 2
    assert sorted(store.scheduled_since("C_CHANGES", since=T0)) == [T0, T0, T0 + 5]
    assert store.scheduled_since("C_CHANGES", since=T0 + 1) == [T0 + 5]
    assert store.scheduled_since("C_OTHER", since=0) == []
    store.drop_reminder(again.id)
    assert [r.kind for r in store.reminders(row.id)] == ["before"]


def test_approvals_at_says_who_approved_when(store: SqlStore) -> None:
    row = insert(store)
    with store.transaction() as tx:
        tx.add_approval(row.id, round=1, approver="U_B", at=T0 + 20)
        tx.add_approval(row.id, round=1, approver="U_A", at=T0 + 10)
        tx.add_approval(row.id, round=2, approver="U_C", at=T0 + 30)
    assert store.approvals_at(row.id, round=1) == [("U_A", T0 + 10), ("U_B", T0 + 20)]
    assert store.approvals_at(row.id, round=2) == [("U_C", T0 + 30)]


# -- services and the overlap query ---------------------------------------------------------------------------

OPEN = (Status.PENDING, Status.NEEDS_REAPPROVAL, Status.APPROVED)


def test_services_and_emergency_fields_round_trip(store: SqlStore) -> None:
    row = insert(store, services=("api", "db"), emergency=True, incident_url="https://inc.example/1")
    assert (row.services, row.emergency, row.incident_url, row.reviewed_by) == (
        ("api", "db"),
        True,
        "https://inc.example/1",
        None,
    )
    assert row.review_open
    with store.transaction() as tx:
        changed = tx.update_proposal(
            row.id, at=T0 + 5, services=("db",), reviewed_by="U_A", reviewed_at=T0 + 5
        )
    assert (changed.services, changed.reviewed_by, changed.reviewed_at, changed.review_open) == (
        ("db",),
        "U_A",
        T0 + 5,
        False,
    )
    assert store.get_proposal(row.id) == changed
    plain = insert(store, "k2")
    assert (plain.services, plain.emergency, plain.incident_url) == ((), False, "")


def test_a_proposal_may_start_in_another_status(store: SqlStore) -> None:
    assert insert(store, status=Status.APPROVED).status is Status.APPROVED


@pytest.mark.parametrize(
    ("start", "end", "services", "expected"),
    [
        (T0 + 3600, T0 + 7200, ("api",), ["a", "ad"]),  # the same window
        (T0 + 7100, T0 + 9000, ("db",), ["ad"]),  # its last 100 s
        (T0 + 7200, T0 + 9000, ("api", "db"), []),  # back to back
        (T0, T0 + 3600, ("api",), []),  # ends as they start
        (T0, T0 + 3601, ("api", "cache"), ["a", "ad"]),  # one second in
        (T0 + 3600, T0 + 7200, ("cache",), []),  # no shared service
        (T0 + 3600, T0 + 7200, (), []),  # names none
    ],
)
def test_the_overlap_query_finds_open_windows_sharing_a_service(
    store: SqlStore, start: int, end: int, services: tuple[str, ...], expected: list[str]
) -> None:
    insert(store, "a", services=("api",))
    insert(store, "ad", services=("db", "api"))
    insert(store, "none")  # names no service
    closed = insert(store, "closed", services=("api", "db"))
    with store.transaction() as tx:
        tx.update_proposal(closed.id, at=T0, status=Status.CANCELLED)
    found = store.overlapping(start_ts=start, end_ts=end, services=services, statuses=OPEN)
    assert [r.idempotency_key for r in found] == expected
    with store.transaction() as tx:
        inside = tx.overlapping(start_ts=start, end_ts=end, services=services, statuses=OPEN)
    assert [r.idempotency_key for r in inside] == expected


def test_the_overlap_query_leaves_out_the_change_asked_about(store: SqlStore) -> None:
    mine = insert(store, "a", services=("api",))
    insert(store, "b", services=("api",), start_ts=T0 + 5000, end_ts=T0 + 9000)
    found = store.overlapping(
        start_ts=mine.start_ts, end_ts=mine.end_ts, services=mine.services, statuses=OPEN, exclude=mine.id
    )
    assert [r.idempotency_key for r in found] == ["b"]
    assert (
        store.overlapping(start_ts=T0, end_ts=T0 + 10**6, services=("api",), statuses=OPEN, limit=1)[0]
        == mine
    )
