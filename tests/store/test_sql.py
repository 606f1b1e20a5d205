"""How the SQL store sets up connections: URLs, SQLite pragmas and transactions, the in-memory database."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.exc import IntegrityError
from test_contract import T0, new, run_threads
from test_contract import ev as _ev

from chatops.domain.records import OutboxKind
from chatops.errors import UnavailableError
from chatops.store import open_store
from chatops.store.sql import LOCK_TIMEOUT_MS, SqlStore, WriteTurns, create_store_engine

EVENT = _ev()


def test_postgresql_urls_use_psycopg_3() -> None:
    engine = create_store_engine("postgresql://someone@db.example:5432/chatops")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        create_store_engine("mysql://root@localhost/chatops")


def test_sqlite_files_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    try:
        with store._reader.connect() as conn, conn.begin():
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            # A reader: long enough for SQLite's rare waits, short enough to answer within Slack's 3 s.
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == LOCK_TIMEOUT_MS
        with store.transaction() as tx:
            # A writer asks for the write lock itself (test below); holding it, no statement waits.
            assert tx._conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 0
        # Foreign keys are enforced: no outbox message for a proposal that does not exist.
        with pytest.raises(IntegrityError), store.transaction() as tx:
            tx.enqueue(4242, kind=OutboxKind.POST_PARENT, at=T0)
    finally:
        store.close()


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    statements: list[str] = []
    try:
        # What SQLite itself is sent (the BEGIN goes to the driver directly, past SQLAlchemy's events).
        store.engine.dispose()

        @event.listens_for(store.engine, "connect")
        def trace(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            dbapi_conn.set_trace_callback(statements.append)

        with store.transaction() as tx:
            tx.lock_proposal(1)
        store.get_proposal(1)
    finally:
        store.close()
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_store_is_one_database_shared_by_all_threads(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, SqlStore)
    try:
        with store.transaction() as tx:
            p = tx.insert_proposal(new("k", approvals_required=0))

        def bump(i: int) -> None:
            with store.transaction() as tx:
                row = tx.lock_proposal(p.id)
                assert row is not None
                tx.update_proposal(p.id, at=T0 + i, approvals_required=row.approvals_required + 1)
                tx.append_event(p.id, EVENT, actor=f"U{i}", at=T0 + i)

        run_threads(8, bump)
        got = store.get_proposal(p.id)
        assert got is not None
        assert got.approvals_required == 8
        # iter_events on the shared connection can be consumed while the store is used.
        for event in store.iter_events():
            assert store.get_proposal(event.proposal_id) is not None
        assert len(list(store.iter_events())) == 8
    finally:
        store.close()


def test_two_in_memory_stores_are_separate_databases() -> None:
    a = SqlStore.open("sqlite://")
    b = SqlStore.open("sqlite://")
    try:
        with a.transaction() as tx:
            tx.insert_proposal(new(None))
        assert (a.count_proposals(), b.count_proposals()) == (1, 0)
    finally:
        a.close()
        b.close()


def test_readers_are_not_blocked_by_a_writer_on_sqlite(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    try:
        with store.transaction() as tx:
            p = tx.insert_proposal(new("k"))
        in_write = threading.Event()
        release = threading.Event()

        def writer() -> None:
            with store.transaction() as tx:
                tx.update_proposal(p.id, at=T0 + 1, round=2)
                in_write.set()
                release.wait(timeout=30)

        t = threading.Thread(target=writer)
        t.start()
        try:
            assert in_write.wait(timeout=30)
            got = store.get_proposal(p.id)  # WAL: the committed state, without waiting for the writer
            assert got is not None and got.round == 1
        finally:
            release.set()
            t.join(timeout=30)
        got = store.get_proposal(p.id)
        assert got is not None and got.round == 2
    finally:
        store.close()


def _traced_store(tmp_path: Path) -> tuple[SqlStore, list[tuple[int, str]]]:
    """A store whose SQLite connections report what they are sent, as (connection, statement)."""
    store = SqlStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    statements: list[tuple[int, str]] = []
    store.engine.dispose()

    @event.listens_for(store.engine, "connect")
    def trace(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.set_trace_callback(lambda sql: statements.append((id(dbapi_conn), sql)))

    return store, statements


def _begins(statements: list[tuple[int, str]]) -> list[tuple[str, int]]:
    """Each BEGIN with the busy timeout its connection had at that moment."""
    busy: dict[int, int] = {}
    begins = []
    for conn, sql in statements:
        if sql.startswith("PRAGMA busy_timeout ="):
            busy[conn] = int(sql.rsplit("=", 1)[1])
        elif sql.startswith("BEGIN"):
            # Before any PRAGMA traced here, what the store's connect hook set (tested above).
            begins.append((sql, busy.get(conn, LOCK_TIMEOUT_MS)))
    return begins


def test_a_processs_sqlite_writers_take_turns_before_asking_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatops.store import sql

    budgets: list[int] = []
    real = sql._begin_immediate

    def spy(driver: sqlite3.Connection, budget_ms: int) -> None:
        budgets.append(budget_ms)
        real(driver, budget_ms)

    store, statements = _traced_store(tmp_path)
    monkeypatch.setattr(sql, "_begin_immediate", spy)
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        with store.transaction() as tx:
            tx.lock_proposal(1)
            inside.set()
            release.wait(10)

    def second() -> None:
        try:
            for _ in range(2):  # the first waits for its turn, the next does not
                with store.transaction() as tx:
                    tx.lock_proposal(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    try:
        a = threading.Thread(target=first)
        a.start()
        assert inside.wait(10)
        b = threading.Thread(target=second)
        b.start()
        b.join(0.5)
        # The second writer waits for its turn in this process: SQLite has not been asked for the lock yet.
        assert b.is_alive()
        assert [sql for sql, _ in _begins(statements)] == ["BEGIN IMMEDIATE"]
        release.set()
        a.join(10)
        b.join(10)
        assert not errors
        # The wait came out of the same budget: the transaction that waited gave SQLite's lock only what was
        # left of it, and the next one, which did not wait, had the whole budget again.
        assert [sql for sql, _ in _begins(statements)] == ["BEGIN IMMEDIATE"] * 3
        assert budgets[0] == LOCK_TIMEOUT_MS
        assert 100 <= budgets[1] < LOCK_TIMEOUT_MS - 300
        assert budgets[2] == LOCK_TIMEOUT_MS
    finally:
        release.set()
        store.close()


def test_a_sqlite_writer_asks_again_for_the_write_lock_another_process_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatops.store import sql

    store, statements = _traced_store(tmp_path)
    other = sqlite3.connect(tmp_path / "chatops.db", isolation_level=None)  # another process's writer
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with store.transaction() as tx:
                tx.lock_proposal(1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        done.set()

    def attempts() -> int:
        return sum(1 for _, statement in statements if statement == "BEGIN IMMEDIATE")

    try:
        other.execute("BEGIN IMMEDIATE")
        writer = threading.Thread(target=write)
        writer.start()
        # It asks again and again while the lock is held, where SQLite's own busy handler would sleep in one
        # attempt (1, 2, 5 … 100 ms at a time, waking up to 100 ms after the lock was freed).
        deadline = time.monotonic() + 10
        while attempts() < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert attempts() >= 5 and not done.is_set()
        other.execute("COMMIT")
        writer.join(10)
        assert done.is_set() and not errors

        # Held past the lock budget: refused, nothing recorded.
        monkeypatch.setattr(sql, "LOCK_TIMEOUT_MS", 200)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(UnavailableError, match="not recorded"), store.transaction() as tx:
            tx.insert_proposal(new("k-locked"))
        other.execute("COMMIT")
        assert store.count_proposals() == 0
    finally:
        other.close()
        store.close()


def test_a_write_turn_not_given_within_the_budget_is_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatops.errors import UnavailableError
    from chatops.store import sql

    monkeypatch.setattr(sql, "LOCK_TIMEOUT_MS", 200)
    store, statements = _traced_store(tmp_path)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    try:
        holder.start()
        assert inside.wait(10)
        with pytest.raises(UnavailableError, match="not recorded"), store.transaction() as tx:
            tx.lock_proposal(1)
        assert [sql for sql, _ in _begins(statements)] == ["BEGIN IMMEDIATE"]
    finally:
        release.set()
        holder.join(10)
        store.close()


def test_a_decision_waiting_for_the_write_turn_goes_before_the_deliverys_bookkeeping() -> None:
    turns = WriteTurns(patience=5)
    assert turns.acquire(1, urgent=False)  # a delivery mark holds the turn
    order: list[str] = []

    def wait_for_turn(name: str, urgent: bool) -> None:
        assert turns.acquire(5, urgent=urgent)
        order.append(name)
        turns.release()

    def queued() -> int:
        return len(turns._urgent) + len(turns._other)

    def start_and_wait_until_queued(thread: threading.Thread) -> None:
        before = queued()
        thread.start()
        deadline = time.monotonic() + 5
        while queued() == before and time.monotonic() < deadline:
            time.sleep(0.001)

    others = [threading.Thread(target=wait_for_turn, args=(f"mark {n}", False)) for n in range(3)]
    for thread in others:  # the marks are queued first, one after another
        start_and_wait_until_queued(thread)
    decision = threading.Thread(target=wait_for_turn, args=("decision", True))
    start_and_wait_until_queued(decision)
    assert queued() == 4
    turns.release()
    for thread in [*others, decision]:
        thread.join(5)
    assert order == ["decision", "mark 0", "mark 1", "mark 2"]  # then the marks, in the order they came


def test_a_write_turn_is_refused_after_its_timeout_whoever_waits() -> None:
    turns = WriteTurns()
    assert turns.acquire(1, urgent=True)
    started = time.monotonic()
    assert not turns.acquire(0.2, urgent=True)
    assert not turns.acquire(0.2, urgent=False)
    assert time.monotonic() - started >= 0.4
    turns.release()
    assert turns.acquire(0.2, urgent=False)  # free again: given at once


def test_a_connection_not_had_within_the_lock_budget_is_not_recorded(tmp_path: Path) -> None:
    # The store's engines wait for a pooled connection no longer than for a lock…
    engine = create_store_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    try:
        assert engine.pool.timeout() == LOCK_TIMEOUT_MS / 1000
    finally:
        engine.dispose()
    # …and a write that gets none in that time is refused as one that gets no lock is: nothing recorded.
    url = f"sqlite:///{tmp_path / 'small.db'}"
    SqlStore.open(url).close()
    store = SqlStore(create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2))
    try:
        held = store.engine.connect()  # the only connection
        with held, pytest.raises(UnavailableError, match="not recorded"), store.transaction() as tx:
            tx.insert_proposal(new("k-pool"))
        assert store.count_proposals() == 0
    finally:
        store.close()


def test_the_deliverys_bookkeeping_yields_to_decisions_for_a_while_only() -> None:
    turns = WriteTurns(patience=0.2)
    assert turns.acquire(1, urgent=True)
    stop = threading.Event()
    got: list[float] = []

    def decisions() -> None:  # one decision after another, each waiting while the last holds the turn
        while not stop.is_set():
            if turns.acquire(1, urgent=True):
                time.sleep(0.01)
                turns.release()

    def mark() -> None:
        started = time.monotonic()
        assert turns.acquire(5, urgent=False)
        got.append(time.monotonic() - started)
        turns.release()

    stream = [threading.Thread(target=decisions) for _ in range(3)]  # one is always queued behind the others
    waiting = threading.Thread(target=mark)
    try:
        waiting.start()
        for thread in stream:
            thread.start()
        time.sleep(0.05)
        turns.release()
        waiting.join(5)
        # Decisions kept coming, yet the mark had its turn soon after its patience ran out, not at its timeout.
        assert got and 0.15 <= got[0] < 2
    finally:
        stop.set()
        for thread in stream:
            thread.join(5)
