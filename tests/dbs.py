"""Fresh, isolated databases for tests, one per backend: reuse these for any test that needs a real store.

- SQLite: a file in the test's ``tmp_path``.
- PostgreSQL: the server at ``CHATOPS_TEST_POSTGRES_URL`` (default
  ``postgresql://postgres@127.0.0.1:5432/test``). Each test gets its own schema, ``t_<random hex>``, created
  for it and dropped (``CASCADE``) afterwards; the URL handed to the test carries
  ``options=-csearch_path=t_…``, so every connection the store opens creates and finds its tables there, and
  the ``test`` database itself stays clean. An unreachable server FAILS the test (never skips), with a
  message saying where it looked.

Use in a conftest::

    from dbs import db_backend, db_url, store  # noqa: F401  (re-exported fixtures)

``db_backend`` is parametrized over :data:`BACKENDS`, so every test that uses ``db_url`` or ``store`` runs
once per backend. ``fresh_url(backend, tmp_path)`` is the same as a context manager, for a second database.

A migrated SQLite database is a copy of one template this process migrated once (:func:`migrated_sqlite_url`):
running every Alembic migration costs tens of milliseconds per database, a file copy well under one. The store
still runs its (then no-op) upgrade on open, as it does on every start; the migrations themselves are tested on
empty databases in ``tests/store/test_migrations.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from chatops.store.sql import SqlStore

BACKENDS = ("sqlite", "postgresql")

# Read at import: the autouse fixture in tests/conftest.py clears CHATOPS_* variables before each test runs.
POSTGRES_URL = os.environ.get("CHATOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _admin_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


@contextmanager
def postgres_schema_url(base_url: str = POSTGRES_URL) -> Iterator[str]:
    """Create a unique schema at ``base_url``, yield a URL whose connections use it, drop it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(_admin_url(base_url), poolclass=NullPool)
    try:
        try:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        except OperationalError as exc:
            pytest.fail(
                f"PostgreSQL is not reachable at {make_url(base_url).render_as_string(hide_password=True)} "
                f"(set CHATOPS_TEST_POSTGRES_URL to a server where the tests may create schemas): {exc}",
                pytrace=False,
            )
        try:
            url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        admin.dispose()


_sqlite_template: Path | None = None


def _template() -> Path:
    """A SQLite database migrated to head, made once per process (and removed when it exits)."""
    global _sqlite_template
    if _sqlite_template is None:
        folder = Path(tempfile.mkdtemp(prefix="chatops-test-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        SqlStore.open(f"sqlite:///{path}").close()  # closing checkpoints the WAL into the file
        _sqlite_template = path
    return _sqlite_template


def copy_migrated_sqlite(url: str) -> None:
    """Make ``url``'s SQLite file a copy of the migrated template, unless the file exists already."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return
    path = Path(str(u.database))
    if not path.exists():
        shutil.copyfile(_template(), path)


def migrated_sqlite_url(tmp_path: Path) -> str:
    """A URL for a fresh SQLite database in ``tmp_path`` already at the newest schema."""
    url = f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:8]}.db'}"
    copy_migrated_sqlite(url)
    return url


@contextmanager
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database of ``backend`` ("sqlite" or "postgresql"), removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:8]}.db'}"
    elif backend == "postgresql":
        with postgres_schema_url() as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}")


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """The backend under test; tests using it run once per backend."""
    return str(request.param)


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for a fresh, empty (unmigrated) database of the current backend."""
    with fresh_url(db_backend, tmp_path) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    """An open, migrated store on a fresh database (the same one as ``db_url``); closed after the test."""
    copy_migrated_sqlite(db_url)
    s = SqlStore.open(db_url)
    try:
        yield s
    finally:
        s.close()
