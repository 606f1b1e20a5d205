"""CPU of the minute's sweep (``Service.sweep``) with many approved changes to come, each carrying the snapshot
of the regions the app ships with (about 90 KB) and its three reminders, in a SQLite file: the median of
``--repeat`` sweeps after one warm-up, none of which finds anything to do (every approval is young, every
reminder scheduled). It runs against older versions too (put their ``chatops`` first on ``PYTHONPATH``).

    .venv/bin/python benchmarks/sweep.py [--approved 200] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_ops import new, shipped_snapshot

from chatops.config import parse_regions
from chatops.domain.policy import Status
from chatops.domain.timeline import to_ts
from chatops.service import Service
from chatops.store import canonical_json
from chatops.store.sql import SqlStore

CONFIG = """
[policy]
approval_max_age_days = 30

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approved", type=int, default=200, help="approved changes to come")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    at = to_ts(now)
    snapshot = canonical_json(shipped_snapshot())
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore.open(f"sqlite:///{Path(tmp) / 'sweep.db'}")
        try:
            service = Service(
                store=store,
                config=parse_regions(CONFIG, source="benchmark"),
                channel="C0CHANGES",
                approvers=lambda: frozenset({"U0APPROVER"}),
                clock=lambda: now,
            )
            with store.transaction() as tx:
                for i in range(args.approved):
                    start = at + 3 * 86_400 + i * 600
                    row = tx.insert_proposal(
                        new(i, snapshot, start_ts=start, end_ts=start + 3600, status=Status.APPROVED)
                    )
                    tx.add_approval(row.id, round=row.round, approver="U0APPROVER", at=at - 3000)
            for row in store.list_summaries(statuses=[Status.APPROVED], limit=args.approved):
                # Each change's three reminders, scheduled in Slack already: nothing for the sweep to do.
                for kind, post_at in (
                    ("before", row.start_ts - 900),
                    ("start", row.start_ts),
                    ("end", row.end_ts),
                ):
                    store.save_reminder(
                        row.id,
                        kind=kind,
                        post_at=post_at,
                        channel="C0CHANGES",
                        scheduled_message_id=f"Q{row.id}{kind}",
                        scheduled_at=at - 3000,
                    )
            service.sweep()  # warm-up
            spent = []
            for _ in range(args.repeat):
                began = time.thread_time()
                result = service.sweep()
                spent.append((time.thread_time() - began) * 1000)
                assert not result.expired and not result.warned
        finally:
            store.engine.dispose()
    print(
        f"sweep with {args.approved} approved changes to come (shipped-region snapshots), SQLite: "
        f"CPU median {statistics.median(spent):.2f} ms, min {min(spent):.2f} ms ({args.repeat} sweeps)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
