"""Schema migrations, on every backend: they build exactly schema.py, are idempotent and safe to race."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from importlib.resources import files
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from chatops.store import NewProposal
from chatops.store.migrate import current_revision, head_revision, upgrade
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
    assert head_revision() == "0006_reminders"


def test_a_fresh_database_has_no_revision_until_upgraded(db_url: str) -> None:
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


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
            tx.insert_proposal(
                NewProposal(
                    idempotency_key="k",
                    title="t",
                    proposer="U",
                    channel="C",
                    input_tz="UTC",
                    start_ts=1,
                    end_ts=2,
                    flagged=False,
                    approvals_required=1,
                    evaluation={},
                    created_at=0,
                )
            )
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
