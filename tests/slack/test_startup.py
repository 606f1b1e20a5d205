"""Start-up is quiet: no Bolt warning about the token when the app is given its own client on purpose."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chatops.config import Settings
from chatops.web import build_runtime


def test_no_token_warning_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # as in production: Bolt reads it too
    settings = Settings(
        slack_bot_token="xoxb-from-the-environment",
        slack_signing_secret="not-used",
        slack_api_url="http://127.0.0.1:9/api/",
        chatops_channel="C0CHANGES",
        chatops_approvers="U0APPROVER S0OPS",
        chatops_mention_groups=False,
        chatops_database_url=f"sqlite:///{tmp_path / 'ops.db'}",
    )
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    bolt = logging.getLogger("chatops.bolt")
    handler = Collect()
    bolt.addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG):
            running = build_runtime(settings, start_worker=False)
            running.close()
    finally:
        bolt.removeHandler(handler)
    assert not [m for m in seen + caplog.messages if "will be unused" in m]
    # Group mentions are off: only the approver users are mentioned.
    assert running.worker.mention == ("U0APPROVER",)
