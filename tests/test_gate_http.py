"""``GET /api/v1/changes/CHG-12/gate``: the gate over HTTP for pipelines that cannot run the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chatops.config import Settings
from chatops.service import ProposalRequest
from chatops.web import Runtime, WsgiApp, build_runtime

TOKEN = "gate-token-0123456789abcdef"
START = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def make_runtime(tmp_path: Path, **extra: Any) -> Runtime:
    settings = Settings(
        slack_bot_token="xoxb-not-used",
        slack_signing_secret="not-used",
        slack_api_url="http://127.0.0.1:9/api/",
        chatops_channel="C0CHANGES",
        chatops_approvers="U0APPROVER",
        chatops_database_url=f"sqlite:///{tmp_path / 'ops.db'}",
        **extra,
    )
    return build_runtime(settings, start_worker=False)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    running = make_runtime(tmp_path, chatops_gate_token=TOKEN)
    service = running.service
    request = ProposalRequest(
        idempotency_key=None,
        proposer="U0PROPOSER",
        title="Core network upgrade",
        start=START,
        duration=timedelta(hours=1),
        input_tz="UTC",
    )
    proposal = service.propose(request).proposal
    service.approve(proposal.id, actor="U0APPROVER")
    yield running
    running.close()


def get(
    app: WsgiApp, path: str, *, query: str = "", token: str | None = TOKEN
) -> tuple[int, dict[str, str], str]:
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(b""),
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response)).decode()
    return int(answer["status"].split()[0]), answer["headers"], body


@pytest.mark.parametrize(
    ("at", "state", "go"),
    [
        ("2030-03-01T11:00:00Z", "not_yet_open", False),
        ("2030-03-01T12:30:00Z", "open", True),
        ("2030-03-01T13:00:00Z", "closed", False),
    ],
)
def test_the_answer_follows_the_instant_given(runtime: Runtime, at: str, state: str, go: bool) -> None:
    status, headers, body = get(WsgiApp(runtime), "/api/v1/changes/CHG-1/gate", query=f"at={at}")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert (answer["state"], answer["go"], answer["change"]) == (state, go, "CHG-1")
    assert answer["window"] == {"start": "2030-03-01T12:00:00Z", "end": "2030-03-01T13:00:00Z"}


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef", ""])
def test_a_missing_or_wrong_token_is_401_and_says_nothing_of_the_change(
    runtime: Runtime, token: str | None
) -> None:
    status, headers, body = get(WsgiApp(runtime), "/api/v1/changes/CHG-1/gate", token=token)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "CHG-1" not in body


@pytest.mark.parametrize(
    ("path", "query", "status", "error"),
    [
        ("/api/v1/changes/CHG-99/gate", "", 404, "there is no change CHG-99"),
        ("/api/v1/changes/CHG-x/gate", "", 404, "/api/v1/changes/CHG-12/gate"),
        ("/api/v1/changes/CHG-1/gate", "at=soon", 400, "at: "),
    ],
)
def test_bad_requests_get_a_json_error(
    runtime: Runtime, path: str, query: str, status: int, error: str
) -> None:
    got, _, body = get(WsgiApp(runtime), path, query=query)
    assert got == status
    assert error in json.loads(body)["error"]


def test_without_a_configured_token_the_endpoint_does_not_exist(tmp_path: Path) -> None:
    running = make_runtime(tmp_path)
    try:
        status, _, body = get(WsgiApp(running), "/api/v1/changes/CHG-1/gate")
    finally:
        running.close()
    assert (status, body) == (404, "not found\n")


def test_a_short_token_is_refused_at_start_up(tmp_path: Path) -> None:
    from chatops.errors import ConfigError

    with pytest.raises(ConfigError, match="CHATOPS_GATE_TOKEN"):
        from chatops.config import load_settings

        load_settings(
            slack_bot_token="xoxb-x",
            slack_signing_secret="s",
            chatops_channel="C1",
            chatops_approvers="U1",
            chatops_gate_token="short",
        )
