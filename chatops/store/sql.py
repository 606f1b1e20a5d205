"""The store on SQLAlchemy Core: one code path for SQLite (``sqlite:///path.db``, ``sqlite://``) and
PostgreSQL (``postgresql://…``, driven by psycopg 3).

Transactions and locking:

- PostgreSQL: READ COMMITTED; :meth:`SqlTx.lock_proposal` is ``SELECT … FOR UPDATE``;
  :meth:`SqlStore.claim_outbox` uses ``FOR UPDATE SKIP LOCKED`` so workers on several
  instances never lease the same message.
- SQLite: the driver's own transaction handling is switched off and every write transaction begins with
  ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe), which takes the write lock up front, so concurrent
  writers wait for it (:func:`_begin_immediate`) instead of failing with "database is locked" when a reader
  turns writer.
  Reads begin ``DEFERRED`` and, in WAL mode, never block on writers. ``FOR UPDATE`` renders as nothing on
  SQLite.
- An in-memory SQLite database lives in one connection (``StaticPool``) shared by every thread, so the store
  serialises all access to it with a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    CursorResult,
    Engine,
    Integer,
    Row,
    Select,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import StaticPool

from chatops.domain.policy import Status
from chatops.domain.records import (
    EventPayload,
    OutboxKind,
    PeriodDoc,
    SensitiveDeclared,
    SensitiveLifted,
    payload_data,
)
from chatops.errors import UnavailableError
from chatops.store import (
    HASH_VERSION,
    CheckpointRow,
    DuplicateKey,
    Encoded,
    EventRow,
    NewProposal,
    OutboxRow,
    Outcome,
    ProposalRow,
    ProposalSummary,
    ReminderRow,
    SensitiveRow,
    audit_key_id,
    canonical_json,
    canonical_json_with,
    checkpoint_mac,
    event_hash,
    json_object,
)
from chatops.store.prepared import Prepared, inserted_id, returning_id
from chatops.store.schema import (
    approvals,
    checkpoints,
    events,
    outbox,
    proposals,
    reminders,
    sensitive_periods,
)

# How long a write waits for a lock (a row another transaction holds, SQLite's write lock) before it gives up
# with UnavailableError: a request must be stored, or refused, within Slack's 3 s acknowledgement budget.
LOCK_TIMEOUT_MS = 2_000
SQLITE_BUSY_TIMEOUT_MS = LOCK_TIMEOUT_MS
# Serialises appends to the one audit chain on PostgreSQL (held until the transaction ends).
CHAIN_LOCK_CLASS = 0x63686174  # "chat"
# pg_advisory_xact_lock(int4, int4): the chain's class id and the schema's hash, so that two chatops databases in
# separate schemas of one PostgreSQL database (and parallel test runs) never wait on each other's chain.
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:cls, hashtext(coalesce(current_schema(), '')))")
_BEGIN_MODE = "chatops_sqlite_begin"
_BUSY_MS = "chatops_busy_ms"  # the busy timeout a pooled SQLite connection was last given (0 while it writes)
# How long the next write transaction of this thread may wait for SQLite's write lock (what its turn left).
_budget = threading.local()
_SET_LOCK_TIMEOUT = f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"

# Columns update_proposal may set (id, idempotency_key, version, created_at and updated_at are the store's).
UPDATABLE = frozenset(
    {
        "title",
        "description",
        "rollback_plan",
        "ticket_url",
        "proposer",
        "channel",
        "input_tz",
        "start_ts",
        "end_ts",
        "status",
        "flagged",
        "approvals_required",
        "round",
        "message_ts",
        "evaluation",
        "services",
        "reviewed_by",
        "reviewed_at",
    }
)


def _is_memory(url: str) -> bool:
    u = make_url(url)
    return u.get_backend_name() == "sqlite" and u.database in (None, "", ":memory:")


# A process's connections: 5 kept, up to 30 more while every thread that may hold one at once does (request
# threads, the listeners after the ack, up to CHATOPS_DELIVERY_THREADS delivery threads: a thread holds one only
# inside a transaction, never across a Slack call). A thread that cannot have one within the lock budget gets
# "not recorded" (UnavailableError), as one that cannot have a lock does, not a 30 s wait.
POOL: dict[str, Any] = {"pool_size": 5, "max_overflow": 30, "pool_timeout": LOCK_TIMEOUT_MS / 1000}


def create_store_engine(url: str) -> Engine:
    """An engine configured for the store: psycopg 3 for PostgreSQL; WAL, foreign keys, a busy timeout and
    ``BEGIN IMMEDIATE`` transactions for SQLite."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "postgresql":
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        return create_engine(u, pool_pre_ping=True, **POOL)
    if backend != "sqlite":
        raise ValueError(f"unsupported database URL {u.render_as_string(hide_password=True)!r}")

    memory = _is_memory(url)
    if memory:
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **POOL)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the "begin" hook below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            record.info[_BUSY_MS] = SQLITE_BUSY_TIMEOUT_MS
            cur.execute("PRAGMA foreign_keys = ON")
            if not memory:
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: through exec_driver_sql, this BEGIN cost as much as the statement after it.
        immediate = conn.get_execution_options().get(_BEGIN_MODE, "IMMEDIATE") == "IMMEDIATE"
        driver: Any = conn.connection.driver_connection
        info = conn.connection.info
        # What is left of the lock budget after waiting for this process's write turn (see SqlStore._turn).
        budget_ms = getattr(_budget, "ms", SQLITE_BUSY_TIMEOUT_MS)
        # A writer asks for the lock itself (no busy handler); a reader keeps SQLite's, with the budget.
        busy_ms = 0 if immediate else budget_ms
        if info.get(_BUSY_MS) != busy_ms:
            driver.execute(f"PRAGMA busy_timeout = {busy_ms}")
            info[_BUSY_MS] = busy_ms
        if immediate:
            _begin_immediate(driver, budget_ms)
            return
        try:
            driver.execute("BEGIN DEFERRED")
        except (
            sqlite3.OperationalError
        ) as exc:  # "database is locked" past busy_timeout: as SQLAlchemy says it
            raise OperationalError("BEGIN DEFERRED", None, exc) from exc

    return engine


MIGRATION_LOCK_MS = 60_000
"""How long a migration at start-up waits for SQLite's write lock: another process may be migrating the same
database (several starting at once, a slow migration); nobody's acknowledgement waits on it."""


@contextmanager
def write_lock_budget(ms: int) -> Iterator[None]:
    """SQLite write transactions this thread begins inside the block wait up to ``ms`` for the write lock (for
    work no Slack request waits on; a request's transaction keeps :data:`LOCK_TIMEOUT_MS`)."""
    before = getattr(_budget, "ms", SQLITE_BUSY_TIMEOUT_MS)
    _budget.ms = ms
    try:
        yield
    finally:
        _budget.ms = before


WRITE_LOCK_POLL = (0.0005, 0.005)
"""How often a SQLite writer asks again for the write lock another process holds: every half millisecond at
first, the interval growing by half each time up to 5 ms."""


def _begin_immediate(driver: sqlite3.Connection, budget_ms: int) -> None:
    """``BEGIN IMMEDIATE`` within ``budget_ms``, asking again for the write lock while another process holds it.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms between tries: a
    writer that finds the lock taken sleeps past its release, and the other process's next writer, which does
    not sleep, takes it first. With two serving processes and their delivery threads (``benchmarks/e2e.py``),
    35-39 transactions a run waited over 20 ms at ``BEGIN``, up to 129-534 ms; asked again every 0.5-5 ms,
    8-21 did, up to 49-302 ms (the other process's transactions themselves, not measured apart). Once held, a
    WAL database's write lock makes no statement of the transaction wait, so the connection keeps
    ``busy_timeout = 0`` meanwhile."""
    deadline = time.monotonic() + budget_ms / 1000
    delay, longest = WRITE_LOCK_POLL
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            left = deadline - time.monotonic()
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) != sqlite3.SQLITE_BUSY or left <= 0:
                # "database is locked" past the budget (or another error): as SQLAlchemy says it
                raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc
        time.sleep(min(delay, left))
        delay = min(delay * 1.5, longest)


# The row converters unpack rows by position (``select(table)`` returns the table's columns in this order): a
# Row's ``_mapping`` look-up per column cost more than the rest of the conversion. Checked at import.
_PROPOSAL_COLUMNS = (
    "id",
    "idempotency_key",
    "title",
    "description",
    "rollback_plan",
    "ticket_url",
    "proposer",
    "channel",
    "input_tz",
    "start_ts",
    "end_ts",
    "status",
    "flagged",
    "approvals_required",
    "round",
    "version",
    "message_ts",
    "created_at",
    "updated_at",
    "services",
    "emergency",
    "incident_url",
    "reviewed_by",
    "reviewed_at",
    "evaluation",
)
_OUTBOX_COLUMNS = (
    "id",
    "proposal_id",
    "kind",
    "payload",
    "created_at",
    "attempts",
    "next_attempt_at",
    "delivered_at",
    "last_error",
    "leased_until",
    "abandoned_at",
)
_EVENT_COLUMNS = (
    "id",
    "proposal_id",
    "seq",
    "kind",
    "actor",
    "at",
    "reason",
    "data",
    "prev_hash",
    "hash",
    "gseq",
    "hash_version",
    "actor_name",
)
_SENSITIVE_COLUMNS = (
    "id",
    "region_id",
    "start_date",
    "end_date",
    "reason",
    "declared_by",
    "declared_at",
    "lifted_by",
    "lifted_at",
)
_REMINDER_COLUMNS = (
    "id",
    "proposal_id",
    "kind",
    "post_at",
    "channel",
    "scheduled_message_id",
    "scheduled_at",
    "refreshed_at",
)
for _table, _columns in (
    (proposals, _PROPOSAL_COLUMNS),
    (outbox, _OUTBOX_COLUMNS),
    (events, _EVENT_COLUMNS),
    (sensitive_periods, _SENSITIVE_COLUMNS),
    (reminders, _REMINDER_COLUMNS),
):
    if (
        tuple(_table.columns.keys()) != _columns
    ):  # pragma: no cover - a schema change must update the converters
        raise RuntimeError(
            f"the {_table.name} table's columns changed: update the row converters in {__name__}"
        )


# The snapshot is the last column (migration 0007): a summary is a proposal row without its last value.
_SUMMARY_COLUMNS = _PROPOSAL_COLUMNS[:-1]
if _PROPOSAL_COLUMNS[-1] != "evaluation":  # pragma: no cover - the converters below rely on it
    raise RuntimeError("the proposals table's last column must be its evaluation (migration 0007)")


def _summary_fields(row: Sequence[Any]) -> dict[str, Any]:
    """The fields of a row of ``_SUMMARY_COLUMNS`` (a proposal's columns but its evaluation)."""
    (
        id,
        idempotency_key,
        title,
        description,
        rollback_plan,
        ticket_url,
        proposer,
        channel,
        input_tz,
        start_ts,
        end_ts,
        status,
        flagged,
        approvals_required,
        round,
        version,
        message_ts,
        created_at,
        updated_at,
        services,
        emergency,
        incident_url,
        reviewed_by,
        reviewed_at,
    ) = row
    return {
        "id": id,
        "idempotency_key": idempotency_key,
        "title": title,
        "description": description,
        "rollback_plan": rollback_plan,
        "ticket_url": ticket_url,
        "proposer": proposer,
        "channel": channel,
        "input_tz": input_tz,
        "start_ts": start_ts,
        "end_ts": end_ts,
        "status": Status(status),
        "flagged": bool(flagged),
        "approvals_required": approvals_required,
        "round": round,
        "version": version,
        "message_ts": message_ts,
        "created_at": created_at,
        "updated_at": updated_at,
        "services": _services(services),
        "emergency": bool(emergency),
        "incident_url": incident_url,
        "reviewed_by": reviewed_by,
        "reviewed_at": reviewed_at,
    }


def _summary(row: Sequence[Any]) -> ProposalSummary:
    return ProposalSummary.model_validate(_summary_fields(row))


def _proposal(row: Sequence[Any]) -> ProposalRow:
    """A row of ``_PROPOSAL_COLUMNS``: the summary's fields, then the evaluation as stored."""
    fields = _summary_fields(row[:-1])
    fields["evaluation_json"] = row[-1]
    return ProposalRow.model_validate(fields)


def _services(text: str) -> tuple[str, ...]:
    return tuple(s for s in text.split(",") if s)


def _overlapping(
    conn: Connection,
    *,
    start_ts: int,
    end_ts: int,
    services: Sequence[str],
    statuses: Sequence[Status],
    exclude: int | None,
    limit: int,
) -> list[ProposalRow]:
    """Windows overlapping ``[start_ts, end_ts)`` in these statuses (found by the (status, end_ts) index), kept
    when they share a service; the services column is a short list, compared here rather than in SQL."""
    wanted = set(services)
    if not wanted or not statuses:
        return []
    shape = (_status_values(statuses), exclude is not None)
    params = {"start_ts": start_ts, "end_ts": end_ts, "exclude": exclude}
    found = []
    services_at = _PROPOSAL_COLUMNS.index("services")
    for row in _OVERLAPPING.run(conn, params, shape=shape):
        if wanted & set(_services(row[services_at])):
            found.append(_proposal(row))
            if len(found) >= limit:
                break
    return found


def _event(row: Sequence[Any]) -> EventRow:
    id, proposal_id, seq, kind, actor, at, reason, data, prev_hash, hash, gseq, hash_version, actor_name = row
    return EventRow(
        id=id,
        gseq=gseq,
        proposal_id=proposal_id,
        seq=seq,
        kind=kind,
        actor=actor,
        actor_name=actor_name,
        at=at,
        reason=reason,
        data_json=data,
        prev_hash=prev_hash,
        hash=hash,
        hash_version=hash_version,
    )


def _checkpoint(row: Row[Any]) -> CheckpointRow:
    m = row._mapping
    return CheckpointRow(
        id=m["id"],
        gseq=m["gseq"],
        hash=m["hash"],
        at=m["at"],
        key_id=m["key_id"],
        prev_mac=m["prev_mac"],
        mac=m["mac"],
    )


def _sensitive(row: Sequence[Any]) -> SensitiveRow:
    id, region_id, start_date, end_date, reason, declared_by, declared_at, lifted_by, lifted_at = row
    return SensitiveRow(
        id=id,
        region_id=region_id,
        start_date=date.fromisoformat(start_date),
        end_date=date.fromisoformat(end_date),
        reason=reason,
        declared_by=declared_by,
        declared_at=declared_at,
        lifted_by=lifted_by,
        lifted_at=lifted_at,
    )


def _period_doc(
    row: SensitiveRow, *, region_name: str | None = None, declared_by_name: str | None = None
) -> PeriodDoc:
    return PeriodDoc(
        period_id=row.id,
        region_id=row.region_id,
        region_name=region_name,
        start_date=row.start_date.isoformat(),
        end_date=row.end_date.isoformat(),
        reason=row.reason,
        declared_by=row.declared_by,
        declared_by_name=declared_by_name,
    )


def _outbox(
    row: Sequence[Any], proposal: ProposalRow | None = None, *, leased_until: int | None = None
) -> OutboxRow:
    """An outbox row; ``leased_until``: the lease the claim handing it out took (None elsewhere)."""
    (
        id,
        proposal_id,
        kind,
        payload,
        created_at,
        attempts,
        next_attempt_at,
        delivered_at,
        last_error,
        leased_before,
        _abandoned_at,
    ) = row
    return OutboxRow(
        id=id,
        proposal_id=proposal_id,
        kind=OutboxKind(kind),
        payload=json_object(payload),
        created_at=created_at,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        delivered_at=delivered_at,
        last_error=last_error,
        claimed_before=attempts > 0 or leased_before is not None,
        proposal=proposal,
        leased_until=leased_until,
    )


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every insert here has an autoincrement key
        raise RuntimeError("the database did not report the new row's id")
    return int(key[0])


# The statements every request runs, built once with bound parameters and run on the driver
# (``chatops.store.prepared``): SQLAlchemy's execution of a prepared statement cost more than SQLite takes to run
# it. Rows come back as tuples in the select's column order.
_SELECT_APPROVERS = Prepared(
    select(approvals.c.approver)
    .where(approvals.c.proposal_id == bindparam("proposal_id"), approvals.c.round == bindparam("round"))
    .order_by(approvals.c.at, approvals.c.id)
)
_SELECT_PROPOSAL_STMT = select(proposals).where(proposals.c.id == bindparam("proposal_id"))
_SELECT_PROPOSAL = Prepared(_SELECT_PROPOSAL_STMT)
_SELECT_PROPOSAL_FOR_UPDATE = Prepared(_SELECT_PROPOSAL_STMT.with_for_update())
_SELECT_PROPOSAL_BY_KEY = Prepared(select(proposals).where(proposals.c.idempotency_key == bindparam("key")))
# Shape: how many ids (parameters i0, i1, …).
_SELECT_PROPOSALS = Prepared(
    lambda dialect, count: select(proposals).where(proposals.c.id.in_(_ids(count))).order_by(proposals.c.id)
)
_SET_PARENT_OF_MESSAGE = Prepared(
    update(proposals)
    .where(
        proposals.c.id
        == select(outbox.c.proposal_id).where(outbox.c.id == bindparam("b_id")).scalar_subquery()
    )
    .values(message_ts=bindparam("b_message_ts"))
)
# A duplicate idempotency key inserts nothing (and raises nothing, so the transaction goes on without a
# savepoint); the caller tells by the id not returned.
_INSERT_PROPOSAL = Prepared(
    lambda dialect, _: _insert_unless_duplicate(dialect, proposals, with_id=True), keyed=True
)
_INSERT_EVENT = Prepared(lambda dialect, _: returning_id(events, dialect), keyed=True)
_INSERT_OUTBOX = Prepared(lambda dialect, _: returning_id(outbox, dialect), keyed=True)
# An approval already given (same proposal, round and approver) inserts nothing.
_INSERT_APPROVAL = Prepared(
    lambda dialect, _: _insert_unless_duplicate(dialect, approvals, with_id=False), keyed=True
)
# The chain's head and the change's last sequence number in one statement (no row: no event at all yet).
_CHAIN_HEAD = Prepared(
    select(
        events.c.gseq,
        events.c.hash,
        select(func.max(events.c.seq))
        .where(events.c.proposal_id == bindparam("proposal_id"))
        .scalar_subquery(),
    )
    .order_by(events.c.gseq.desc())
    .limit(1)
)
_CHAIN_HEAD_UNATTACHED = Prepared(
    select(
        events.c.gseq,
        events.c.hash,
        select(func.max(events.c.seq)).where(events.c.proposal_id.is_(None)).scalar_subquery(),
    )
    .order_by(events.c.gseq.desc())
    .limit(1)
)
_SELECT_EVENT = Prepared(select(events).where(events.c.id == bindparam("event_id")))
_LAST_CHECKPOINT_MAC = Prepared(select(checkpoints.c.mac).order_by(checkpoints.c.id.desc()).limit(1))
_INSERT_CHECKPOINT = Prepared(checkpoints.insert(), keyed=True)
# UPDATEs whose SET columns are the keys of the parameters they are executed with (plus any .values() here).
_UPDATE_PROPOSAL_STMT = update(proposals).where(proposals.c.id == bindparam("b_id"))
_UPDATE_PROPOSAL = Prepared(_UPDATE_PROPOSAL_STMT, keyed=True)
_UPDATE_PROPOSAL_VERSION_STMT = _UPDATE_PROPOSAL_STMT.values(version=proposals.c.version + 1)
_UPDATE_PROPOSAL_VERSION = Prepared(_UPDATE_PROPOSAL_VERSION_STMT, keyed=True)
_UPDATE_PROPOSAL_RETURNING = Prepared(_UPDATE_PROPOSAL_VERSION_STMT.returning(*proposals.c), keyed=True)
_UPDATE_OUTBOX_STMT = update(outbox).where(outbox.c.id == bindparam("b_id"))
_UPDATE_OUTBOX = Prepared(_UPDATE_OUTBOX_STMT, keyed=True)
_UPDATE_OUTBOX_ATTEMPT = Prepared(_UPDATE_OUTBOX_STMT.values(attempts=outbox.c.attempts + 1), keyed=True)
# Shape: how many ids (parameters i0, i1, …).
_LEASE_OUTBOX = Prepared(
    lambda dialect, count: (
        update(outbox).where(outbox.c.id.in_(_ids(count))).values(leased_until=bindparam("b_until"))
    )
)


# /maintenance list and the conflict check: shape is the statuses asked for (and, for overlapping, whether one
# change is left out).
def _listing(*columns: Any) -> Any:
    """``columns`` of the proposals in the statuses of the shape (and ending after ``end_after`` when the shape
    says so), soonest start first, at most ``limit``."""
    return lambda dialect, shape: (
        select(*columns)
        .where(
            proposals.c.status.in_(_values(shape[0])),
            *([proposals.c.end_ts > bindparam("end_after")] if shape[1] else []),
        )
        .order_by(proposals.c.start_ts, proposals.c.id)
        .limit(bindparam("limit"))
    )


_LIST_PROPOSALS = Prepared(_listing(proposals))
# Without the evaluation snapshots: with them (about 90 KB each with the regions the app ships with) a list of 50
# cost ten times as much on SQLite and PostgreSQL (benchmarks/store_ops.py --snapshot shipped).
# In one step on SQLite (see chatops.store.prepared): the list a person waits for, read while other threads work.
_LIST_SUMMARIES = Prepared(_listing(*(proposals.c[name] for name in _SUMMARY_COLUMNS)), one_step=True)
_START = _SUMMARY_COLUMNS.index("start_ts")  # the same in a full row: a summary is its first columns
_COUNT_PROPOSALS = Prepared(
    lambda dialect, shape: (
        select(func.count())
        .select_from(proposals)
        .where(
            *([] if shape[0] is None else [proposals.c.status.in_(_values(shape[0]))]),
            *([proposals.c.end_ts > bindparam("end_after")] if shape[1] else []),
        )
    )
)
_OVERLAPPING = Prepared(
    lambda dialect, shape: (
        select(proposals)
        .where(
            proposals.c.status.in_(_values(shape[0])),
            proposals.c.end_ts > bindparam("start_ts"),
            proposals.c.start_ts < bindparam("end_ts"),
            proposals.c.services != "",
            *([proposals.c.id != bindparam("exclude")] if shape[1] else []),
        )
        .order_by(proposals.c.start_ts, proposals.c.id)
    )
)
_SENSITIVE_PERIODS = Prepared(
    lambda dialect, ending: (
        select(sensitive_periods)
        .where(
            sensitive_periods.c.lifted_at.is_(None),
            *([sensitive_periods.c.end_date >= bindparam("ending")] if ending else []),
        )
        .order_by(sensitive_periods.c.start_date, sensitive_periods.c.id)
    )
)


def _record(conn: Connection, outcome: Outcome) -> None:
    """Write what became of an outbox message (and, for a parent it posted or found, its proposal's message ts)."""
    values: dict[str, Any]
    if outcome.delivered_at is not None:
        stmt, values = _UPDATE_OUTBOX, {"delivered_at": outcome.delivered_at, "leased_until": None}
    elif outcome.abandoned_at is not None:  # counts the attempt
        stmt = _UPDATE_OUTBOX_ATTEMPT
        values = {"last_error": outcome.error, "abandoned_at": outcome.abandoned_at, "leased_until": None}
    else:  # to try again at retry_at; counts the attempt
        stmt = _UPDATE_OUTBOX_ATTEMPT
        values = {"last_error": outcome.error, "next_attempt_at": outcome.retry_at, "leased_until": None}
    if stmt.run(conn, {**values, "b_id": outcome.message_id}).rowcount != 1:
        raise LookupError(f"no outbox message {outcome.message_id}")
    if outcome.message_ts is not None:
        _SET_PARENT_OF_MESSAGE.run(conn, {"b_id": outcome.message_id, "b_message_ts": outcome.message_ts})


def _settle(
    conn: Connection, outcomes: Outcome | Sequence[Outcome] | None, release: Sequence[OutboxRow]
) -> None:
    """Record what became of claimed messages, in order, and give back the leases of those left untried: each
    only if it is still the lease its claim took (past it, another claim may have taken the message since)."""
    for outcome in (outcomes,) if isinstance(outcomes, Outcome) else outcomes or ():
        _record(conn, outcome)
    for message in release:
        _RELEASE_OUTBOX.run(conn, {"b_id": message.id, "b_until": message.leased_until})


_LEASED_UNTIL = [c.name for c in outbox.c].index("leased_until")
_NEXT_ATTEMPT_AT = [c.name for c in outbox.c].index("next_attempt_at")
_KIND = [c.name for c in outbox.c].index("kind")


def _following(
    conn: Connection, head: Sequence[Any], now: int, limit: int, except_kind: str
) -> list[Sequence[Any]]:
    """The messages after ``head`` (a claimed one) of its proposal that can go with it, in order: the unbroken
    run of the pending ones after it that are due, unleased and not of ``except_kind``. The first that is not
    stops the run: it blocks those after it, as :func:`_claim_outbox_statement` says."""
    run: list[Sequence[Any]] = []
    for row in _FOLLOWING.run(conn, {"proposal_id": head[1], "after": head[0], "limit": limit}).fetchall():
        leased = row[_LEASED_UNTIL] is not None and row[_LEASED_UNTIL] > now
        if row[_NEXT_ATTEMPT_AT] > now or leased or row[_KIND] == except_kind:
            break
        run.append(row)
    return run


def _status_values(statuses: Sequence[Status]) -> tuple[str, ...]:
    """Statuses as a statement's shape: each once, in one order, whatever order they were asked in."""
    return tuple(sorted({Status(s).value for s in statuses}))


def _ids(count: int) -> list[BindParameter[int]]:
    return [bindparam(f"i{n}", type_=Integer) for n in range(count)]


def _values(values: Sequence[str]) -> list[BindParameter[str]]:
    """Fixed values (statuses) bound by the statement itself: an IN list SQLAlchemy need not expand per call."""
    return [bindparam(f"v{n}", value, type_=String) for n, value in enumerate(values)]


def _id_params(ids: Sequence[int]) -> dict[str, int]:
    return {f"i{n}": value for n, value in enumerate(ids)}


def _insert_unless_duplicate(dialect: Dialect, table: Table, *, with_id: bool) -> Any:
    """``INSERT INTO table … ON CONFLICT DO NOTHING`` (SQLite 3.24+, PostgreSQL 9.5+): a row whose unique key is
    taken is not inserted, and nothing is raised (other constraints still raise). With ``with_id``, built for
    :func:`inserted_id` as :func:`returning_id` is."""
    insert_ = postgresql_insert if dialect.name == "postgresql" else sqlite_insert
    stmt = insert_(table).on_conflict_do_nothing()
    return stmt.returning(table.c.id) if with_id and dialect.insert_returning else stmt


def _reminder(row: Sequence[Any]) -> ReminderRow:
    id, proposal_id, kind, post_at, channel, scheduled_message_id, scheduled_at, refreshed_at = row
    return ReminderRow(
        id=id,
        proposal_id=proposal_id,
        kind=kind,
        post_at=post_at,
        channel=channel,
        scheduled_message_id=scheduled_message_id,
        scheduled_at=scheduled_at,
        refreshed_at=refreshed_at,
    )


# Reminders: a change's, every one (the sweep, each minute: three a change), one of a kind, and what a channel
# scheduled lately. Read in one step on SQLite and sorted here (see chatops.store.prepared).
_SELECT_REMINDERS = Prepared(
    lambda dialect, one_change: (
        select(reminders)
        .where(*([reminders.c.proposal_id == bindparam("proposal_id")] if one_change else []))
        .order_by(reminders.c.post_at, reminders.c.id)
    ),
    one_step=True,
)
_POST_AT = [c.name for c in reminders.c].index("post_at")
_REMINDER_OF_KIND = and_(
    reminders.c.proposal_id == bindparam("b_proposal_id"), reminders.c.kind == bindparam("b_kind")
)
_UPDATE_REMINDER = Prepared(update(reminders).where(_REMINDER_OF_KIND), keyed=True)
_INSERT_REMINDER = Prepared(reminders.insert(), keyed=True)
_SELECT_REMINDER = Prepared(select(reminders).where(_REMINDER_OF_KIND))
_DELETE_REMINDER = Prepared(delete(reminders).where(reminders.c.id == bindparam("b_id")))
_REMINDER_REFRESHED = Prepared(
    update(reminders).where(reminders.c.id == bindparam("b_id")).values(refreshed_at=bindparam("b_at"))
)
# One step on SQLite: a busy channel has had up to 30 scheduled in five minutes, in an order that does not matter.
_SCHEDULED_SINCE = Prepared(
    select(reminders.c.scheduled_at).where(
        reminders.c.channel == bindparam("channel"), reminders.c.scheduled_at >= bindparam("since")
    ),
    one_step=True,
)
_APPROVALS_AT = Prepared(
    select(approvals.c.approver, approvals.c.at)
    .where(approvals.c.proposal_id == bindparam("proposal_id"), approvals.c.round == bindparam("round"))
    .order_by(approvals.c.at, approvals.c.id)
)


def _approvers(conn: Connection, proposal_id: int, round: int) -> list[str]:
    rows = _SELECT_APPROVERS.run(conn, {"proposal_id": proposal_id, "round": round})
    return [r[0] for r in rows]


def _get_proposal(conn: Connection, proposal_id: int, *, for_update: bool = False) -> ProposalRow | None:
    stmt = _SELECT_PROPOSAL_FOR_UPDATE if for_update else _SELECT_PROPOSAL
    row = stmt.run(conn, {"proposal_id": proposal_id}).fetchone()
    return None if row is None else _proposal(row)


NOT_RECORDED = "not recorded: the database did not answer in time; nothing was changed, please try again"


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (OperationalError, PoolTimeout) as exc:
        raise UnavailableError(NOT_RECORDED) from exc


_PENDING = and_(outbox.c.delivered_at.is_(None), outbox.c.abandoned_at.is_(None))


def _claim_outbox_statement() -> Select[Any]:
    """What :meth:`SqlStore.claim_outbox` asks, built once (the delivery worker polls it several times a second):
    due, unleased pending messages not of the kind left out (``''``: none is) that no earlier pending message of
    the same proposal blocks, oldest first."""
    earlier = outbox.alias("earlier")
    blocked = exists().where(
        earlier.c.proposal_id == outbox.c.proposal_id,
        earlier.c.id < outbox.c.id,
        earlier.c.delivered_at.is_(None),
        earlier.c.abandoned_at.is_(None),
    )
    now = bindparam("now", type_=BigInteger)
    return (
        select(outbox)
        .where(
            _PENDING,
            outbox.c.next_attempt_at <= now,
            or_(outbox.c.leased_until.is_(None), outbox.c.leased_until <= now),
            outbox.c.kind != bindparam("except_kind", type_=String),
            ~blocked,
        )
        .order_by(outbox.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, of=outbox)
    )


_CLAIM_OUTBOX = Prepared(_claim_outbox_statement())
# The pending messages after a claimed one, of its proposal, oldest first: those that can go with it.
_FOLLOWING = Prepared(
    select(outbox)
    .where(
        _PENDING,
        outbox.c.proposal_id == bindparam("proposal_id"),
        outbox.c.id > bindparam("after"),
    )
    .order_by(outbox.c.id)
    .limit(bindparam("limit", type_=Integer))
)
# A leased message given back untried: due again at once, no attempt counted; not if leased again since.
_RELEASE_OUTBOX = Prepared(
    update(outbox)
    .where(outbox.c.id == bindparam("b_id"), outbox.c.leased_until == bindparam("b_until"))
    .values(leased_until=None)
)


class SqlTx:
    """One open transaction on one connection (see :class:`chatops.store.Tx`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.last_event: EventRow | None = None

    def lock_proposal(self, proposal_id: int) -> ProposalRow | None:
        return _get_proposal(self._conn, proposal_id, for_update=True)

    def insert_proposal(self, new: NewProposal) -> ProposalRow:
        """Insert a pending proposal. On a duplicate ``idempotency_key`` raise :class:`DuplicateKey`; the
        insert then inserts nothing and raises nothing in the database (``ON CONFLICT DO NOTHING``), so the
        transaction stays usable either way."""
        evaluation, services = new.evaluation_json, ",".join(new.services)
        values = {
            "idempotency_key": new.idempotency_key,
            "title": new.title,
            "description": new.description,
            "rollback_plan": new.rollback_plan,
            "ticket_url": new.ticket_url,
            "proposer": new.proposer,
            "channel": new.channel,
            "input_tz": new.input_tz,
            "start_ts": new.start_ts,
            "end_ts": new.end_ts,
            "status": Status(new.status).value,
            "flagged": new.flagged,
            "approvals_required": new.approvals_required,
            "round": 1,
            "version": 1,
            "message_ts": None,
            "evaluation": evaluation,
            "created_at": new.created_at,
            "updated_at": new.created_at,
            "services": services,
            "emergency": new.emergency,
            "incident_url": new.incident_url,
        }
        new_id = inserted_id(self._conn, _INSERT_PROPOSAL.run(self._conn, values))
        if new_id is None:  # the key's unique index: the only one a new row can clash on
            if new.idempotency_key is None:  # pragma: no cover - no key, nothing to clash with
                raise RuntimeError("the database inserted no proposal")
            raise DuplicateKey(new.idempotency_key)
        # The row as stored, without reading it back (the store sets no column the values do not give).
        return ProposalRow(
            id=new_id,
            idempotency_key=new.idempotency_key,
            title=new.title,
            description=new.description,
            rollback_plan=new.rollback_plan,
            ticket_url=new.ticket_url,
            proposer=new.proposer,
            channel=new.channel,
            input_tz=new.input_tz,
            start_ts=new.start_ts,
            end_ts=new.end_ts,
            status=Status(new.status),
            flagged=new.flagged,
            approvals_required=new.approvals_required,
            round=1,
            version=1,
            message_ts=None,
            evaluation_json=evaluation,  # as stored (read back: JSON types, lists, not tuples)
            created_at=new.created_at,
            updated_at=new.created_at,
            services=_services(services),
            emergency=new.emergency,
            incident_url=new.incident_url,
        )

    def update_proposal(self, proposal_id: int, *, at: int, **fields: Any) -> ProposalRow:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        values: dict[str, Any] = dict(fields)
        if "status" in values:
            values["status"] = Status(values["status"]).value
        if "evaluation" in values:
            given = values["evaluation"]
            values["evaluation"] = given.text if isinstance(given, Encoded) else canonical_json(given)
        if "services" in values:
            values["services"] = ",".join(values["services"])
        values["updated_at"] = at
        values["b_id"] = proposal_id
        if (
            self._conn.dialect.update_returning
        ):  # SQLite 3.35 and later, PostgreSQL: the new row in one statement
            found = _UPDATE_PROPOSAL_RETURNING.run(self._conn, values).fetchone()
            if found is None:
                raise LookupError(f"no proposal {proposal_id}")
            return _proposal(found)
        if _UPDATE_PROPOSAL_VERSION.run(self._conn, values).rowcount != 1:
            raise LookupError(f"no proposal {proposal_id}")
        row = _get_proposal(self._conn, proposal_id)
        assert row is not None
        return row

    def add_approval(self, proposal_id: int, *, round: int, approver: str, at: int) -> bool:
        # An approval already stored (or inserted meanwhile by a transaction that did not lock the proposal)
        # clashes on (proposal_id, round, approver) and inserts nothing; a proposal that does not exist still
        # raises IntegrityError (its foreign key).
        values = {"proposal_id": proposal_id, "round": round, "approver": approver, "at": at}
        return bool(_INSERT_APPROVAL.run(self._conn, values).rowcount == 1)

    def approvers(self, proposal_id: int, *, round: int) -> list[str]:
        return _approvers(self._conn, proposal_id, round)

    def overlapping(
        self,
        *,
        start_ts: int,
        end_ts: int,
        services: Sequence[str],
        statuses: Sequence[Status],
        exclude: int | None = None,
        limit: int = 200,
    ) -> list[ProposalRow]:
        """Inside a writing transaction: serialised with every other writer first (the chain's lock on
        PostgreSQL; SQLite's write lock is held already), so two changes proposed at once onto the same slot
        cannot both miss each other."""
        if not services or not statuses:
            return []
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(_CHAIN_LOCK, {"cls": CHAIN_LOCK_CLASS})
        return _overlapping(
            self._conn,
            start_ts=start_ts,
            end_ts=end_ts,
            services=services,
            statuses=statuses,
            exclude=exclude,
            limit=limit,
        )

    def append_event(
        self,
        proposal_id: int | None,
        payload: EventPayload,
        *,
        actor: str,
        at: int,
        reason: str = "",
        actor_name: str | None = None,
        evaluation: Encoded | None = None,
    ) -> EventRow:
        kind = payload.kind.value
        if evaluation is None:
            data = payload_data(payload)
            data_json = canonical_json(data)  # stored and hashed: encoded once
        else:  # the snapshot's text as the proposal's row has it, spliced in
            if "evaluation" not in type(payload).model_fields:
                raise TypeError(f"a {kind} event has no evaluation to give")
            data = payload_data(payload, without="evaluation")
            data_json = canonical_json_with(data, "evaluation", evaluation.text)
            data["evaluation"] = evaluation.value
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(_CHAIN_LOCK, {"cls": CHAIN_LOCK_CLASS})
        if proposal_id is None:
            head = _CHAIN_HEAD_UNATTACHED.run(self._conn).fetchone()
        else:
            head = _CHAIN_HEAD.run(self._conn, {"proposal_id": proposal_id}).fetchone()
        # No event at all yet: the chain starts, and so does the change's sequence.
        gseq, prev_hash, last_seq = (1, "", None) if head is None else (head[0] + 1, head[1], head[2])
        seq = 1 if last_seq is None else int(last_seq) + 1
        digest = event_hash(
            prev_hash=prev_hash,
            gseq=gseq,
            proposal_id=proposal_id,
            seq=seq,
            kind=kind,
            actor=actor,
            actor_name=actor_name,
            at=at,
            reason=reason,
            data=data,
            data_json=data_json,
        )
        # No savepoint: a clash on (proposal_id, seq) means the caller did not lock the proposal: fail.
        cursor = _INSERT_EVENT.run(
            self._conn,
            {
                "gseq": gseq,
                "proposal_id": proposal_id,
                "seq": seq,
                "kind": kind,
                "actor": actor,
                "actor_name": actor_name,
                "at": at,
                "reason": reason,
                "data": data_json,
                "prev_hash": prev_hash,
                "hash": digest,
                "hash_version": HASH_VERSION,
            },
        )
        new_id = inserted_id(self._conn, cursor)
        assert new_id is not None  # no unique key of events can clash here (the chain's lock is held)
        row = EventRow(
            id=new_id,
            gseq=gseq,
            proposal_id=proposal_id,
            seq=seq,
            kind=kind,
            actor=actor,
            actor_name=actor_name,
            at=at,
            reason=reason,
            data_json=data_json,
            prev_hash=prev_hash,
            hash=digest,
            hash_version=HASH_VERSION,
        )
        self.last_event = row
        return row

    def enqueue(
        self,
        proposal_id: int,
        *,
        kind: OutboxKind,
        at: int,
        event_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        payload = dict(payload or {})
        if event_id is not None:
            payload["event_id"] = event_id
        cursor = _INSERT_OUTBOX.run(
            self._conn,
            {
                "proposal_id": proposal_id,
                "kind": OutboxKind(kind).value,
                "payload": canonical_json(payload),
                "created_at": at,
                "attempts": 0,
                "next_attempt_at": at,
            },
        )
        new_id = inserted_id(self._conn, cursor)
        assert new_id is not None  # outbox has no unique key but its id
        return new_id

    def write_checkpoint(self, key: bytes) -> None:
        """Sign the chain's head as this transaction leaves it (called when the transaction appended events)."""
        head = self.last_event
        if head is None:
            return
        last = _LAST_CHECKPOINT_MAC.run(self._conn).fetchone()
        prev_mac = "" if last is None else last[0]
        _INSERT_CHECKPOINT.run(
            self._conn,
            {
                "gseq": head.gseq,
                "hash": head.hash,
                "at": head.at,
                "key_id": audit_key_id(key),
                "prev_mac": prev_mac,
                "mac": checkpoint_mac(key, gseq=head.gseq, hash=head.hash, at=head.at, prev_mac=prev_mac),
            },
        )


class _Waiter:
    __slots__ = ("given", "since")

    def __init__(self) -> None:
        self.given = threading.Event()
        self.since = time.monotonic()


class WriteTurns:
    """One writer at a time, urgent ones first: a decision a person waits for (a request's transaction) goes
    before the delivery threads' bookkeeping (claims, delivery marks) waiting with it; with many delivery
    threads an approval otherwise queued behind their writes. The others yield for ``patience`` seconds at
    most: then the longest waiting of them goes next, so a stream of decisions cannot starve delivery out of its
    lock budget. Each kind is served in the order it came, and a turn passes straight from one writer to the
    next, so a newcomer never slips in between."""

    def __init__(self, *, patience: float = 0.2) -> None:
        self.patience = patience
        self._lock = threading.Lock()
        self._held = False
        self._urgent: deque[_Waiter] = deque()
        self._other: deque[_Waiter] = deque()

    def acquire(self, timeout: float, *, urgent: bool) -> bool:
        """Take the turn within ``timeout`` seconds; False if it was not given in time."""
        queue = self._urgent if urgent else self._other
        with self._lock:
            if not self._held:
                self._held = True
                return True
            waiter = _Waiter()
            queue.append(waiter)
        if waiter.given.wait(timeout):
            return True
        with self._lock:
            if waiter.given.is_set():  # handed over just as the wait ran out: it is this writer's now
                return True
            queue.remove(waiter)
            return False

    def release(self) -> None:
        with self._lock:
            waiter = self._next()
            if waiter is None:
                self._held = False
            else:
                waiter.given.set()  # the turn passes to it directly, still held

    def _next(self) -> _Waiter | None:
        if self._other and time.monotonic() - self._other[0].since >= self.patience:
            return self._other.popleft()
        if self._urgent:
            return self._urgent.popleft()
        if self._other:
            return self._other.popleft()
        return None


class SqlStore:
    """The :class:`chatops.store.Store` on SQLAlchemy Core. Thread-safe; open one per process."""

    def __init__(self, engine: Engine, *, serialise: bool = False, audit_key: bytes | None = None) -> None:
        self.engine = engine
        # Reads begin DEFERRED on SQLite: the option is set once here, not on every connection.
        self._reader = engine.execution_options(**{_BEGIN_MODE: "DEFERRED"})
        self._lock: AbstractContextManager[Any] = threading.RLock() if serialise else nullcontext()
        # A SQLite file has one writer at a time. Left to SQLite, this process's writers would wait in its busy
        # handler, which sleeps up to 100 ms between tries and lets a newcomer in first: under load a decision
        # could wait out the whole lock budget behind delivery threads. Here they take turns on a lock first,
        # each woken as the one before commits, and only then ask SQLite for its lock against other processes
        # (:func:`_begin_immediate`), with what is left of the same budget.
        self._writers = WriteTurns() if engine.dialect.name == "sqlite" and not serialise else None
        self._pinned = threading.local()
        self._postgresql = engine.dialect.name == "postgresql"
        self.audit_key = audit_key

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, audit_key: bytes | None = None) -> SqlStore:
        """Connect to ``url`` and (unless ``migrate=False``) bring its schema up to date."""
        from chatops.store.migrate import upgrade

        engine = create_store_engine(url)
        try:
            if migrate:
                upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, serialise=_is_memory(url), audit_key=audit_key or None)

    # -- transactions ----------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        """One write transaction. A lock not granted within ``LOCK_TIMEOUT_MS`` (PostgreSQL ``lock_timeout``,
        SQLite's write lock: :func:`_begin_immediate`) or a database that cannot be reached rolls it back and raises
        :class:`UnavailableError`: nothing was recorded."""
        with self._write(urgent=True) as tx:
            yield tx

    @contextmanager
    def _write(self, *, urgent: bool) -> Iterator[SqlTx]:
        """A write transaction; ``urgent=False`` for the delivery's own bookkeeping (claims, marks, reminders),
        which lets a decision waiting for this process's SQLite write turn go first."""
        if getattr(self._pinned, "conn", None) is not None:
            raise RuntimeError("a write transaction inside reading(): finish the reads first")
        with self._lock, self._turn(urgent), _unavailable(), self.engine.begin() as conn:
            if self._postgresql:
                conn.exec_driver_sql(_SET_LOCK_TIMEOUT)
            tx = SqlTx(conn)
            yield tx
            if self.audit_key is not None:
                tx.write_checkpoint(self.audit_key)

    @contextmanager
    def _turn(self, urgent: bool = True) -> Iterator[None]:
        """On a SQLite file, this process's write turn, within the lock budget (``LOCK_TIMEOUT_MS`` in all)."""
        if self._writers is None:
            yield
            return
        budget = LOCK_TIMEOUT_MS
        started = time.monotonic()
        if not self._writers.acquire(budget / 1000, urgent=urgent):
            raise UnavailableError(NOT_RECORDED)
        try:
            waited = int((time.monotonic() - started) * 1000)
            # What is left for SQLite's write lock (other processes' writers): at least 100 ms.
            with write_lock_budget(max(100, budget - waited)):
                yield
        finally:
            self._writers.release()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Reads made in this thread inside the block share one short read transaction (see
        :meth:`chatops.store.Store.reading`)."""
        if getattr(self._pinned, "conn", None) is not None:
            yield  # already inside one: the outer block owns the transaction
            return
        with self._read() as conn:
            self._pinned.conn = conn
            try:
                yield
            finally:
                self._pinned.conn = None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A short read-only transaction (DEFERRED on SQLite, so it never waits for the write lock), or the one
        :meth:`reading` holds open in this thread."""
        pinned = getattr(self._pinned, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self._lock, self._reader.connect() as conn, conn.begin():
            yield conn

    # -- reads -----------------------------------------------------------------------------------------------

    def get_proposal(self, proposal_id: int) -> ProposalRow | None:
        with self._read() as conn:
            return _get_proposal(conn, proposal_id)

    def proposal_by_key(self, idempotency_key: str) -> ProposalRow | None:
        with self._read() as conn:
            row = _SELECT_PROPOSAL_BY_KEY.run(conn, {"key": idempotency_key}).fetchone()
        return None if row is None else _proposal(row)

    def list_proposals(
        self, *, statuses: Sequence[Status], end_after: int | None = None, limit: int = 100
    ) -> list[ProposalRow]:
        return [_proposal(r) for r in self._listed(_LIST_PROPOSALS, statuses, end_after, limit)]

    def list_summaries(
        self, *, statuses: Sequence[Status], end_after: int | None = None, limit: int = 100
    ) -> list[ProposalSummary]:
        return [_summary(r) for r in self._listed(_LIST_SUMMARIES, statuses, end_after, limit)]

    def _listed(
        self, stmt: Prepared, statuses: Sequence[Status], end_after: int | None, limit: int
    ) -> list[tuple[Any, ...]]:
        if not statuses:
            return []
        shape = (_status_values(statuses), end_after is not None)
        with self._read() as conn:
            rows = stmt.rows(conn, {"end_after": end_after, "limit": limit}, shape=shape)
        rows.sort(key=lambda r: (r[_START], r[0]))  # the statement's order (rows in one step come in any)
        return rows

    def overlapping(
        self,
        *,
        start_ts: int,
        end_ts: int,
        services: Sequence[str],
        statuses: Sequence[Status],
        exclude: int | None = None,
        limit: int = 200,
    ) -> list[ProposalRow]:
        with self._read() as conn:
            return _overlapping(
                conn,
                start_ts=start_ts,
                end_ts=end_ts,
                services=services,
                statuses=statuses,
                exclude=exclude,
                limit=limit,
            )

    # -- declared sensitivity --------------------------------------------------------------------------------

    def declare_sensitive(
        self,
        *,
        region_id: str,
        start_date: date,
        end_date: date,
        reason: str,
        actor: str,
        at: int,
        actor_name: str | None = None,
        region_name: str | None = None,
    ) -> SensitiveRow:
        with self.transaction() as tx:
            result = tx._conn.execute(
                sensitive_periods.insert().values(
                    region_id=region_id,
                    start_date=start_date.isoformat(),
                    end_date=end_date.isoformat(),
                    reason=reason,
                    declared_by=actor,
                    declared_at=at,
                )
            )
            new_id = _new_id(result)
            row = _sensitive(
                tx._conn.execute(select(sensitive_periods).where(sensitive_periods.c.id == new_id)).one()
            )
            tx.append_event(
                None,
                SensitiveDeclared(
                    period=_period_doc(row, region_name=region_name, declared_by_name=actor_name)
                ),
                actor=actor,
                actor_name=actor_name,
                at=at,
                reason=reason,
            )
        return row

    def lift_sensitive(
        self, period_id: int, *, actor: str, at: int, actor_name: str | None = None
    ) -> SensitiveRow | None:
        with self.transaction() as tx:
            result = tx._conn.execute(
                update(sensitive_periods)
                .where(sensitive_periods.c.id == period_id, sensitive_periods.c.lifted_at.is_(None))
                .values(lifted_by=actor, lifted_at=at)
            )
            if result.rowcount != 1:
                return None
            row = _sensitive(
                tx._conn.execute(select(sensitive_periods).where(sensitive_periods.c.id == period_id)).one()
            )
            tx.append_event(
                None, SensitiveLifted(period=_period_doc(row)), actor=actor, actor_name=actor_name, at=at
            )
        return row

    def all_sensitive_periods(self) -> list[SensitiveRow]:
        with self._read() as conn:
            return [
                _sensitive(r)
                for r in conn.execute(select(sensitive_periods).order_by(sensitive_periods.c.id))
            ]

    def checkpoints(self) -> list[CheckpointRow]:
        with self._read() as conn:
            return [_checkpoint(r) for r in conn.execute(select(checkpoints).order_by(checkpoints.c.id))]

    def all_approvals(self) -> dict[tuple[int, int], list[str]]:
        found: dict[tuple[int, int], list[str]] = {}
        with self._read() as conn:
            rows = conn.execute(
                select(approvals.c.proposal_id, approvals.c.round, approvals.c.approver).order_by(
                    approvals.c.proposal_id, approvals.c.round, approvals.c.at, approvals.c.id
                )
            )
            for r in rows:
                found.setdefault((r.proposal_id, r.round), []).append(r.approver)
        return found

    def sensitive_periods(self, *, ending_on_or_after: date | None = None) -> list[SensitiveRow]:
        ending = None if ending_on_or_after is None else ending_on_or_after.isoformat()
        with self._read() as conn:
            rows = _SENSITIVE_PERIODS.run(conn, {"ending": ending}, shape=ending is not None).fetchall()
        return [_sensitive(r) for r in rows]

    def count_proposals(
        self, *, statuses: Sequence[Status] | None = None, end_after: int | None = None
    ) -> int:
        shape = (
            None if statuses is None else _status_values(statuses),
            end_after is not None,
        )
        with self._read() as conn:
            (count,) = _COUNT_PROPOSALS.run(conn, {"end_after": end_after}, shape=shape).fetchone()
        return int(count)

    def approvers(self, proposal_id: int, *, round: int) -> list[str]:
        with self._read() as conn:
            return _approvers(conn, proposal_id, round)

    def events(self, proposal_id: int) -> list[EventRow]:
        with self._read() as conn:
            rows = conn.execute(
                select(events).where(events.c.proposal_id == proposal_id).order_by(events.c.seq)
            )
            return [_event(r) for r in rows]

    def event(self, event_id: int) -> EventRow | None:
        with self._read() as conn:
            row = _SELECT_EVENT.run(conn, {"event_id": event_id}).fetchone()
        return None if row is None else _event(row)

    def iter_events(self, *, since: int | None = None) -> Iterator[EventRow]:
        stmt = select(events).order_by(events.c.gseq)
        if since is not None:
            stmt = stmt.where(events.c.at >= since)
        yield from self._stream(stmt, _event)

    def iter_proposals(self) -> Iterator[ProposalRow]:
        yield from self._stream(select(proposals).order_by(proposals.c.id), _proposal)

    def _stream(self, stmt: Any, convert: Any) -> Iterator[Any]:
        if isinstance(self._lock, nullcontext):
            # Streamed: a server-side cursor on PostgreSQL, fetched in batches everywhere.
            with self._read() as conn:
                for row in conn.execution_options(yield_per=500).execute(stmt):
                    yield convert(row)
        else:
            # In-memory SQLite shares one connection: read it all, so the caller may use the store meanwhile.
            with self._read() as conn:
                rows = [convert(r) for r in conn.execute(stmt)]
            yield from rows

    # -- writes outside a service transaction ----------------------------------------------------------------

    def set_message_ts(self, proposal_id: int, message_ts: str) -> None:
        with self._write(urgent=False) as tx:
            _UPDATE_PROPOSAL.run(tx._conn, {"b_id": proposal_id, "message_ts": message_ts})

    # -- outbox ----------------------------------------------------------------------------------------------

    def claim_outbox(
        self,
        *,
        now: int,
        limit: int = 10,
        lease_seconds: int = 60,
        first: Outcome | Sequence[Outcome] | None = None,
        except_kind: str = "",
        release: Sequence[OutboxRow] = (),
        follow: int = 0,
    ) -> list[OutboxRow]:
        with self._write(urgent=False) as tx:
            conn = tx._conn
            _settle(conn, first, release)
            params = {"now": now, "limit": limit, "except_kind": except_kind}
            found = _CLAIM_OUTBOX.run(conn, params).fetchall()
            if not found:
                return []
            if follow > 0:
                found = [
                    r for head in found for r in [head, *_following(conn, head, now, follow, except_kind)]
                ]
            ids = [r[0] for r in found]
            _LEASE_OUTBOX.run(conn, {**_id_params(ids), "b_until": now + lease_seconds}, shape=len(ids))
            # Each message's proposal, read in the same transaction: the worker needs it for every message.
            wanted = sorted({r[1] for r in found})
            rows = _SELECT_PROPOSALS.run(conn, _id_params(wanted), shape=len(wanted)).fetchall()
            proposals_by_id = {p.id: p for p in map(_proposal, rows)}
        until = now + lease_seconds
        return [_outbox(r, proposals_by_id.get(r[1]), leased_until=until) for r in found]

    def record(self, *outcomes: Outcome, release: Sequence[OutboxRow] = ()) -> None:
        with self._write(urgent=False) as tx:
            _settle(tx._conn, outcomes, release)

    def mark_delivered(self, message_id: int, *, at: int, message_ts: str | None = None) -> None:
        self.record(Outcome(message_id=message_id, delivered_at=at, message_ts=message_ts))

    def mark_failed(self, message_id: int, *, error: str, retry_at: int) -> None:
        self.record(Outcome(message_id=message_id, error=error, retry_at=retry_at))

    def mark_abandoned(self, message_id: int, *, error: str, at: int) -> None:
        self.record(Outcome(message_id=message_id, error=error, abandoned_at=at))

    def has_undelivered(self, proposal_id: int, *, kind: str) -> bool:
        wanted = (outbox.c.proposal_id == proposal_id) & (outbox.c.kind == OutboxKind(kind).value)
        with self._read() as conn:
            return bool(conn.execute(select(exists().where(_PENDING, wanted))).scalar())

    def outbox_stats(self, *, now: int) -> tuple[int, int]:
        with self._read() as conn:
            row = conn.execute(select(func.count(), func.min(outbox.c.created_at)).where(_PENDING)).one()
        count, oldest = int(row[0]), row[1]
        return count, (0 if oldest is None else max(0, now - int(oldest)))

    # -- reminders -------------------------------------------------------------------------------------------

    def approvals_at(self, proposal_id: int, *, round: int) -> list[tuple[str, int]]:
        with self._read() as conn:
            rows = _APPROVALS_AT.run(conn, {"proposal_id": proposal_id, "round": round}).fetchall()
        return [(approver, at) for approver, at in rows]

    def reminders(self, proposal_id: int | None = None) -> list[ReminderRow]:
        params = {"proposal_id": proposal_id}
        with self._read() as conn:
            rows = _SELECT_REMINDERS.rows(conn, params, shape=proposal_id is not None)
        rows.sort(key=lambda r: (r[_POST_AT], r[0]))  # the statement's order
        return [_reminder(r) for r in rows]

    def save_reminder(
        self,
        proposal_id: int,
        *,
        kind: str,
        post_at: int,
        channel: str,
        scheduled_message_id: str | None,
        scheduled_at: int | None,
    ) -> ReminderRow:
        values = {
            "post_at": post_at,
            "channel": channel,
            "scheduled_message_id": scheduled_message_id,
            "scheduled_at": scheduled_at,
            "refreshed_at": None,
        }
        which = {"b_proposal_id": proposal_id, "b_kind": kind}
        with self._write(urgent=False) as tx:
            conn = tx._conn
            if _UPDATE_REMINDER.run(conn, {**values, **which}).rowcount == 0:
                _INSERT_REMINDER.run(conn, {**values, "proposal_id": proposal_id, "kind": kind})
            row = _SELECT_REMINDER.run(conn, which).fetchone()
        if row is None:  # pragma: no cover - updated or inserted just above, in this transaction
            raise LookupError(f"no {kind} reminder for proposal {proposal_id}")
        return _reminder(row)

    def drop_reminder(self, reminder_id: int) -> None:
        with self._write(urgent=False) as tx:
            _DELETE_REMINDER.run(tx._conn, {"b_id": reminder_id})

    def mark_reminder_refreshed(self, reminder_id: int, *, at: int) -> None:
        with self._write(urgent=False) as tx:
            _REMINDER_REFRESHED.run(tx._conn, {"b_id": reminder_id, "b_at": at})

    def scheduled_since(self, channel: str, *, since: int) -> list[int]:
        with self._read() as conn:
            rows = _SCHEDULED_SINCE.rows(conn, {"channel": channel, "since": since})
        return [scheduled_at for (scheduled_at,) in rows]

    # -- housekeeping ----------------------------------------------------------------------------------------

    def ping(self) -> None:
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        self.engine.dispose()
