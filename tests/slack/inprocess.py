"""The app in this process: the real WSGI front door and Bolt app, driven over httpx's WSGI transport against the
Web API stand-in, with no server to boot. For the tests where the HTTP server or a crash is not the point."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from conftest import SECRET, settings_for
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.web import Runtime, WsgiApp, build_runtime


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
