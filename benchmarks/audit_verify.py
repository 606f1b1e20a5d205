"""What `chatops audit verify` costs per 10,000 events, on SQLite and PostgreSQL.

A real history is written through the service (each change proposed, then approved, rejected or postponed and
approved: about 2.2 events per change), with an audit key, so every transaction also writes a signed
checkpoint. Then :func:`chatops.audit.verify` (the chain, every change's state re-derived and compared with
the tables, every checkpoint's MAC) is timed, best of three.

    .venv/bin/python benchmarks/audit_verify.py [events] [sqlite|postgresql ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dbs import postgres_schema_url

from chatops.audit import verify
from chatops.config import parse_regions
from chatops.service import ProposalRequest, Service
from chatops.store.sql import SqlStore

KEY = b"benchmark key"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n'
    '[[regions]]\nid = "br"\nname = "Brazil"\ntimezone = "America/Sao_Paulo"\npeak_hours = ["08:00-22:00"]\n',
    source="benchmark",
)


def write_history(store: SqlStore, events: int) -> int:
    service = Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA", "UB"}),
        clock=lambda: NOW,
        display_name=lambda user: f"Person {user}",
    )
    written = i = 0
    while written < events:
        i += 1
        request = ProposalRequest(
            idempotency_key=None,
            proposer="UP",
            title=f"Change {i}",
            start=NOW + timedelta(days=1 + i % 30, hours=i % 24),
            duration=timedelta(hours=1),
            input_tz="America/Los_Angeles",
            description="the work",
            rollback_plan="undo it",
        )
        pid = service.propose(request).proposal.id
        written += 1
        if i % 10 == 0:
            service.reject(pid, actor="UA", reason="not now")
            written += 1
        elif i % 10 == 1:
            service.postpone(
                pid,
                actor="UP",
                start=request.start + timedelta(days=1),
                duration=request.duration,
                reason="x",
            )
            service.approve(pid, actor="UA")
            written += 2
        else:
            service.approve(pid, actor="UA")
            written += 1
    return written


def measure(url: str, events: int, backend: str) -> None:
    store = SqlStore.open(url, audit_key=KEY)
    try:
        t0 = time.perf_counter()
        written = write_history(store, events)
        load = time.perf_counter() - t0
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = verify(store, key=KEY)
            timings.append(time.perf_counter() - t0)
            assert report.intact, report.problems[:3]
        best = min(timings)
        print(
            f"{backend}: {written:,} events, {report.changes:,} changes, {report.checkpoints:,} checkpoints "
            f"(written in {load:.1f} s); verify best of 3: {best:.2f} s = {best * 10_000 / written:.2f} s "
            f"per 10,000 events"
        )
    finally:
        store.close()


def main(argv: list[str]) -> None:
    events = int(argv[0]) if argv else 10_000
    backends = argv[1:] or ["sqlite", "postgresql"]
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                measure(f"sqlite:///{tmp}/bench.db", events, backend)
        else:
            with postgres_schema_url() as url:
                measure(url, events, backend)


if __name__ == "__main__":
    main(sys.argv[1:])
