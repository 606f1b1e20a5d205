"""The app in this process: the real WSGI front door and Bolt app, driven over httpx's WSGI transport against the
Web API stand-in, with no server to boot. For the tests where the HTTP server or a crash is not the point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from conftest import ADMIN, APPROVER_1, CHANNEL, GROUP, PROPOSER, SECRET, TOKEN
from slackfake.app_setup import regions_file
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.config import Settings
from chatops.web import Runtime, WsgiApp, build_runtime


def settings_for(tmp_path: Path, standin: SlackStandIn, database_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": standin.url,
        "chatops_channel": CHANNEL,
        "chatops_approvers": f"{PROPOSER} {APPROVER_1} {GROUP}",
        "chatops_admins": ADMIN,
        "chatops_database_url": database_url,
        "chatops_config": str(regions_file(tmp_path / "regions.toml", today=datetime.now(UTC).date())),
        "chatops_delivery_retry_cap": 1,
    }
    values.update(extra)
    return Settings(**values)


@contextmanager
def in_process(
    tmp_path: Path, standin: SlackStandIn, database_url: str, *, start_worker: bool = True, **extra: Any
) -> Iterator[tuple[Runtime, SlackClientSim]]:
    runtime = build_runtime(settings_for(tmp_path, standin, database_url, **extra), start_worker=start_worker)
    transport = httpx.WSGITransport(app=WsgiApp(runtime))
    try:
        with SlackClientSim(
            "http://chatops.test/slack/events", signing_secret=SECRET, standin=standin, transport=transport
        ) as sim:
            yield runtime, sim
    finally:
        runtime.close()
