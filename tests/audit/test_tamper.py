"""The tamper suite: a real run's database altered in each way a database administrator could, on SQLite and on
PostgreSQL; ``chatops audit verify`` must exit 1 naming the change and the problem every time, and 0 untouched."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from chatops.cli import main
from chatops.config import parse_regions
from chatops.domain.policy import Status
from chatops.service import ProposalRequest, Service
from chatops.store import canonical_json, event_hash
from chatops.store.schema import approvals, checkpoints, events, outbox, proposals, sensitive_periods
from chatops.store.sql import SqlStore

KEY = "audit key for tests, never in the database"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    "[policy]\napprovals_required = 1\nflagged_approvals_required = 2\n"
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n',
    source="test",
)


@dataclass(frozen=True)
class Run:
    approved: int  # approved, re-approval after a declaration, approved again
    rejected: int
    postponed: int  # postponed, approved, then needs re-approval
    cancelled: int
    flagged: int  # proposed while flagged, one of two approvals
    period: int


def real_run(store: SqlStore) -> Run:
    service = Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA", "UB"}),
        admins=lambda: frozenset({"UADMIN"}),
        clock=lambda: NOW,
        display_name=lambda user: {"UA": "Ana Approver", "UP": "Pat Proposer"}.get(user),
    )

    def propose(title: str, days: int) -> int:
        request = ProposalRequest(
            idempotency_key=f"k-{title}",
            proposer="UP",
            title=title,
            start=NOW.replace(hour=6) + timedelta(days=days),
            duration=timedelta(hours=1),
            input_tz="America/Los_Angeles",
            description=f"{title}: the work",
            rollback_plan="undo it",
            ticket_url="https://tickets.example/1",
        )
        return service.propose(request).proposal.id

    approved, rejected, postponed, cancelled = (
        propose("Core upgrade", 2),
        propose("DNS move", 3),
        propose("Firewall rules", 4),
        propose("Storage firmware", 5),
    )
    service.approve(approved, actor="UA")
    service.reject(rejected, actor="UA", reason="clashes with the freeze")
    service.postpone(
        postponed,
        actor="UP",
        start=NOW.replace(hour=7) + timedelta(days=6),
        duration=timedelta(hours=2),
        reason="team away",
    )
    service.approve(postponed, actor="UB")
    service.cancel(cancelled, actor="UP", reason="not needed")
    period = service.declare_sensitive(
        actor="UADMIN", region_id="ir", start=date(2026, 11, 26), end=date(2026, 12, 10), reason="Elections"
    )
    service.approve(approved, actor="UB")
    flagged = propose("Backup move", 8)
    service.approve(flagged, actor="UA")
    row = store.get_proposal(approved)
    assert row is not None and row.status is Status.APPROVED
    row = store.get_proposal(postponed)
    assert row is not None and row.status is Status.NEEDS_REAPPROVAL
    return Run(approved, rejected, postponed, cancelled, flagged, period.id)


def verify(db_url: str, *extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", "verify", "--database-url", db_url, *extra], out=out, err=err)
    assert not err.getvalue()
    return code, out.getvalue()


def last_gseq(conn: Connection, proposal_id: int | None = None) -> int:
    stmt = select(events.c.gseq).order_by(events.c.gseq.desc()).limit(1)
    if proposal_id is not None:
        stmt = stmt.where(events.c.proposal_id == proposal_id)
    return int(conn.scalar(stmt) or 0)


def event_of(conn: Connection, proposal_id: int, seq: int) -> int:
    return int(
        conn.scalar(select(events.c.gseq).where(events.c.proposal_id == proposal_id, events.c.seq == seq))
        or 0
    )


def rewrite_and_rehash(conn: Connection, gseq: int, **changes: object) -> None:
    """Change an event and recompute its hash, and every later one's, with the project's own function."""
    rows = conn.execute(select(events).where(events.c.gseq >= gseq).order_by(events.c.gseq)).all()
    prev_hash = conn.scalar(select(events.c.hash).where(events.c.gseq == gseq - 1)) or ""
    for row in rows:
        m = dict(row._mapping)
        if m["gseq"] == gseq:
            m.update(changes)
        m["prev_hash"] = prev_hash
        m["hash"] = event_hash(
            prev_hash=prev_hash,
            gseq=m["gseq"],
            proposal_id=m["proposal_id"],
            seq=m["seq"],
            kind=m["kind"],
            actor=m["actor"],
            actor_name=m["actor_name"],
            at=m["at"],
            reason=m["reason"],
            data=json.loads(m["data"]),
        )
        conn.execute(update(events).where(events.c.id == m["id"]).values(m))
        prev_hash = m["hash"]


# Each case: (what it does to the database, what verify must say: the change named and the problem).
Tamper = Callable[[Connection, Run], str]


def edit_title(conn: Connection, run: Run) -> str:
    conn.execute(update(proposals).where(proposals.c.id == run.approved).values(title="Harmless tweak"))
    return f"CHG-{run.approved}: title is 'Harmless tweak' in the table but the events say 'Core upgrade'"


def edit_description(conn: Connection, run: Run) -> str:
    conn.execute(update(proposals).where(proposals.c.id == run.approved).values(description="nothing"))
    return f"CHG-{run.approved}: description is 'nothing' in the table"


def edit_rollback_plan(conn: Connection, run: Run) -> str:
    conn.execute(update(proposals).where(proposals.c.id == run.approved).values(rollback_plan="none"))
    return f"CHG-{run.approved}: rollback_plan is 'none' in the table"


def edit_ticket(conn: Connection, run: Run) -> str:
    conn.execute(
        update(proposals).where(proposals.c.id == run.rejected).values(ticket_url="https://evil.example")
    )
    return f"CHG-{run.rejected}: ticket_url is 'https://evil.example' in the table"


def edit_status(conn: Connection, run: Run) -> str:
    conn.execute(update(proposals).where(proposals.c.id == run.rejected).values(status="approved"))
    return f"CHG-{run.rejected}: status is 'approved' in the table but the events say 'rejected'"


def edit_window(conn: Connection, run: Run) -> str:
    conn.execute(
        update(proposals).where(proposals.c.id == run.flagged).values(start_ts=proposals.c.start_ts + 3600)
    )
    return f"CHG-{run.flagged}: start_ts is"


def edit_approvals_required(conn: Connection, run: Run) -> str:
    conn.execute(update(proposals).where(proposals.c.id == run.flagged).values(approvals_required=1))
    return f"CHG-{run.flagged}: approvals_required is 1 in the table but the events say 2"


def edit_evaluation(conn: Connection, run: Run) -> str:
    conn.execute(
        update(proposals)
        .where(proposals.c.id == run.flagged)
        .values(evaluation=canonical_json({"window": {"start": "x", "end": "y"}, "flagged": False}))
    )
    return f"CHG-{run.flagged}: its stored evaluation differs"


def edit_approver(conn: Connection, run: Run) -> str:
    conn.execute(
        update(approvals)
        .where(approvals.c.proposal_id == run.approved, approvals.c.approver == "UA")
        .values(approver="UX")
    )
    return f"CHG-{run.approved}: round 1 approvers are [UX, UB] in the table but the events say [UA, UB]"


def add_approval(conn: Connection, run: Run) -> str:
    conn.execute(insert(approvals).values(proposal_id=run.flagged, round=1, approver="UB", at=1))
    return f"CHG-{run.flagged}: round 1 approvers are [UB, UA] in the table but the events say [UA]"


def delete_last_events_of_a_change(conn: Connection, run: Run) -> str:
    gseq = last_gseq(conn, run.approved)
    conn.execute(delete(events).where(events.c.gseq == gseq))
    return f"CHG-{run.approved}: round 1 approvers are [UA, UB] in the table but the events say [UA]"


def delete_a_whole_change(conn: Connection, run: Run) -> str:
    for table in (events, approvals, outbox):
        conn.execute(delete(table).where(table.c.proposal_id == run.rejected))
    conn.execute(delete(proposals).where(proposals.c.id == run.rejected))
    return f"CHG-{run.rejected}: has no row and no events while the chain misses events"


def truncate_the_tail(conn: Connection, run: Run) -> str:
    gseq = last_gseq(conn)
    conn.execute(delete(events).where(events.c.gseq == gseq))
    return f"checkpoint #{_last_checkpoint(conn)}: signs event {gseq}, which is not in the database"


def _last_checkpoint(conn: Connection) -> int:
    return int(conn.scalar(select(checkpoints.c.id).order_by(checkpoints.c.id.desc()).limit(1)) or 0)


def edit_sensitive_period(conn: Connection, run: Run) -> str:
    conn.execute(
        update(sensitive_periods).where(sensitive_periods.c.id == run.period).values(end_date="2026-11-27")
    )
    return f"sensitive period #{run.period}: end is '2026-11-27' in the table but the events say '2026-12-10'"


def lift_sensitive_period_in_table(conn: Connection, run: Run) -> str:
    conn.execute(
        update(sensitive_periods)
        .where(sensitive_periods.c.id == run.period)
        .values(lifted_by="UADMIN", lifted_at=1)
    )
    return f"sensitive period #{run.period}: lifted by is 'UADMIN' in the table but the events say None"


def delete_sensitive_period(conn: Connection, run: Run) -> str:
    conn.execute(delete(sensitive_periods).where(sensitive_periods.c.id == run.period))
    return f"sensitive period #{run.period}: declared in the audit log but gone from the table"


def edit_event_reason(conn: Connection, run: Run) -> str:
    conn.execute(
        update(events).where(events.c.gseq == event_of(conn, run.rejected, 2)).values(reason="a good reason")
    )
    return (
        f"CHG-{run.rejected} (event {event_of(conn, run.rejected, 2)}): its content does not match its hash"
    )


def edit_actor_name(conn: Connection, run: Run) -> str:
    gseq = event_of(conn, run.approved, 2)
    conn.execute(update(events).where(events.c.gseq == gseq).values(actor_name="Someone Else"))
    return f"CHG-{run.approved} (event {gseq}): its content does not match its hash"


def change_a_timestamp(conn: Connection, run: Run) -> str:
    gseq = event_of(conn, run.cancelled, 2)
    conn.execute(update(events).where(events.c.gseq == gseq).values(at=events.c.at - 86_400))
    return f"CHG-{run.cancelled} (event {gseq}): its content does not match its hash"


def reorder_events(conn: Connection, run: Run) -> str:
    first, second = event_of(conn, run.postponed, 2), event_of(conn, run.postponed, 3)
    conn.execute(update(events).where(events.c.gseq == first).values(gseq=-1))
    conn.execute(update(events).where(events.c.gseq == second).values(gseq=first))
    conn.execute(update(events).where(events.c.gseq == -1).values(gseq=second))
    return f"audit chain (event {first}): event {first} (CHG-{run.postponed}'s) does not follow the event before it"


def swap_two_changes_chains(conn: Connection, run: Run) -> str:
    a, b = run.rejected, run.cancelled
    conn.execute(
        update(events).where(events.c.proposal_id == a).values(proposal_id=b, seq=events.c.seq + 1000)
    )
    conn.execute(update(events).where(events.c.proposal_id == b, events.c.seq < 1000).values(proposal_id=a))
    conn.execute(update(events).where(events.c.seq > 1000).values(seq=events.c.seq - 1000))
    return f"CHG-{a} (event {event_of(conn, a, 1)}): its content does not match its hash"


def rehash_an_edited_event(conn: Connection, run: Run) -> str:
    gseq = event_of(conn, run.rejected, 2)
    rewrite_and_rehash(conn, gseq, reason="approved after all")
    return f"CHG-{run.rejected} (event {gseq}): differs from what checkpoint"


def rehash_everything_after_an_edit(conn: Connection, run: Run) -> str:
    """Edit an early event, recompute the whole chain after it: only the signed checkpoints can tell."""
    gseq = event_of(conn, run.approved, 2)
    rewrite_and_rehash(conn, gseq, actor="UB", actor_name=None)
    return f"CHG-{run.approved} (event {gseq}): differs from what checkpoint"


def drop_the_last_checkpoint(conn: Connection, run: Run) -> str:
    conn.execute(delete(checkpoints).where(checkpoints.c.id == _last_checkpoint(conn)))
    return f"CHG-{run.flagged} (event {last_gseq(conn)}): 1 event(s) after the last signed checkpoint"


def drop_a_middle_checkpoint(conn: Connection, run: Run) -> str:
    conn.execute(delete(checkpoints).where(checkpoints.c.id == 3))
    return "checkpoint #4: does not follow the checkpoint before it"


def forge_a_checkpoint(conn: Connection, run: Run) -> str:
    last = _last_checkpoint(conn)
    conn.execute(update(checkpoints).where(checkpoints.c.id == last).values(at=checkpoints.c.at + 1))
    return f"checkpoint #{last}: its signature does not match"


def append_a_forged_event(conn: Connection, run: Run) -> str:
    """A new event, hashed and linked correctly with the project's own function, but signed by no checkpoint."""
    head = conn.execute(select(events).order_by(events.c.gseq.desc()).limit(1)).one()
    data = {"round": 1, "approvals": 2, "window": {"start": "a", "end": "b"}}
    values = {
        "gseq": head.gseq + 1,
        "proposal_id": run.rejected,
        "seq": 3,
        "kind": "cancelled",
        "actor": "UP",
        "actor_name": None,
        "at": head.at,
        "reason": "",
    }
    digest = event_hash(prev_hash=head.hash, data=data, **values)  # type: ignore[arg-type]
    conn.execute(
        insert(events).values(
            **values, data=canonical_json(data), prev_hash=head.hash, hash=digest, hash_version=2
        )
    )
    return f"CHG-{run.rejected} (event {head.gseq + 1}): 1 event(s) after the last signed checkpoint"


CASES: list[Tamper] = [
    edit_title,
    edit_description,
    edit_rollback_plan,
    edit_ticket,
    edit_status,
    edit_window,
    edit_approvals_required,
    edit_evaluation,
    edit_approver,
    add_approval,
    delete_last_events_of_a_change,
    delete_a_whole_change,
    truncate_the_tail,
    edit_sensitive_period,
    lift_sensitive_period_in_table,
    delete_sensitive_period,
    edit_event_reason,
    edit_actor_name,
    change_a_timestamp,
    reorder_events,
    swap_two_changes_chains,
    rehash_an_edited_event,
    rehash_everything_after_an_edit,
    drop_the_last_checkpoint,
    drop_a_middle_checkpoint,
    forge_a_checkpoint,
    append_a_forged_event,
]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATOPS_AUDIT_KEY", KEY)


def test_an_untouched_run_verifies(db_url: str, keyed: None) -> None:
    store = SqlStore.open(db_url, audit_key=KEY.encode())
    try:
        real_run(store)
    finally:
        store.close()
    code, out = verify(db_url)
    assert code == 0, out
    assert "audit log intact: 15 events, 5 changes, 15 checkpoints" in out


@pytest.mark.parametrize("tamper", CASES, ids=lambda case: case.__name__)
def test_every_tampering_is_named(db_url: str, keyed: None, tamper: Tamper) -> None:
    store = SqlStore.open(db_url, audit_key=KEY.encode())
    try:
        run = real_run(store)
        with store.engine.begin() as conn:
            expected = tamper(conn, run)
    finally:
        store.close()
    code, out = verify(db_url)
    assert code == 1, out
    assert expected in out, out


def test_without_the_key_checkpoints_are_not_checked_and_it_says_so(db_url: str) -> None:
    store = SqlStore.open(db_url, audit_key=KEY.encode())
    try:
        real_run(store)
        with store.engine.begin() as conn:
            forge_a_checkpoint(conn, Run(0, 0, 0, 0, 0, 0))
    finally:
        store.close()
    code, out = verify(db_url)
    assert code == 0 and "15 signed checkpoints not checked" in out


def test_another_key_is_named(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlStore.open(db_url, audit_key=KEY.encode())
    try:
        real_run(store)
    finally:
        store.close()
    monkeypatch.setenv("CHATOPS_AUDIT_KEY", "another key")
    code, out = verify(db_url)
    assert code == 1 and "checkpoint #1: signed with another key than the one given" in out
