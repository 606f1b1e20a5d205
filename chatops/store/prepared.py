"""Statements the store runs on every request, compiled once per dialect and run on the driver's own connection.

SQLAlchemy Core builds, checks and compiles each statement (its SQL is still written once, for SQLite and
PostgreSQL alike); what it does again on every execution (the execution context, the compiled-cache key, the
result proxy, the events) cost more than SQLite takes to run a short statement on these tables (reading one
proposal: 120 µs of CPU through SQLAlchemy, 41 µs on the driver; ``benchmarks/store_ops.py``,
``docs/performance.md``). A :class:`Prepared` statement keeps the compiled SQL
string, the order of its parameters (SQLite's ``?``) and the values the statement binds itself (``LIMIT 1``,
``attempts + 1``), and :func:`run` hands them straight to the driver connection inside the transaction SQLAlchemy
opened (SQLAlchemy still owns the pool, the transaction, the ``BEGIN`` hook and the migrations).

Rows come back as the driver's tuples, in the statement's column order. A driver error is raised as the
SQLAlchemy exception SQLAlchemy would have raised (``IntegrityError``, ``OperationalError``…), so callers handle
one family of errors whichever path ran the statement.

**Many rows in one step on SQLite** (``Prepared(..., one_step=True)``, read with :meth:`Prepared.rows`). Python's
``sqlite3`` lets go of the interpreter lock around every ``sqlite3_step``, once per row fetched, and must then wait
for it again: while another thread of the process is busy in Python (a request's work after its ack, a
delivery), each row waits up to the interpreter's switch interval (5 ms). A list of 50 proposals took 0.4 ms
alone and 40 ms (median) beside one busy thread, with about four times the CPU (the lock changing hands). Such a
statement is run on SQLite as ``SELECT json_group_array(json_array(<its columns>)) FROM (<it>)``: its rows come
back as one JSON text in one step, parsed into the same tuples: integers, text and NULL, which is all the
store's columns hold (not for BLOBs, which JSON cannot hold, nor REALs, which SQLite writes with 15 digits).
SQLite does not promise the order of an aggregate's elements (before 3.44), so a caller that needs the
statement's order sorts what it gets. PostgreSQL's driver receives a result whole; its rows are read as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Select, Table, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


class Ready(NamedTuple):
    """A statement as the driver takes it."""

    sql: str
    order: tuple[str, ...] | None  # a positional paramstyle's parameter names, in the order of the SQL
    defaults: Mapping[str, Any]  # values the statement binds itself (LIMIT 1, attempts + 1)

    def args(self, params: Mapping[str, Any]) -> Any:
        if self.defaults:
            params = {**self.defaults, **params}
        if self.order is None:
            return params
        try:
            return tuple(params[name] for name in self.order)
        except KeyError as exc:  # pragma: no cover - a programming error in the store
            raise TypeError(f"no value for the statement's parameter {exc.args[0]!r}") from None


class Prepared:
    """A statement, built and compiled once per dialect and shape.

    ``build`` is a Core statement, or a function of ``(dialect, shape)`` returning one, for statements
    that differ by backend (``ON CONFLICT`` lives in each dialect's ``insert``) or by a shape the caller gives
    (the number of ids in an ``IN`` list). With ``keyed=True`` the statement's columns are the parameters'
    keys (an ``INSERT``'s values, an ``UPDATE``'s ``SET``), compiled once per set of keys."""

    __slots__ = ("_build", "_cache", "_keyed", "_one_step")

    def __init__(
        self,
        build: ClauseElement | Callable[[Dialect, Any], ClauseElement],
        *,
        keyed: bool = False,
        one_step: bool = False,
    ) -> None:
        self._build = build
        self._keyed = keyed
        self._one_step = one_step
        # Filled as shapes come; threads may race to fill a slot, which compiles the same statement twice.
        self._cache: dict[tuple[str, str, Hashable, frozenset[str] | None], Ready] = {}

    def compiled(self, dialect: Dialect, shape: Hashable = None, keys: frozenset[str] | None = None) -> Ready:
        key = (dialect.name, dialect.paramstyle, shape, keys)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._compile(dialect, shape, keys)
        return found

    def _compile(self, dialect: Dialect, shape: Hashable, keys: frozenset[str] | None) -> Ready:
        stmt = self._build if isinstance(self._build, ClauseElement) else self._build(dialect, shape)
        if self._one_step and _json_rows(dialect):
            if not isinstance(stmt, Select):  # pragma: no cover - a programming error in the store
                raise TypeError("only a SELECT can be read in one step")
            stmt = as_json_rows(stmt)
        compiled = cast(
            SQLCompiler, stmt.compile(dialect=dialect, column_keys=sorted(keys) if keys is not None else None)
        )
        defaults = {
            name: bind.effective_value for bind, name in compiled.bind_names.items() if not bind.required
        }
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        return Ready(compiled.string, order, defaults)

    def run(
        self, conn: Connection, params: Mapping[str, Any] | None = None, *, shape: Hashable = None
    ) -> Any:
        """Execute on ``conn``'s driver connection; return the driver's cursor."""
        params = params or {}
        ready = self.compiled(conn.dialect, shape, frozenset(params) if self._keyed else None)
        return run_sql(conn, ready.sql, ready.args(params))

    def rows(
        self, conn: Connection, params: Mapping[str, Any] | None = None, *, shape: Hashable = None
    ) -> list[tuple[Any, ...]]:
        """All the statement's rows as tuples; with ``one_step`` on SQLite, fetched in one step as one JSON text
        (see the module's docstring), in no promised order."""
        cursor = self.run(conn, params, shape=shape)
        if not (self._one_step and _json_rows(conn.dialect)):
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        (text,) = cursor.fetchone()
        return [tuple(row) for row in json.loads(text)]


def as_json_rows(stmt: Select[Any]) -> Select[Any]:
    """``stmt``'s rows as one row holding a JSON array of arrays, one per row, columns in order (SQLite)."""
    inner = stmt.subquery()
    return select(func.json_group_array(func.json_array(*inner.c)))


def _json_rows(dialect: Dialect) -> bool:
    return dialect.name == "sqlite" and _sqlite_has_json()


@cache
def _sqlite_has_json() -> bool:
    """Whether this process's SQLite has the JSON functions (built in since 3.38, an option before)."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT json_group_array(json_array(1, 'a', NULL))").fetchone()
    except sqlite3.OperationalError:  # pragma: no cover - SQLite built without JSON: rows as usual
        return False
    finally:
        conn.close()
    return True


def run_sql(conn: Connection, sql: str, args: Any) -> Any:
    """``sql`` with ``args`` on ``conn``'s driver connection, in its open transaction; driver errors raised as
    SQLAlchemy's."""
    driver: Any = conn.connection.driver_connection
    try:
        return driver.execute(sql, args)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, args, exc, conn.dialect.loaded_dbapi.Error) from exc


def returning_id(table: Table, dialect: Dialect) -> ClauseElement:
    """``INSERT INTO table``, with ``RETURNING id`` where the dialect has it (see :func:`inserted_id`)."""
    stmt = table.insert()
    return stmt.returning(table.c.id) if dialect.insert_returning else stmt


def inserted_id(conn: Connection, cursor: Any) -> int | None:
    """The id of the row an ``INSERT`` built by :func:`returning_id` added; None when it added none (``ON
    CONFLICT DO NOTHING``)."""
    if conn.dialect.insert_returning:
        row = cursor.fetchone()
        return None if row is None else int(row[0])
    return None if cursor.rowcount == 0 else int(cursor.lastrowid)
