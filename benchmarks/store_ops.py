"""CPU per store operation (SQLite file in WAL mode, or PostgreSQL in a schema of its own): the calls a
proposal, a click and the delivery worker make, each timed with ``time.process_time`` over ``--repeat`` calls
after a warm-up, the best of 7 rounds (on a shared machine the least disturbed round is the closest to the
operation's own cost). It runs against older versions of the store too (put their ``chatops`` first on
``PYTHONPATH``): "a parent, store side" then makes the calls the worker made before a claim brought the proposal.

    .venv/bin/python benchmarks/store_ops.py
    .venv/bin/python benchmarks/store_ops.py --backend postgresql   # CHATOPS_BENCH_POSTGRES_URL, as scale.py
    .venv/bin/python benchmarks/store_ops.py --snapshot shipped     # proposals carry a 299-region evaluation

The proposals' stored evaluation is a 1 KB stand-in by default; ``--snapshot shipped`` stores a real one of the
regions the app ships with (about 90 KB), as every proposal carries in a deployment that keeps them.
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatops.domain.policy import Status
from chatops.domain.records import OutboxKind
from chatops.store import NewProposal, OutboxRow, Outcome, canonical_json
from chatops.store.sql import SqlStore

EVALUATION = {
    "window": {"start": "2026-06-16T05:00:00+00:00", "end": "2026-06-16T06:00:00+00:00"},
    "x": "y" * 900,
}


def shipped_snapshot() -> dict[str, Any]:
    """A proposal's stored evaluation with the 299 regions the app ships with (a clear hour: no suggestions)."""
    from datetime import UTC, datetime, timedelta

    from chatops.config import load_regions
    from chatops.domain import Window, evaluate
    from chatops.service import Assessment

    window = Window.of(datetime(2026, 6, 16, 5, 0, tzinfo=UTC), timedelta(hours=1))
    return Assessment(evaluation=evaluate(window, regions=load_regions().regions), choices=()).document()


def new(i: int, evaluation: dict[str, Any] | str, **fields: Any) -> NewProposal:
    """Proposal ``i``, an hour long, its evaluation a document or its canonical JSON; ``fields`` override."""
    given = {"evaluation_json": evaluation} if isinstance(evaluation, str) else {"evaluation": evaluation}
    return NewProposal(
        **{
            "idempotency_key": f"k{i}-{time.time_ns()}",
            "title": f"Change {i}",
            "proposer": "U1",
            "channel": "C1",
            "input_tz": "UTC",
            "start_ts": 2_000_000_000 + i * 3600,
            "end_ts": 2_000_000_000 + i * 3600 + 3600,
            "flagged": False,
            "approvals_required": 1,
            "created_at": 1_700_000_000,
            **given,
            **fields,
        }
    )


def timed(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    rounds = []
    for _ in range(7):
        cpu = time.process_time()
        for _ in range(repeat):
            fn()
        rounds.append((time.process_time() - cpu) / repeat * 1e6)
    return min(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--snapshot", choices=("small", "shipped"), default="small")
    args = parser.parse_args()
    evaluation = shipped_snapshot() if args.snapshot == "shipped" else EVALUATION
    # Imported after chatops: scale.py puts this checkout first on sys.path, and an older chatops given on
    # PYTHONPATH must stay the one measured.
    from scale import database  # same directory: a fresh SQLite file or PostgreSQL schema

    with tempfile.TemporaryDirectory() as folder, database(args.backend, Path(folder)) as url:
        store = SqlStore.open(url)
        try:
            with store.transaction() as tx:
                ids = [tx.insert_proposal(new(i, evaluation)).id for i in range(60)]
            pid = ids[0]

            def write_tx() -> None:
                with store.transaction() as tx:
                    row = tx.lock_proposal(pid)
                    assert row is not None
                    tx.approvers(pid, round=row.round)

            def deliver_one() -> None:
                with store.transaction() as tx:
                    tx.enqueue(pid, kind=OutboxKind.REPLY, at=1)
                [message] = store.claim_outbox(now=2, limit=1)
                store.mark_delivered(message.id, at=3)

            claim_brings_proposal = "proposal" in OutboxRow.model_fields

            def parent_store_side() -> None:
                """What the worker asks of the store to post one parent message (the enqueue included)."""
                with store.transaction() as tx:
                    tx.enqueue(pid, kind=OutboxKind.POST_PARENT, at=1)
                [message] = store.claim_outbox(now=2, limit=1)
                if claim_brings_proposal:
                    store.mark_delivered(message.id, at=3, message_ts="1700000000.000100")
                else:
                    store.get_proposal(pid)
                    store.set_message_ts(pid, "1700000000.000100")
                    store.mark_delivered(message.id, at=3)

            follows = "follow" in inspect.signature(store.claim_outbox).parameters

            def approval_store_side() -> None:
                """An approval's reply, parent update and reminders' sync: enqueued, claimed, marked."""
                with store.transaction() as tx:
                    for kind in (OutboxKind.REPLY, OutboxKind.UPDATE_PARENT, OutboxKind.SYNC_REMINDERS):
                        tx.enqueue(pid, kind=kind, at=1)
                if (
                    follows
                ):  # claimed together, as the worker claims; their marks go with the claim after them
                    from chatops.delivery import FOLLOW

                    got = store.claim_outbox(now=2, limit=1, follow=FOLLOW)
                    store.claim_outbox(
                        now=3, limit=1, first=[Outcome(message_id=m.id, delivered_at=3) for m in got]
                    )
                    return
                first: Outcome | None = None
                while got := store.claim_outbox(now=2, limit=1, first=first):  # one claim a message
                    first = Outcome(message_id=got[0].id, delivered_at=3)

            ops: dict[str, Callable[[], Any]] = {
                "get_proposal": lambda: store.get_proposal(pid),
                "approvers": lambda: store.approvers(pid, round=1),
                "list_proposals (50)": lambda: store.list_proposals(statuses=(Status.PENDING,), limit=50),
                **(
                    {
                        "list_summaries (50)": lambda: store.list_summaries(
                            statuses=(Status.PENDING,), limit=50
                        )
                    }
                    if hasattr(store, "list_summaries")
                    else {}
                ),
                "claim_outbox, empty": lambda: store.claim_outbox(now=0, limit=1),
                "write tx: lock + approvers": write_tx,
                "enqueue, claim, mark delivered": deliver_one,
                "a parent, store side": parent_store_side,
                "an approval's 3 messages, store side": approval_store_side,
            }
            print(f"{'operation':34} {'CPU us':>8}   (snapshot: {len(canonical_json(evaluation)):,} bytes)")
            for name, fn in ops.items():
                print(f"{name:34} {timed(fn, args.repeat):8.1f}")
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
