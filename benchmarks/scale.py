"""Scale benchmark: the store's hot queries with 10,000 and 100,000 stored proposals, on SQLite and
PostgreSQL.

Each size gets a fresh database (a SQLite file in a temporary directory; a PostgreSQL schema of its own,
created and dropped like ``tests/dbs.py`` does), migrated by ``SqlStore.open`` and then bulk-loaded through
SQLAlchemy Core (``executemany`` in batches) on the tables of ``chatops/store/schema.py``: each proposal has
two events (``proposed`` and its decision, chained with real hashes), an approval when it was approved, and
two delivered outbox rows. History spans the past three years; a constant 40 windows lie ahead (pending or
approved), so ``/maintenance list`` has the same answer at every size, as it would in a real workspace.

Timed (median of many runs, random ids): ``Service.upcoming`` (``/maintenance list``), ``get_proposal``,
``proposal_by_key``, ``approvers``, a refused approval (locks the proposal in a write transaction),
``claim_outbox`` and ``outbox_stats`` (the delivery worker's poll and the metrics), and the audit export
(``chatops.audit.export_jsonl`` over ``store.iter_events``, all events, written to a null sink).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatops.audit import export_jsonl  # noqa: E402
from chatops.config import load_regions  # noqa: E402
from chatops.errors import NotAllowedError  # noqa: E402
from chatops.service import Service  # noqa: E402
from chatops.store import canonical_json, event_hash_v1  # noqa: E402
from chatops.store.schema import approvals, events, outbox, proposals  # noqa: E402
from chatops.store.sql import SqlStore  # noqa: E402

POSTGRES_URL = os.environ.get("CHATOPS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = int(datetime(2026, 6, 15, 12, 0, tzinfo=UTC).timestamp())
UPCOMING = 40
BATCH = 5000
PEOPLE = [f"U0PERSON{i:03d}" for i in range(60)]


@dataclass
class ScaleResult:
    backend: str
    proposals: int
    events: int
    load_s: float
    op: str
    median_us: float
    p95_us: float
    runs: int
    per_event_us: float | None = None  # export only


def _snapshot(start: int, end: int, flagged: bool) -> dict[str, Any]:
    window = {
        "start": datetime.fromtimestamp(start, UTC).isoformat(),
        "end": datetime.fromtimestamp(end, UTC).isoformat(),
    }
    return {
        "window": window,
        "flagged": flagged,
        "regions": [
            {
                "id": "ir",
                "name": "Iran",
                "timezone": "Asia/Tehran",
                "local_start": window["start"],
                "local_end": window["end"],
                "sensitive": flagged,
                "peak_overlap_minutes": 60 if flagged else 0,
                "flagged": flagged,
                "reasons": ["Election protests"] if flagged else [],
            },
            {
                "id": "us-west",
                "name": "United States (West)",
                "timezone": "America/Los_Angeles",
                "local_start": window["start"],
                "local_end": window["end"],
                "sensitive": False,
                "peak_overlap_minutes": 0,
                "flagged": False,
                "reasons": [],
            },
        ],
        "suggestions": [],
    }


def generate(
    count: int, *, seed: int = 7
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Rows for ``count`` proposals, id order = creation order: (proposal, events, approvals, outbox)."""
    rng = random.Random(seed)
    history = 3 * 365 * 86400
    past = count - UPCOMING
    for i in range(1, count + 1):
        if i <= past:
            start = NOW - history + (history * i) // past - 7200 - rng.randrange(3600)
            roll = rng.random()
            status = (
                "approved"
                if roll < 0.8
                else "rejected"
                if roll < 0.9
                else "cancelled"
                if roll < 0.99
                else "pending"
            )
        else:
            start = NOW + 3600 * (i - past) * 5
            status = "pending" if i % 2 else "approved"
        end = start + 3600
        created = min(start, NOW) - 86400
        flagged = rng.random() < 0.2
        proposer, approver = rng.sample(PEOPLE, 2)
        snapshot = _snapshot(start, end, flagged)
        proposal = {
            "id": i,
            "idempotency_key": f"command:{i}.{uuid.UUID(int=rng.getrandbits(128)).hex}",
            "title": f"Change {i}: rotate the core routers",
            "description": "",
            "rollback_plan": "",
            "ticket_url": "",
            "proposer": proposer,
            "channel": "C0CHANGES",
            "input_tz": "America/Los_Angeles",
            "start_ts": start,
            "end_ts": end,
            "status": status,
            "flagged": flagged,
            "approvals_required": 2 if flagged else 1,
            "round": 1,
            "version": 1 if status == "pending" else 2,
            "message_ts": f"{created}.{i:06d}",
            "evaluation": canonical_json(snapshot),
            "created_at": created,
            "updated_at": created + 600,
        }
        chain = [("proposed", proposer, created, "", {"window": snapshot["window"], "evaluation": snapshot})]
        if status == "approved":
            chain.append(("approved", approver, created + 600, "", {"round": 1, "approvals": 1}))
        elif status in ("rejected", "cancelled"):
            chain.append((status, approver, created + 600, "not now", {"round": 1, "approvals": 0}))
        else:
            chain.append(("commented", approver, created + 600, "", {"note": "looking"}))
        rows, prev = [], ""
        for seq, (kind, actor, at, reason, data) in enumerate(chain, start=1):
            digest = event_hash_v1(  # per-change chains, as written before the global chain
                prev_hash=prev,
                proposal_id=i,
                seq=seq,
                kind=kind,
                actor=actor,
                at=at,
                reason=reason,
                data=data,
            )
            rows.append(
                {
                    "gseq": 2 * i + seq,  # unique and in creation order; v1 events do not hash it
                    "hash_version": 1,
                    "proposal_id": i,
                    "seq": seq,
                    "kind": kind,
                    "actor": actor,
                    "at": at,
                    "reason": reason,
                    "data": canonical_json(data),
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        approved = (
            [{"proposal_id": i, "round": 1, "approver": approver, "at": created + 600}]
            if status == "approved"
            else []
        )
        box = [
            {
                "proposal_id": i,
                "kind": kind,
                "payload": "{}",
                "created_at": created,
                "attempts": 1,
                "next_attempt_at": created,
                "delivered_at": created + 1,
                "last_error": None,
                "leased_until": None,
                "abandoned_at": None,
            }
            for kind in ("post_parent", "reply")
        ]
        yield proposal, rows, approved, box


def bulk_load(store: SqlStore, count: int) -> int:
    """Insert ``count`` proposals and their rows; return how many events were written."""
    buffers: dict[Any, list[dict[str, Any]]] = {proposals: [], events: [], approvals: [], outbox: []}
    written = 0

    def flush(conn: Any) -> None:
        for table, rows in buffers.items():  # in this order: the foreign keys point at proposals
            if rows:
                conn.execute(table.insert(), rows)
                rows.clear()

    with store.engine.begin() as conn:
        for proposal, rows, approved, box in generate(count):
            buffers[proposals].append(proposal)
            buffers[events].extend(rows)
            buffers[approvals].extend(approved)
            buffers[outbox].extend(box)
            written += len(rows)
            if len(buffers[proposals]) >= BATCH:
                flush(conn)
        flush(conn)
        if store.engine.dialect.name == "postgresql":
            for table in (
                "proposals",
                "events",
                "approvals",
                "outbox",
            ):  # the ids were given: move the sequences on
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
    return written


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'scale-{uuid.uuid4().hex[:8]}.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:16]}"
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            yield (
                make_url(POSTGRES_URL)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        admin.dispose()


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm: connection pool, statement caches
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


class _Null:
    def write(self, text: str) -> int:
        return len(text)


def measure(
    backend: str, count: int, tmp: Path, *, runs: int, log: Callable[[str], None]
) -> list[ScaleResult]:
    with database(backend, tmp) as url:
        store = SqlStore.open(url)
        try:
            began = time.perf_counter()
            written = bulk_load(store, count)
            load_s = time.perf_counter() - began
            log(f"  {backend} {count:,}: loaded {count:,} proposals, {written:,} events in {load_s:.1f} s")
            service = Service(
                store=store,
                config=load_regions(None),
                channel="C0CHANGES",
                approvers=lambda: frozenset(PEOPLE[:5]),
                clock=lambda: datetime.fromtimestamp(NOW, UTC),
            )
            rng = random.Random(11)
            keys = [r["idempotency_key"] for r, *_ in generate(count) if r["id"] % max(1, count // 500) == 0]
            pending = [count - UPCOMING + i for i in range(1, UPCOMING + 1, 2)]
            assert len(service.upcoming()) == UPCOMING
            outsider = "U0NOBODY"

            def refused_approval() -> None:
                with suppress(NotAllowedError):
                    service.approve(rng.choice(pending), actor=outsider)

            ops: list[tuple[str, Callable[[], Any], int]] = [
                ("list (Service.upcoming)", service.upcoming, runs),
                ("get_proposal", lambda: store.get_proposal(rng.randint(1, count)), runs * 4),
                ("proposal_by_key", lambda: store.proposal_by_key(rng.choice(keys)), runs * 4),
                ("approvers", lambda: store.approvers(rng.randint(1, count), round=1), runs * 4),
                ("approve, refused (lock + read)", refused_approval, runs),
                ("claim_outbox (nothing due)", lambda: store.claim_outbox(now=NOW, limit=10), runs),
                ("outbox_stats", lambda: store.outbox_stats(now=NOW), runs),
            ]
            results = []
            for name, fn, n in ops:
                median, p95 = timed(fn, n)
                results.append(ScaleResult(backend, count, written, load_s, name, median, p95, n))
                log(f"    {name:32} {median:9.0f} us (p95 {p95:.0f})")
            sink = _Null()
            began = time.perf_counter()
            lines = 0
            for line in export_jsonl(store.iter_events()):
                sink.write(line)
                lines += 1
            seconds = time.perf_counter() - began
            assert lines == written, (lines, written)
            results.append(
                ScaleResult(
                    backend,
                    count,
                    written,
                    load_s,
                    "audit export (jsonl)",
                    seconds * 1e6,
                    seconds * 1e6,
                    1,
                    seconds * 1e6 / lines,
                )
            )
            log(f"    {'audit export (jsonl)':32} {seconds:9.2f} s  ({seconds * 1e6 / lines:.1f} us/event)")
            return results
        finally:
            store.close()


def run(*, quick: bool = False, log: Callable[[str], None] = print) -> list[ScaleResult]:
    sizes = (10_000,) if quick else (10_000, 100_000)
    runs = 30 if quick else 100
    results: list[ScaleResult] = []
    with tempfile.TemporaryDirectory(prefix="chatops-scale-") as tmp:
        for backend in ("sqlite", "postgresql"):
            for count in sizes:
                results += measure(backend, count, Path(tmp), runs=runs, log=log)
    return results


def growth(results: list[ScaleResult]) -> list[dict[str, Any]]:
    """Per backend and operation: the time at 100k over the time at 10k (per event, for the export)."""
    out = []
    by = {(r.backend, r.op, r.proposals): r for r in results}
    for (backend, op, count), small in by.items():
        if count != 10_000 or (backend, op, 100_000) not in by:
            continue
        big = by[(backend, op, 100_000)]
        if small.per_event_us is not None and big.per_event_us is not None:
            ratio = big.per_event_us / small.per_event_us
        else:
            ratio = big.median_us / small.median_us
        out.append({"backend": backend, "op": op, "ratio_100k_over_10k": ratio})
    return out


def table(results: list[ScaleResult]) -> str:
    sizes = sorted({r.proposals for r in results})
    rows = [["backend", "operation", *[f"{n // 1000}k" for n in sizes]]]
    by = {(r.backend, r.op, r.proposals): r for r in results}
    seen: list[tuple[str, str]] = []
    for r in results:
        if (r.backend, r.op) not in seen:
            seen.append((r.backend, r.op))
    for backend, op in seen:
        cells = []
        for n in sizes:
            r = by.get((backend, op, n))
            if r is None:
                cells.append("")
            elif r.per_event_us is not None:
                cells.append(f"{r.median_us / 1e6:.2f} s ({r.per_event_us:.1f} us/ev)")
            else:
                cells.append(f"{r.median_us / 1000:.3f} ms")
        rows.append([backend, op, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def as_json(results: list[ScaleResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


if __name__ == "__main__":
    found = run(quick="--quick" in sys.argv)
    print(table(found))
    for g in growth(found):
        print(g)
