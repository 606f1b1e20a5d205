"""What follows an ack starts once the ack has been sent (chatops.deferred): the front door hands what follows
the ack to its pool, wakes the delivery worker and writes the access line only when the server has taken
the response's body; the work itself is unchanged. In process, the WSGI app called as a server calls it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import CHANNEL, PROPOSER, SECRET, next_week, settings_for
from slackfake import payloads
from slackfake.signing import sign
from slackfake.standin import SlackStandIn

from chatops.web import Runtime, WsgiApp, build_runtime


@pytest.fixture
def runtime(tmp_path: Path, standin: SlackStandIn, database_url: str) -> Iterator[Runtime]:
    running = build_runtime(settings_for(tmp_path, standin, database_url))
    try:
        yield running
    finally:
        running.close()


def command_environ(standin: SlackStandIn, text: str) -> dict[str, Any]:
    fields = payloads.load("slash_command")
    fields.update(
        text=text,
        user_id=PROPOSER,
        channel_id=CHANNEL,
        response_url=standin.response_url(channel=CHANNEL),
    )
    body = payloads.form_body(fields)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in sign(body, SECRET).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    assert status.startswith("200"), status


def test_an_informative_commands_answer_starts_after_the_body_is_taken(
    runtime: Runtime, standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = runtime.app.listener_runner.listener_executor
    started: list[object] = []
    real_submit = ThreadPoolExecutor.submit

    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if self is pool:
            started.append(fn)
        return real_submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit)
    caplog.set_level(logging.INFO, logger="chatops.access")
    body = WsgiApp(runtime)(
        command_environ(standin, f"check {next_week()} 22:00 America/Los_Angeles 1h"), start_response
    )
    assert started == []  # acked, nothing started yet
    assert not [r for r in caplog.records if r.name == "chatops.access"]
    assert b"".join(body) == b""
    assert len(started) == 1  # the answer's work, once the body was taken
    [line] = [r for r in caplog.records if r.name == "chatops.access"]
    assert line.getMessage().startswith("POST /slack/events 200 ")
    [reply] = standin.wait_for("response_url")
    assert "Check" in reply.body.decode()


def test_a_proposal_is_committed_before_the_ack_and_the_worker_woken_after_it(
    runtime: Runtime, standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[int] = []
    wake = runtime.worker.wake
    monkeypatch.setattr(runtime.worker, "wake", lambda: (woken.append(1), wake()))
    environ = command_environ(standin, f"propose {next_week()} 14:00 America/Los_Angeles 1h Upgrade")
    body = WsgiApp(runtime)(environ, start_response)
    assert runtime.store.count_proposals() == 1  # stored, then acknowledged
    assert woken == []
    body.close()  # a server that closes the body without reading it releases it all the same
    assert woken == [1]
    standin.wait_for("chat.postMessage")


def test_authorization_asks_slack_once_per_process_not_per_request(
    runtime: Runtime, standin: SlackStandIn
) -> None:
    app = WsgiApp(runtime)
    text = f"check {next_week()} 22:00 America/Los_Angeles 1h"
    b"".join(app(command_environ(standin, text), start_response))
    first = len(standin.calls_to("auth.test"))
    for _ in range(3):
        b"".join(app(command_environ(standin, text), start_response))
    standin.wait_for("response_url", count=4)
    assert 1 <= first <= 2  # Bolt's authorization and the workspace check, each once
    assert len(standin.calls_to("auth.test")) == first
