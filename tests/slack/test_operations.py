"""Running it: JSON logs with request and proposal context, /readyz and /metrics on the real server
(metrics added up over gunicorn's worker processes), and a graceful SIGTERM that leaves undelivered messages
for the next start."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from conftest import CHANNEL, PROPOSER, SECRET, Server, next_week, start_server, stop_server
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.store import open_store


def log_lines(server: Server) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as one JSON object (fails on any line that is not)."""
    docs = []
    for number, line in enumerate(server.output().splitlines(), 1):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(
                f"line {number} of the log is not JSON: {line!r}\n{server.output()}"
            ) from None
        assert isinstance(doc, dict) and {"time", "level", "logger", "message"} <= set(doc), line
        docs.append(doc)
    return docs


def metric(body: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in body.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        sample, _, rest = key.partition("{")
        got = (
            ",".join(sorted(p for p in rest.rstrip("}").split(",") if not p.startswith("pid=")))
            if rest
            else ""
        )
        if sample == name and got == want:
            total += float(value)
    return total


def top_level(standin: SlackStandIn) -> list:
    return [m for m in standin.messages(CHANNEL).values() if m.thread_ts is None]


def test_logs_are_json_lines_with_request_ids_and_proposal_ids(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    server = start_server(tmp_path, standin, database_url)
    try:
        assert httpx.get(server.url + "/readyz").text == "ready\n"
        # The worker warms up as it starts, before any request: one auth.test (Bolt's and the workspace
        # check's), the approver group, approvers' names.
        standin.wait_until(lambda: standin.calls_to("usergroups.users.list"), message="the warm-up")
        with SlackClientSim(server.events_url, signing_secret=SECRET, standin=standin) as slack:
            standin.fail_next(
                "chat.postMessage", 1, status=500
            )  # one failed delivery, logged with its proposal
            slack.command(f"propose {next_week(0)} 22:00 UTC 1h Logged change", user_id=PROPOSER)
            standin.wait_until(lambda: len(top_level(standin)) == 1, timeout=30, message="the parent")
        metrics = httpx.get(server.url + "/metrics").text
    finally:
        stop_server(server)
    assert server.process.returncode == 0
    docs = log_lines(server)
    [access] = [d for d in docs if d["logger"] == "chatops.access" and d.get("path") == "/slack/events"]
    assert access["method"] == "POST" and access["status"] == 200 and access["latency_ms"] >= 0
    assert re.fullmatch(r"[0-9a-f]{32}", access["request_id"])
    [decision] = [d for d in docs if d["message"] == "CHG-1 proposed"]
    assert decision["proposal_id"] == 1 and decision["kind"] == "proposed"
    # The listener ran after the ack, in another thread, and still logged with the request's id.
    assert decision["request_id"] == access["request_id"]
    [failed] = [d for d in docs if d["logger"] == "chatops.delivery"]
    assert failed["level"] == "WARNING" and failed["proposal_id"] == 1 and "failed" in failed["message"]
    assert any(d["logger"] == "gunicorn.error" for d in docs)  # gunicorn's own lines are JSON too
    assert not any("exc_info" in d for d in docs)
    assert metric(metrics, "chatops_decisions_total", kind="proposed") == 1
    assert metric(metrics, "chatops_slack_ack_seconds_count") == 1
    assert len(standin.calls_to("auth.test")) == 1


def test_metrics_add_up_over_every_worker_process(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    server = start_server(tmp_path, standin, database_url, workers=2)
    try:
        before = httpx.get(server.url + "/metrics").text
        with httpx.Client() as client:  # a fresh connection each time: both workers get some
            for _ in range(30):
                assert client.get(server.url + "/healthz", headers={"Connection": "close"}).status_code == 200
        after = httpx.get(server.url + "/metrics").text
        [directory] = [
            d["message"].rsplit(" ", 1)[1] for d in log_lines(server) if d["logger"] == "chatops.metrics"
        ]
        files = {p.name for p in Path(directory).glob("*.db")}
        assert any(name.startswith("counter_") for name in files), (
            files
        )  # multiprocess mode, in that directory
    finally:
        stop_server(server)
    healthz = {"path": "/healthz", "status": "200"}
    assert (
        metric(after, "chatops_http_requests_total", **healthz)
        - metric(before, "chatops_http_requests_total", **healthz)
        == 30
    )
    assert metric(after, "chatops_outbox_depth") == 0 and metric(after, "chatops_database_up") == 1
    docs = log_lines(server)
    served_by = {
        d["message"] for d in docs if d["logger"] == "gunicorn.error" and "Booting worker" in d["message"]
    }
    assert len(served_by) == 2
    assert not Path(directory).exists(), "the metrics directory is removed at exit"


def test_sigterm_stops_gracefully_and_the_outbox_is_delivered_once_after_a_restart(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    first = start_server(tmp_path, standin, database_url, name="first")
    try:
        with SlackClientSim(first.events_url, signing_secret=SECRET, standin=standin) as slack:
            standin.fail_next("chat.postMessage", 10_000, status=500)  # Slack cannot take posts for now
            response = slack.command(
                f"propose {next_week(0)} 22:00 UTC 1h Survives a restart", user_id=PROPOSER
            )
            assert response.status_code == 200
            standin.wait_for("response_url")  # committed
            standin.wait_for("chat.postMessage", 2)  # delivery was tried, failed, and retried
        first.process.send_signal(signal.SIGTERM)
        try:
            assert first.process.wait(timeout=25) == 0
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"chatops serve did not stop within 25 s of SIGTERM:\n{first.output()}"
            ) from None
    finally:
        stop_server(first)
    output = first.output()
    assert "Traceback" not in output, output
    docs = log_lines(first)
    assert any(d["message"] == "stopped; 2 undelivered message(s) left in the outbox" for d in docs), output
    store = open_store(database_url)
    try:
        assert store.outbox_stats(now=2**40)[0] == 2  # the parent and the "proposed" reply
    finally:
        store.close()
    assert not top_level(standin)

    standin.clear()  # Slack takes posts again
    second = start_server(tmp_path, standin, database_url, name="second")
    try:
        standin.wait_until(
            lambda: bool(top_level(standin)) and len(standin.thread(CHANNEL, top_level(standin)[0].ts)) == 1,
            timeout=30,
            message="the parent and its first reply, after the restart",
        )
        posted = [c for c in standin.calls_to("chat.postMessage") if c.ok]
        assert len(posted) == 2 and len(top_level(standin)) == 1
        store = open_store(database_url)
        try:
            # The worker records a delivery just after Slack answers, so the reply may be seen a moment before.
            deadline = time.monotonic() + 10
            while store.outbox_stats(now=2**40)[0] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert store.outbox_stats(now=2**40)[0] == 0
        finally:
            store.close()
    finally:
        stop_server(second)
    assert second.process.returncode == 0
    assert "Traceback" not in second.output()
