"""A list read while another thread of the process is busy in Python: the calling thread's CPU and its wall time.

Python's ``sqlite3`` lets go of the interpreter lock around each ``sqlite3_step`` (one per row fetched) and must
wait for it again; beside a thread running Python, each wait lasts up to the switch interval (5 ms). In a
serving worker that other thread is the work after a previous ack, a delivery, a render. This benchmark lists
the 50 soonest of ``--open`` open proposals (``Store.list_summaries``, as ``/maintenance list`` and App Home do)
from a SQLite file, ``--count`` times alone and ``--count`` times beside one thread counting in a loop, and
prints the median and 90th percentile of each. It runs against older versions of the store too (put their
``chatops`` first on ``PYTHONPATH``).

    .venv/bin/python benchmarks/busy_reads.py [--open 300] [--count 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_ops import new

from chatops.domain.policy import Status
from chatops.store.sql import SqlStore

T0 = 1_800_000_000


def fill(store: SqlStore, count: int) -> None:
    with store.transaction() as tx:
        for i in range(count):
            start = T0 + (i * 7919) % count * 600  # inserted out of order
            tx.insert_proposal(
                new(
                    i,
                    {"x": "y" * 2000},
                    title=f"Core network upgrade {i}",
                    input_tz="Asia/Tehran",
                    start_ts=start,
                    end_ts=start + 3600,
                    flagged=i % 3 == 0,
                    created_at=T0 - 86_400,
                )
            )


def timed(fn: Callable[[], Any], count: int) -> tuple[list[float], list[float]]:
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(count):
        c, w = time.thread_time(), time.perf_counter()
        fn()
        cpu.append((time.thread_time() - c) * 1000)
        wall.append((time.perf_counter() - w) * 1000)
    return cpu, wall


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=300, help="open proposals in the database")
    parser.add_argument("--count", type=int, default=200, help="lists timed in each setting")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore.open(f"sqlite:///{Path(tmp) / 'busy.db'}")
        try:
            fill(store, args.open)

            def listing() -> None:
                listed = store.list_summaries(statuses=[Status.PENDING], end_after=T0, limit=50)
                assert len(listed) == min(50, args.open)

            timed(listing, 20)  # warm-up
            results = {"alone": timed(listing, args.count)}
            stop = threading.Event()

            def busy() -> None:
                n = 0
                while not stop.is_set():
                    for _ in range(1000):
                        n += 1

            other = threading.Thread(target=busy, daemon=True)
            other.start()
            try:
                results["beside a busy thread"] = timed(listing, args.count)
            finally:
                stop.set()
                other.join()
        finally:
            store.engine.dispose()
    print(f"50 summaries of {args.open} open proposals, SQLite, {args.count} lists each, ms")
    print(f"{'setting':<22} {'CPU p50':>8} {'CPU p90':>8} {'wall p50':>9} {'wall p90':>9}")
    for name, (cpu, wall) in results.items():
        print(
            f"{name:<22} {statistics.median(cpu):8.3f} {p90(cpu):8.3f} "
            f"{statistics.median(wall):9.3f} {p90(wall):9.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
