"""Schema migrations (Alembic), configured in code: the environment lives in ``chatops/store/migrations``.

:func:`upgrade` runs every pending migration in one transaction. On PostgreSQL it first takes a
transaction-level advisory lock (scoped to the current schema), so several instances starting at once migrate
one after another and the later ones find nothing to do; PostgreSQL DDL is transactional, so a failed
migration leaves nothing behind.
On SQLite the transaction begins ``IMMEDIATE`` (see :mod:`chatops.store.sql`), which serialises the same way,
waiting up to a minute (``MIGRATION_LOCK_MS``) for another process's migration, not a request's 2 s.

To write a new migration, add ``versions/000N_<name>.py`` by hand (``down_revision`` = the previous one) and
change :mod:`chatops.store.schema` to match; ``tests/store/test_migrations.py`` compares the two.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# pg_advisory_xact_lock(int4, int4): a fixed class id for "chatops schema migration", and the schema's hash.
_LOCK_CLASS = 0x0C4A7095
_PROCESS_LOCK = threading.RLock()
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:cls, hashtext(coalesce(current_schema(), '')))")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - there is always a first migration
        raise RuntimeError("no migrations found")
    return head


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_LOCK, {"cls": _LOCK_CLASS})


def upgrade_connection(conn: Connection) -> None:
    """Migrate to head inside ``conn``'s current transaction (which the caller commits)."""
    # Alembic's ``context`` and ``op`` are process-wide proxies, so two threads must never migrate at once,
    # even on different databases; the database lock then orders processes.
    with _PROCESS_LOCK:
        _lock(conn)
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _with_engine(url_or_engine: str | Engine) -> tuple[Engine, bool]:
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    from chatops.store.sql import create_store_engine

    return create_store_engine(url_or_engine), True


def upgrade(url_or_engine: str | Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is there already."""
    from chatops.store.sql import MIGRATION_LOCK_MS, write_lock_budget

    engine, owned = _with_engine(url_or_engine)
    try:
        with _PROCESS_LOCK, write_lock_budget(MIGRATION_LOCK_MS), engine.begin() as conn:
            upgrade_connection(conn)
    finally:
        if owned:
            engine.dispose()


def current_revision(url_or_engine: str | Engine) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    engine, owned = _with_engine(url_or_engine)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if owned:
            engine.dispose()
