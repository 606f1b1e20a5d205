"""CPU time to build Slack messages alone (no store, no HTTP): the Block Kit builders of ``chatops.slack``.

Each case is built ``--count`` times after a warm-up; the figure is the best of ``--repeat`` rounds of
``time.process_time()`` per build (the least disturbed by other work on the machine). The cases come from the
golden corpus of the tests (``tests/slack/corpus.py``): the README's flagged proposal (Iran, June 2009), the
400-region world with 31 flagged regions, the list of 50 of 300 changes, ``check`` of the README window, and
the approve form.

    .venv/bin/python benchmarks/render.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "slack"))

from corpus import _rows_for_list, readme_flagged  # noqa: E402
from test_blocks import row_for, world  # noqa: E402

from chatops.slack import blocks  # noqa: E402


def cases() -> dict[str, Callable[[], Any]]:
    readme = readme_flagged()
    big = row_for(world())
    rows = _rows_for_list()[:50]
    return {
        "proposal, README example": lambda: blocks.proposal_message(readme, [], mention=["S0OPS"]),
        "proposal, 400 regions": lambda: blocks.proposal_message(big, [], mention=["S0OPS"]),
        "list, 50 of 300": lambda: blocks.list_message(rows, total=300, at=rows[0].start_ts),
        "check, README example": lambda: blocks.assessment_message(
            readme.evaluation, heading="Times in America/Los_Angeles", tz="America/Los_Angeles"
        ),
        "approve form, README example": lambda: blocks.approve_modal(readme),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':32} {'us/build (best)':>16} {'median':>8}")
    for name, build in cases().items():
        for _ in range(20):
            build()
        rounds = []
        for _ in range(args.repeat):
            started = time.process_time()
            for _ in range(args.count):
                build()
            rounds.append((time.process_time() - started) / args.count * 1e6)
        rounds.sort()
        print(f"{name:32} {rounds[0]:16.0f} {rounds[len(rounds) // 2]:8.0f}")


if __name__ == "__main__":
    main()
