"""Operations: JSON log lines with request context, /healthz, /readyz, /metrics and the access log,
exercised on the WSGI front door in-process (the real server is in tests/slack/test_operations.py)."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from chatops.config import Settings
from chatops.observability import (
    ContextFilter,
    ContextThreadPoolExecutor,
    JsonFormatter,
    TextFormatter,
    log_context,
    make_handler,
    proposal_id,
    request_id,
)
from chatops.service import ProposalRequest
from chatops.web import Runtime, WsgiApp, build_runtime

# -- log lines -------------------------------------------------------------------------------------


def _record(message: str = "hello %s", *args: Any, exc: bool = False, **extra: Any) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    if not args and "%s" in message:
        args = ("world",)
    record = logging.LogRecord("chatops.test", logging.WARNING, __file__, 1, message, args, exc_info)
    record.created = datetime(2026, 11, 30, 21, 4, 5, 123000, tzinfo=UTC).timestamp()
    for key, value in extra.items():
        setattr(record, key, value)
    ContextFilter().filter(record)
    return record


def test_a_json_line_has_time_level_logger_message_and_nothing_unset() -> None:
    line = JsonFormatter().format(_record())
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-30T21:04:05.123Z",
        "level": "WARNING",
        "logger": "chatops.test",
        "message": "hello world",
    }


def test_a_json_line_carries_the_context_and_the_extras_and_extras_win() -> None:
    with log_context(request_id="r1", slack_retry_num=2, proposal_id=7):
        doc = json.loads(JsonFormatter().format(_record(latency_ms=12.5, proposal_id=9, status=200)))
    assert {k: doc[k] for k in ("request_id", "slack_retry_num", "proposal_id", "latency_ms", "status")} == {
        "request_id": "r1",
        "slack_retry_num": 2,
        "proposal_id": 9,
        "latency_ms": 12.5,
        "status": 200,
    }
    assert request_id.get() is None and proposal_id.get() is None  # reset after the block


def test_an_exception_is_one_line_with_its_traceback_in_exc_info() -> None:
    line = JsonFormatter().format(_record("failed", exc=True))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["message"] == "failed"
    assert doc["exc_info"].startswith("Traceback") and "ValueError: boom" in doc["exc_info"]


def test_text_lines_append_the_context() -> None:
    formatter = TextFormatter()
    assert formatter.format(_record()).endswith("WARNING chatops.test: hello world")
    with log_context(request_id="r2"):
        assert formatter.format(_record()).endswith("hello world [request_id=r2]")


def test_the_handler_writes_one_json_object_per_line() -> None:
    stream = io.StringIO()
    log = logging.getLogger("chatops.test.handler")
    log.propagate = False
    handler = make_handler("json", stream)
    log.addHandler(handler)
    try:
        with log_context(request_id="abc"):
            log.warning("one %s", "two", extra={"proposal_id": 4})
            try:
                raise RuntimeError("x\ny")
            except RuntimeError:
                log.exception("caught")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    docs = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [d["message"] for d in docs] == ["one two", "caught"]
    assert all(d["request_id"] == "abc" for d in docs) and docs[0]["proposal_id"] == 4
    with pytest.raises(ValueError, match="unknown log format"):
        make_handler("xml")


def test_listener_threads_run_in_the_submitters_context_and_do_not_leak() -> None:
    with ContextThreadPoolExecutor(max_workers=1) as pool:
        with log_context(request_id="from-request"):
            assert pool.submit(request_id.get).result() == "from-request"

        def sets() -> int | None:
            before = proposal_id.get()
            proposal_id.set(5)
            return before

        assert pool.submit(sets).result() is None
        assert pool.submit(sets).result() is None  # the same thread, a fresh context each time
        assert pool.submit(request_id.get).result() is None


# -- the front door --------------------------------------------------------------------------------


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        slack_bot_token="xoxb-not-used",
        slack_signing_secret="not-used",
        slack_api_url="http://127.0.0.1:9/api/",
        chatops_channel="C0CHANGES",
        chatops_approvers="U0APPROVER",
        chatops_database_url=f"sqlite:///{tmp_path / 'ops.db'}",
    )
    running = build_runtime(settings, start_worker=False)
    yield running
    running.close()


def call(
    app: WsgiApp, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO(b"")}
    for key, value in (headers or {}).items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response)).decode()
    return int(answer["status"].split()[0]), answer["headers"], body


def metric(body: str, name: str, **labels: str) -> float:
    """The value of one sample in a text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        sample, _, rest = key.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if sample == name and got == want:
            return float(value)
    return 0.0


def test_healthz_and_readyz_answer_when_the_database_is_migrated(runtime: Runtime) -> None:
    app = WsgiApp(runtime)
    assert call(app, "/healthz")[::2] == (200, "ok\n")
    assert call(app, "/readyz")[::2] == (200, "ready\n")


def test_readyz_is_503_with_a_reason_when_the_schema_is_not_the_codes(
    runtime: Runtime, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_newer'"))
    engine.dispose()
    status, _, body = call(WsgiApp(runtime), "/readyz")
    assert status == 503
    assert (
        body.startswith("not ready: database schema is at ffff_newer, this code needs ")
        and body.count("\n") == 1
    )
    assert call(WsgiApp(runtime), "/healthz")[0] == 200  # alive all the same


class _DownStore:
    def ping(self) -> None:
        raise OSError("connection refused to db:5432")

    def outbox_stats(self, *, now: int) -> tuple[int, int]:
        raise OSError("connection refused to db:5432")


def test_readyz_is_503_when_the_database_is_unreachable_and_metrics_still_answer(runtime: Runtime) -> None:
    down = Runtime(**{**runtime.__dict__, "store": _DownStore()})  # type: ignore[arg-type]
    app = WsgiApp(down)
    status, _, body = call(app, "/readyz")
    assert (status, body) == (503, "not ready: database unreachable (OSError)\n")
    status, _, body = call(app, "/metrics")
    assert status == 200 and metric(body, "chatops_database_up") == 0


def test_every_request_gets_a_request_id_and_one_access_line(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = WsgiApp(runtime)
    caplog.set_level(logging.INFO, logger="chatops.access")
    _, headers, _ = call(app, "/healthz", headers={"X-Request-Id": "lb-1234"})
    assert headers["X-Request-Id"] == "lb-1234"
    _, headers, _ = call(app, "/nowhere", headers={"X-Request-Id": "bad id with spaces"})
    generated = headers["X-Request-Id"]
    assert len(generated) == 32 and generated != "bad id with spaces"
    call(app, "/slack/events", method="POST", headers={"X-Slack-Retry-Num": "2"})
    records = [r for r in caplog.records if r.name == "chatops.access"]
    assert [(r.method, r.path, r.status) for r in records] == [  # type: ignore[attr-defined]
        ("GET", "/healthz", 200),
        ("GET", "/nowhere", 404),
        ("POST", "/slack/events", 401),  # no signature
    ]
    assert [r.request_id for r in records[:2]] == ["lb-1234", generated]  # type: ignore[attr-defined]
    assert records[2].slack_retry_num == 2 and "(Slack retry 2)" in records[2].getMessage()  # type: ignore[attr-defined]
    assert all(isinstance(r.latency_ms, float) for r in records)  # type: ignore[attr-defined]


def test_metrics_count_requests_acks_decisions_and_read_the_outbox(runtime: Runtime) -> None:
    app = WsgiApp(runtime)
    before = call(app, "/metrics")[2]
    call(app, "/healthz")
    call(app, "/no/such/path")
    call(app, "/slack/events", method="POST")
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=3, minute=0, second=0, microsecond=0)
    runtime.service.propose(
        ProposalRequest(
            idempotency_key="k1",
            proposer="U1",
            title="Upgrade",
            start=start,
            duration=timedelta(hours=1),
            input_tz="UTC",
        )
    )
    status, headers, after = call(app, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")

    def delta(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert delta("chatops_http_requests_total", path="/healthz", status="200") == 1
    assert delta("chatops_http_requests_total", path="other", status="404") == 1
    assert delta("chatops_http_requests_total", path="/slack/events", status="401") == 1
    assert delta("chatops_slack_ack_seconds_count") == 1
    assert delta("chatops_decisions_total", kind="proposed") == 1
    assert metric(after, "chatops_database_up") == 1
    assert metric(after, "chatops_outbox_depth") == 2  # the parent message and the "proposed" reply
    assert metric(after, "chatops_outbox_oldest_age_seconds") >= 0


def test_context_set_while_handling_a_request_does_not_outlive_it(runtime: Runtime, monkeypatch: Any) -> None:
    from slack_bolt import BoltResponse

    seen: list[Any] = []

    def dispatch(request: Any) -> BoltResponse:
        proposal_id.set(42)  # as a listener running in the request's thread does
        seen.append(request_id.get())
        return BoltResponse(status=200, body="")

    monkeypatch.setattr(runtime.app, "dispatch", dispatch)
    from slackfake.signing import sign

    status, headers, _ = call(WsgiApp(runtime), "/slack/events", method="POST", headers=sign(b"", "not-used"))
    assert status == 200 and seen == [headers["X-Request-Id"]]
    assert proposal_id.get() is None and request_id.get() is None
