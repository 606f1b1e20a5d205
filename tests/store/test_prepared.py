"""Statements read in one step on SQLite (``Prepared(..., one_step=True)``): the same rows, one fetch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text, insert, select
from test_contract import T0
from test_contract import insert as insert_proposal

import chatops.store.prepared as prepared
from chatops.domain.policy import Status
from chatops.store.prepared import Prepared
from chatops.store.sql import SqlStore, create_store_engine

meta = MetaData()
things = Table(
    "things",
    meta,
    Column("id", Integer, primary_key=True),
    Column("n", BigInteger, nullable=True),
    Column("t", Text, nullable=True),
)
ALL = Prepared(select(things.c.id, things.c.n, things.c.t), one_step=True)
PLAIN = Prepared(select(things.c.id, things.c.n, things.c.t))

texts = st.text(
    st.characters(codec="utf-8"), max_size=40
)  # any Unicode text SQLite can store (no surrogates)
rows = st.lists(st.tuples(st.none() | st.integers(-(2**63), 2**63 - 1), st.none() | texts), max_size=20)


@pytest.fixture(scope="module")
def memory() -> Iterator[Any]:
    engine = create_store_engine("sqlite://")
    meta.create_all(engine)
    yield engine
    engine.dispose()


@settings(max_examples=150, deadline=None)
@given(values=rows)
def test_rows_read_in_one_step_are_the_rows_the_driver_reads(memory: Any, values: list[Any]) -> None:
    """Integers to 64 bits, NULLs, and text with quotes, backslashes, control characters, NULs and emoji come
    back as the driver returns them, row for row."""
    with memory.begin() as conn:
        conn.execute(things.delete())
        if values:
            conn.execute(insert(things), [{"id": i, "n": n, "t": t} for i, (n, t) in enumerate(values)])
        one = ALL.rows(conn)
        plain = PLAIN.rows(conn)
        assert ALL.compiled(conn.dialect).sql.lower().startswith("select json_group_array(json_array(")
    assert sorted(one) == sorted(plain) == [(i, n, t) for i, (n, t) in enumerate(values)]


class _Fetches:
    """The driver's cursor, counting how its rows were fetched."""

    def __init__(self, cursor: Any, counts: dict[str, int]) -> None:
        self._cursor = cursor
        self._counts = counts

    def fetchone(self) -> Any:
        self._counts["fetchone"] += 1
        return self._cursor.fetchone()

    def fetchall(self) -> Any:
        found = self._cursor.fetchall()
        self._counts["rows"] += len(found)
        return found


def test_a_list_of_proposals_is_read_from_sqlite_in_one_step(
    store: SqlStore, db_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifty summaries: one row from SQLite (one step, so the interpreter lock changes hands once, not fifty
    times); fifty rows from PostgreSQL, whose driver receives a result whole. Soonest first either way."""
    for i in range(50):
        insert_proposal(store, f"k{i}", start_ts=T0 + (i * 7919) % 50 * 60, end_ts=T0 + 3600 * 24)
    counts = {"fetchone": 0, "rows": 0}
    real = prepared.run_sql
    monkeypatch.setattr(prepared, "run_sql", lambda *a: _Fetches(real(*a), counts))
    listed = store.list_summaries(statuses=[Status.PENDING], end_after=T0, limit=50)
    assert len(listed) == 50
    assert [(s.start_ts, s.id) for s in listed] == sorted((s.start_ts, s.id) for s in listed)
    assert counts == ({"fetchone": 1, "rows": 0} if db_backend == "sqlite" else {"fetchone": 0, "rows": 50})


def test_every_reminder_is_read_from_sqlite_in_one_step_by_its_moment_then_id(
    store: SqlStore, db_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep reads every change's reminders each minute: one row from SQLite, by post_at, ties by id."""
    saved = []
    for i in range(12):
        change = insert_proposal(store, f"k{i}")
        for kind, post_at in (("before", T0 + (i % 4) * 60), ("end", T0 - i)):
            saved.append(
                store.save_reminder(
                    change.id,
                    kind=kind,
                    post_at=post_at,
                    channel="C1",
                    scheduled_message_id=None,
                    scheduled_at=None,
                )
            )
    counts = {"fetchone": 0, "rows": 0}
    real = prepared.run_sql
    monkeypatch.setattr(prepared, "run_sql", lambda *a: _Fetches(real(*a), counts))
    listed = store.reminders()
    assert listed == sorted(saved, key=lambda r: (r.post_at, r.id))
    assert counts == ({"fetchone": 1, "rows": 0} if db_backend == "sqlite" else {"fetchone": 0, "rows": 24})
