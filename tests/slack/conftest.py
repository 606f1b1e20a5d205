"""The real chatops app over real HTTP against a loopback Slack Web API stand-in.

Each test gets a fresh server, database and stand-in. The ``server`` fixture (and ``slack``, which most tests use)
serves the app in this process: the same runtime ``chatops serve`` builds (Bolt app, store, delivery worker, WSGI
front door) behind a threaded HTTP server on a free loopback port, so a test costs milliseconds, not a process
start. Tests about the process itself (gunicorn workers, kill -9, SIGTERM, logs on stderr, metrics over workers)
call :func:`start_server`, which runs the real ``chatops serve`` command. The regions file marks Iran sensitive from
yesterday for 60 days, so a 22:00 Pacific window next week lands at 09:30 in Tehran and is flagged.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from zoneinfo import ZoneInfo

import httpx
import pytest
from dbs import migrated_sqlite_url
from slackfake.app_setup import free_port, regions_file
from slackfake.signing import SlackClientSim
from slackfake.standin import Message, SlackStandIn

from chatops.config import Settings
from chatops.observability import make_handler
from chatops.web import Runtime, WsgiApp, build_runtime

SECRET = "test-signing-secret-8f2a"
TOKEN = "xoxb-test-token"
CHANNEL = "C0CHANGES"
PROPOSER = "U0PROPOSER"
APPROVER_1 = "U0APPROVER1"
APPROVER_2 = "U0APPROVER2"  # an approver through the user group below
OUTSIDER = "U0OUTSIDER"
ADMIN = "U0ADMIN"
GROUP = "S0OPS"


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def server_env(
    tmp_path: Path, standin: SlackStandIn, database_url: str, extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment ``chatops serve`` and ``chatops worker`` run with in these tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.url,
            "CHATOPS_CHANNEL": CHANNEL,
            # The proposer is an approver too: self-approval must be refused by the rule, not by membership.
            "CHATOPS_APPROVERS": f"{PROPOSER} {APPROVER_1} {GROUP}",
            "CHATOPS_ADMINS": ADMIN,
            "CHATOPS_DATABASE_URL": database_url,
            "CHATOPS_CONFIG": str(regions_file(tmp_path / "regions.toml", today=datetime.now(UTC).date())),
            "CHATOPS_DELIVERY_RETRY_CAP": "1",
        }
    )
    env.update(extra_env or {})
    return env


def start_server(
    tmp_path: Path,
    standin: SlackStandIn,
    database_url: str,
    *,
    name: str = "app",
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Server:
    port = free_port()
    log = tmp_path / f"{name}.log"
    env = server_env(tmp_path, standin, database_url, extra_env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatops",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--threads",
                "4",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log, database_url=database_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chatops serve exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(server)
    pytest.fail(f"chatops serve did not answer /healthz within 30 s:\n{server.output()}")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the app writes its own access log
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class LiveServer:
    """``chatops serve``'s runtime and front door, served in this process (see the module docstring)."""

    url: str
    log: Path
    database_url: str
    runtime: Runtime
    httpd: _ThreadingServer
    handler: logging.Handler
    stream: TextIO
    thread: threading.Thread

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def output(self) -> str:
        if not self.stream.closed:
            self.handler.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
        self.runtime.close()
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        self.stream.close()


def settings_for(tmp_path: Path, standin: SlackStandIn, database_url: str, **extra: Any) -> Settings:
    """The settings every Slack test runs with (``extra`` overrides or adds some)."""
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


def serve_in_process(
    tmp_path: Path, standin: SlackStandIn, database_url: str, *, name: str = "app", **settings: Any
) -> LiveServer:
    log = tmp_path / f"{name}.log"
    stream = log.open("a", encoding="utf-8")
    handler = make_handler("json", stream)
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    runtime = build_runtime(settings_for(tmp_path, standin, database_url, **settings))
    httpd = make_server(
        "127.0.0.1", 0, WsgiApp(runtime), server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return LiveServer(
        url=f"http://127.0.0.1:{httpd.server_port}",
        log=log,
        database_url=database_url,
        runtime=runtime,
        httpd=httpd,
        handler=handler,
        stream=stream,
        thread=thread,
    )


def stop_server(server: Server, *, sig: int = signal.SIGTERM) -> None:
    if server.process.poll() is None:
        server.process.send_signal(sig)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as slack:
        slack.set_user(PROPOSER, tz="America/Los_Angeles", name="proposer")
        slack.set_user(APPROVER_1, tz="Europe/Berlin", name="approver one")
        slack.set_user(APPROVER_2, tz="Asia/Kolkata", name="approver two")
        slack.set_user(OUTSIDER, tz="UTC", name="outsider")
        slack.set_usergroup(GROUP, [APPROVER_2])
        yield slack


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite database already at the newest schema (the server's own upgrade on start is a no-op)."""
    return migrated_sqlite_url(tmp_path)


@pytest.fixture
def server(tmp_path: Path, standin: SlackStandIn, database_url: str) -> Iterator[LiveServer]:
    running = serve_in_process(tmp_path, standin, database_url)
    try:
        yield running
    finally:
        running.stop()
    output = running.output()
    assert "Traceback" not in output, output
    assert TOKEN not in output and SECRET not in output  # secrets never reach the logs


@pytest.fixture
def slack(server: LiveServer, standin: SlackStandIn) -> Iterator[SlackClientSim]:
    with SlackClientSim(server.events_url, signing_secret=SECRET, standin=standin) as sim:
        yield sim


def next_week(weekday: int = 0) -> date:
    """A date 7-13 days ahead that falls on ``weekday`` (Monday = 0)."""
    today = datetime.now(UTC).date()
    day = today + timedelta(days=7)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def local_clock(day: date, clock: str, *, given: str, shown: str) -> str:
    """``HH:MM`` in zone ``shown`` of ``day clock`` read in zone ``given`` (tests stay right across DST)."""
    hour, minute = (int(x) for x in clock.split(":"))
    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(given))
    return moment.astimezone(ZoneInfo(shown)).strftime("%H:%M")


def parent_of(standin: SlackStandIn) -> Message:
    [post] = [c for c in standin.wait_for("chat.postMessage") if not c.params.get("thread_ts")]
    return standin.message(CHANNEL, post.response["ts"])


def propose(slack: SlackClientSim, standin: SlackStandIn, clock: str = "22:00") -> Message:
    """Propose a one-hour window next Monday at ``clock`` Pacific and wait for its 'proposed' reply."""
    day = next_week(0)
    slack.command(f"propose {day} {clock} America/Los_Angeles 1h Core network upgrade", user_id=PROPOSER)
    parent = parent_of(standin)
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) >= 1, message="the 'proposed' reply")
    return parent


def replies(standin: SlackStandIn, parent: Message) -> list[str]:
    """The text of each reply in the parent's thread."""
    return [m.text or "" for m in standin.thread(CHANNEL, parent.ts)]


def all_text(message: Message) -> str:
    """Everything a reader sees in a message: its text and the text of its blocks."""
    import json

    return (message.text or "") + "\n" + json.dumps(message.blocks or [], ensure_ascii=False)


def approve_flagged(
    slack: SlackClientSim, standin: SlackStandIn, parent: Message, user: str, why: str = "Agreed with Tehran"
) -> httpx.Response:
    """Approve a flagged window as an approver does: tap Approve, then confirm in the modal with a reason."""
    from chatops.slack import ids

    def confirmation(call: object) -> bool:
        return getattr(call, "method", "") == "views.open" and (
            call.json("view")["callback_id"] == ids.APPROVE_VIEW  # type: ignore[attr-defined]
        )

    before = len([c for c in standin.calls if confirmation(c)])
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=user)
    view = standin.wait_for(confirmation, count=before + 1)[-1].json("view")
    from slackfake import payloads

    return slack.view_submission(
        ids.APPROVE_VIEW,
        values={ids.JUSTIFICATION: {ids.JUSTIFICATION: payloads.plain_text_input(why)}},
        private_metadata=view["private_metadata"],
        user_id=user,
    )


def confirm_approval(sim: SlackClientSim, user: str, *, proposal: int = 1, round: int = 1) -> httpx.Response:
    """Submit the confirmation of a flagged approval directly (as a second tab, a retry or a race would)."""
    import json

    from slackfake import payloads

    from chatops.slack import ids

    return sim.view_submission(
        ids.APPROVE_VIEW,
        values={ids.JUSTIFICATION: {ids.JUSTIFICATION: payloads.plain_text_input("Agreed with Tehran")}},
        private_metadata=json.dumps({"proposal": proposal, "version": 1, "round": round}),
        user_id=user,
    )
