"""Done when: a bounded crash-and-outage burst over two instances on PostgreSQL ends with every acknowledged
decision stored and in its thread exactly once (see tests/slack/burst.py; benchmarks/burst.py runs it larger)."""

from __future__ import annotations

from pathlib import Path

from burst import run_burst
from dbs import fresh_url
from slackfake.standin import SlackStandIn


def test_a_crash_and_outage_burst_over_two_instances_loses_and_doubles_nothing(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    with fresh_url("postgresql", tmp_path) as url:
        counts = run_burst(tmp_path, standin, url, proposals=6)
    print(counts.as_dict())
    assert counts.sent == 12
    assert counts.acknowledged == counts.sent  # every click got its 200 in the end (Slack retries)
    assert counts.lost == 0 and counts.duplicates == 0, counts
    assert counts.stored == counts.acknowledged - counts.refused
    assert counts.replies == counts.stored
