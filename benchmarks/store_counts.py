"""Transactions and statements per request: the real app in one process (as ``benchmarks/cpu.py`` runs it),
with a counter of what SQLite runs (the driver's trace callback, on every connection of the store's pool: the
store runs its hot statements on the driver, past SQLAlchemy's events).

For each kind, ``--count`` requests are sent one after another and the run waits until the outbox is empty and
Slack quiet (delivery included, as in ``cpu.py``). A transaction is a ``BEGIN`` (SQLAlchemy's ``begin`` event:
every write transaction and every short read); a statement is one statement SQLite runs (``BEGIN``, ``COMMIT``,
savepoints, pragmas and the settle loop's own count excluded). ``--by-statement`` prints the statements of each
kind, most run first.

    .venv/bin/python benchmarks/store_counts.py --count 50
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from cpu import KINDS, app, prepare, settle, window  # same directory: the harness of cpu.py
from sqlalchemy import event

_VALUES = re.compile(r"'(?:[^']|'')*'|\b-?\d+\b")


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.begins = 0
        self.statements: collections.Counter[str] = collections.Counter()

    def on_begin(self, conn: Any) -> None:
        with self.lock:
            self.begins += 1

    def on_checkout(self, dbapi_conn: Any, record: Any, proxy: Any) -> None:
        dbapi_conn.set_trace_callback(self.on_sql)

    def on_sql(self, statement: str) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET LOCAL")):
            return
        if "FROM OUTBOX WHERE DELIVERED_AT IS NULL AND ABANDONED_AT IS NULL AND NEXT_ATTEMPT_AT" in head:
            return  # the settle loop's own count (benchmarks/cpu.py ``due``)
        with self.lock:
            # The trace shows the values bound: fold them back into ``?`` to count by statement.
            shape = _VALUES.sub("?", " ".join(statement.split()))
            self.statements[shape[:110]] += 1

    def snapshot(self) -> tuple[int, collections.Counter[str]]:
        with self.lock:
            return self.begins, collections.Counter(self.statements)


def run(count: int, by_statement: bool) -> None:
    from conftest import PROPOSER  # tests/slack/conftest.py (put on the path by cpu)

    with tempfile.TemporaryDirectory() as folder, app(Path(folder)) as (runtime, standin, sim, _timed):
        sim.command(f"propose {window()} Warm-up", user_id=PROPOSER)
        senders = prepare(runtime, standin, sim, count)
        counter = Counter()
        engine = runtime.store.engine  # type: ignore[attr-defined]
        event.listen(engine, "begin", counter.on_begin)
        event.listen(engine, "checkout", counter.on_checkout)
        # An idle stretch alone: what the worker's empty polls add to any run.
        begins0, stmts0 = counter.snapshot()
        settle(runtime, standin)
        begins1, stmts1 = counter.snapshot()
        print(
            f"idle settle stretch: {begins1 - begins0} transactions, {sum((stmts1 - stmts0).values())} statements"
        )
        print(f"{'kind':8} {'transactions/request':>21} {'statements/request':>19}")
        details = {}
        for kind in KINDS:
            b0, s0 = counter.snapshot()
            for i in range(count):
                senders[kind](i)
            settle(runtime, standin)
            b1, s1 = counter.snapshot()
            diff = s1 - s0
            details[kind] = diff
            print(f"{kind:8} {(b1 - b0) / count:21.2f} {sum(diff.values()) / count:19.2f}")
        if by_statement:
            for kind, diff in details.items():
                print(f"\n{kind}: statements per request")
                for stmt, n in diff.most_common():
                    print(f"  {n / count:6.2f}  {stmt}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--by-statement", action="store_true")
    args = parser.parse_args()
    run(args.count, args.by_statement)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
