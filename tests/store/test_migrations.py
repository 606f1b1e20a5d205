"""Schema migrations, on every backend: they build exactly schema.py, are idempotent and safe to race."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from importlib.resources import files
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from test_contract import new

from chatops.domain.policy import Status
from chatops.store import sql
from chatops.store.migrate import alembic_config, current_revision, head_revision, upgrade
from chatops.store.schema import metadata
from chatops.store.sql import SqlStore, create_store_engine

TABLES = {
    "proposals",
    "approvals",
    "events",
    "outbox",
    "sensitive_periods",
    "checkpoints",
    "reminders",
    "alembic_version",
}


def test_the_migrations_ship_inside_the_package() -> None:
    migrations = files("chatops.store") / "migrations"
    assert (migrations / "env.py").is_file()
    assert (migrations / "versions" / "0001_initial.py").is_file()
    assert (migrations / "versions" / "0002_sensitive_periods.py").is_file()
    assert (migrations / "versions" / "0003_query_indexes.py").is_file()
    assert (migrations / "versions" / "0004_audit_chain.py").is_file()
    assert (migrations / "versions" / "0005_services_emergencies.py").is_file()
    assert (migrations / "versions" / "0006_reminders.py").is_file()
    assert (migrations / "versions" / "0007_evaluation_last.py").is_file()
    assert head_revision() == "0007_evaluation_last"


def test_moving_the_evaluation_last_keeps_every_proposal_and_what_points_at_it(db_url: str) -> None:
    """0007 moves ``proposals.evaluation`` to the end of the row on SQLite (copy, drop, rename): stored
    snapshots, the rows that point at a proposal and the foreign keys must come through whole."""
    snapshot = '{"regions":[{"flagged":true,"id":"ir"}],"x":"' + "y" * 20_000 + '"}'
    engine = create_store_engine(db_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0006_reminders")
            conn.execute(
                text(
                    "INSERT INTO proposals (id, idempotency_key, title, description, rollback_plan, ticket_url,"
                    " proposer, channel, input_tz, start_ts, end_ts, status, flagged, approvals_required, round,"
                    " version, message_ts, evaluation, created_at, updated_at) VALUES (1, 'k', 't', '', '', '',"
                    " 'U1', 'C1', 'UTC', 10, 20, 'pending', :yes, 1, 1, 1, NULL, :snapshot, 5, 5)"
                ),
                {"yes": True, "snapshot": snapshot},
            )
            conn.execute(
                text("INSERT INTO approvals (proposal_id, round, approver, at) VALUES (1, 1, 'U2', 6)")
            )
        assert current_revision(engine) == "0006_reminders"
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT evaluation FROM proposals WHERE id = 1")).scalar_one() == snapshot
            )
            columns = [c["name"] for c in inspect(conn).get_columns("proposals")]
            assert columns.count("evaluation") == 1 and "evaluation_last" not in columns
            if engine.dialect.name == "sqlite":
                assert columns[-1] == "evaluation"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        store = SqlStore(engine)
        row = store.get_proposal(1)
        assert row is not None and row.evaluation_json == snapshot and row.flagged_region_ids == ("ir",)
        assert store.approvers(1, round=1) == ["U2"]
        [summary] = store.list_summaries(statuses=[Status.PENDING])
        assert (summary.id, summary.title, summary.created_at) == (1, "t", 5)
    finally:
        engine.dispose()


def test_a_fresh_database_has_no_revision_until_upgraded(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


def test_before_sqlite_3_35_the_evaluation_stays_where_it_is_and_the_store_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0007 needs ``DROP COLUMN`` (SQLite 3.35); the store runs on 3.24 and later, so an older SQLite keeps the
    column in the middle of the row (lists are slower, nothing else changes)."""
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    store = SqlStore.open(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            columns = [c["name"] for c in inspect(conn).get_columns("proposals")]
        assert columns[-1] != "evaluation" and columns.count("evaluation") == 1
        with store.transaction() as tx:
            stored = tx.insert_proposal(new("k", evaluation={"regions": [{"id": "ir", "flagged": True}]}))
        assert store.get_proposal(stored.id) == stored
        assert [s.id for s in store.list_summaries(statuses=[Status.PENDING])] == [stored.id]
    finally:
        store.close()


def test_open_migrates_to_head_and_the_schema_matches_schema_py(db_url: str) -> None:
    SqlStore.open(db_url).close()
    engine = create_store_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) == TABLES
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_upgrading_again_is_a_no_op(db_url: str) -> None:
    store = SqlStore.open(db_url)
    try:
        with store.transaction() as tx:
            tx.insert_proposal(new("k", evaluation={}))
        upgrade(store.engine)
        upgrade(db_url)
        assert current_revision(store.engine) == head_revision()
        assert store.count_proposals() == 1
    finally:
        store.close()
    SqlStore.open(db_url).close()


def test_instances_starting_at_once_on_a_fresh_database_both_succeed(db_url: str) -> None:
    n = 4
    barrier = threading.Barrier(n)
    opened: list[SqlStore] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        try:
            barrier.wait(timeout=30)
            s = SqlStore.open(db_url)
            with lock:
                opened.append(s)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors, errors
        assert len(opened) == n
        for s in opened:
            assert current_revision(s.engine) == head_revision()
            assert s.count_proposals() == 0
    finally:
        for s in opened:
            s.close()


# Imports everything, says it is ready, waits for the go (a file the test creates once every process is ready),
# so the processes hit the fresh database together, then opens (and migrates) it.
_OPEN_AT = """
import pathlib, sys, time
from chatops.store.sql import SqlStore
ready, go = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
ready.touch()
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
SqlStore.open(sys.argv[1]).close()
"""


def test_a_migration_waits_for_another_processs_write_lock_longer_than_a_request_may(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds SQLite's write lock (migrating, say) for longer than a request's budget (shortened
    here to 0.2 s): a migration at start-up waits for it, then finds nothing to do."""
    path = tmp_path / "chatops.db"
    url = f"sqlite:///{path}"
    SqlStore.open(url).close()
    monkeypatch.setattr(sql, "SQLITE_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(sql._budget, "ms", 200, raising=False)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.6, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        started = time.monotonic()
        upgrade(url)
        assert time.monotonic() - started >= 0.5  # it waited for the lock (a request would have given up)
    finally:
        release.join()
        holder.close()
    assert current_revision(url) == head_revision()
    assert sql._budget.ms == 200  # the request's budget again after the migration


def test_processes_starting_at_once_on_a_fresh_database_all_succeed(db_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, db_url, str(flag), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            break  # one died before it was ready: its stderr is reported below
        time.sleep(0.005)
    go.touch()
    failures = []
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(err)
    assert not failures, failures[0]
    assert current_revision(db_url) == head_revision()
