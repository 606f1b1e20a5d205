"""The crash-and-outage burst of tests/slack/burst.py, larger, printing its counts.

    .venv/bin/python benchmarks/burst.py [--proposals 30]

Needs PostgreSQL at 127.0.0.1:5432 (database ``test``), as the tests do.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "slack"), str(ROOT / "tests")]

from burst import run_burst  # noqa: E402
from conftest import APPROVER_1, APPROVER_2, GROUP, OUTSIDER, PROPOSER, TOKEN  # noqa: E402
from dbs import fresh_url  # noqa: E402
from slackfake.standin import SlackStandIn  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=30, help="proposals; each gets two approval clicks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SlackStandIn(token=TOKEN) as standin:
        for user in (PROPOSER, APPROVER_1, APPROVER_2, OUTSIDER):
            standin.set_user(user, tz="UTC", name=user.lower())
        standin.set_usergroup(GROUP, [APPROVER_2])
        with fresh_url("postgresql", Path(tmp)) as url:
            counts = run_burst(Path(tmp), standin, url, proposals=args.proposals)
    print(json.dumps(counts.as_dict(), indent=2))


if __name__ == "__main__":
    main()
