"""Shared test setup: no test sees the developer's Slack or chatops settings, and every test uses the time-zone
rules chatops uses by default (the tzdata package's), whatever the host has."""

from __future__ import annotations

import os

import pytest

from chatops import tzdb

tzdb.use("package")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every ``SLACK_*`` and ``CHATOPS_*`` variable, so configuration comes only from the test."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "CHATOPS_")):
            monkeypatch.delenv(name)
