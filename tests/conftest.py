"""Shared test setup: no test sees the developer's Slack or chatops settings, and every test uses the time-zone
rules chatops uses by default (the tzdata package's), whatever the host has."""

from __future__ import annotations

import os

import pytest

from chatops import tzdb

tzdb.use("package")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many processes ``-n auto`` (in pyproject's ``addopts``) runs the suite in.

    The suite mostly waits rather than computes: on servers and processes it boots, on Slack retries and
    backoffs it provokes, on PostgreSQL. One worker more than there are cores keeps the cores busy while some
    wait (measured on two cores: 3 workers bring a 130-190 s serial run to about 100 s; 4 gain nothing more and
    load the timing-bound process tests harder). ``--dist worksteal`` (also in ``addopts``) lets an idle worker take
    tests queued on a busy one, so the long process tests do not leave one worker finishing alone: 141-143 s with
    the default ``load`` against 106-112 s, 1,421 tests on two cores. Named tests (``path::test``) run in this
    process, with no worker to start. ``-n N`` or ``PYTEST_XDIST_AUTO_NUM_WORKERS`` choose otherwise; ``-n 0``
    runs serially.
    """
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if chosen.isdigit():
        return int(chosen)
    if config.args and all("::" in arg for arg in config.args):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, min(8, cores + 1))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every ``SLACK_*`` and ``CHATOPS_*`` variable, so configuration comes only from the test."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "CHATOPS_")):
            monkeypatch.delenv(name)
