"""Kept-alive Slack connections (``chatops.slack.http``): many calls share one connection, a connection the server
closed is replaced, a request that may have reached Slack is never sent a second time, and slack_sdk's retries,
rate-limit waits and errors behave as they do over its own urllib transport."""

from __future__ import annotations

import copy
import json
import ssl
import threading
import urllib.error
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from conftest import CHANNEL, PROPOSER
from dbs import migrated_sqlite_url
from inprocess import in_process
from slack_bolt import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slackfake.payloads import TEAM_ID
from slackfake.standin import SlackStandIn

from chatops.delivery import _retry_after
from chatops.slack import http
from chatops.slack.http import ConnectionPool, PooledWebClient, PooledWebhookClient, ResponseLostError
from chatops.slack.kept import PooledRespond

TOKEN = "xoxb-test-token"
QUICK = FixedValueRetryIntervalCalculator(0.01)
BOTH = pytest.mark.parametrize("kind", ["stock", "pooled"])


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN) as standin:
        yield standin


@pytest.fixture
def pool() -> Iterator[ConnectionPool]:
    pool = ConnectionPool()
    yield pool
    pool.close()


def pooled(slack: SlackStandIn, pool: ConnectionPool, **options: Any) -> PooledWebClient:
    return PooledWebClient(token=TOKEN, base_url=slack.url, pool=pool, **options)


def client_of(kind: str, slack: SlackStandIn, pool: ConnectionPool, **options: Any) -> WebClient:
    if kind == "stock":
        return WebClient(token=TOKEN, base_url=slack.url, **options)
    return pooled(slack, pool, **options)


def posted(slack: SlackStandIn) -> list[str | None]:
    return [m.text for m in slack.messages(CHANNEL).values()]


# --- one connection, many calls ------------------------------------------------------------------------


def test_many_calls_share_one_connection(slack: SlackStandIn, pool: ConnectionPool) -> None:
    client = pooled(slack, pool)
    for i in range(5):
        assert client.chat_postMessage(channel=CHANNEL, text=f"m{i}")["ok"]
    assert client.users_info(user="U1")["user"]["tz"] == "UTC"

    assert slack.connections == 1 and pool.opened == 1
    assert posted(slack) == [f"m{i}" for i in range(5)]
    assert all("connection" not in call.headers for call in slack.calls)  # urllib says "close"; this does not


def test_clients_and_threads_share_the_pool_without_mixing_answers(
    slack: SlackStandIn, pool: ConnectionPool
) -> None:
    clients = [pooled(slack, pool), pooled(slack, pool, timeout=5)]
    answers: dict[str, str] = {}

    def post(n: int) -> None:
        for i in range(10):
            text = f"t{n}-{i}"
            answers[text] = clients[n % 2].chat_postMessage(channel=CHANNEL, text=text)["message"]["text"]

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(answers) == 40 and all(text == answer for text, answer in answers.items())
    assert len(slack.calls) == 40
    assert pool.opened <= 4  # at most one connection per thread at a time


@BOTH
def test_answers_are_what_slack_sdk_gives_over_urllib(
    kind: str, slack: SlackStandIn, pool: ConnectionPool
) -> None:
    response = client_of(kind, slack, pool).chat_postMessage(channel=CHANNEL, text="hi")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.data == {
        "ok": True,
        "channel": CHANNEL,
        "ts": response["ts"],
        "message": response["message"],
    }
    with pytest.raises(SlackApiError) as raised:
        client_of(kind, slack, pool).api_call("no.such.method")
    assert raised.value.response.status_code == 200
    assert raised.value.response.data == {
        "ok": False,
        "error": "unknown_method",
        "req_method": "no.such.method",
    }


# --- connections the server closed -------------------------------------------------------------------


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_a_connection_the_server_dropped_while_idle_is_replaced(
    slack: SlackStandIn, pool: ConnectionPool, reset: bool
) -> None:
    client = pooled(slack, pool)
    client.chat_postMessage(channel=CHANNEL, text="before")
    assert slack.drop_idle_connections(reset=reset) == 1

    assert client.chat_postMessage(channel=CHANNEL, text="after")["ok"]
    assert slack.connections == 2
    assert posted(slack) == ["before", "after"]


def test_a_kept_connection_reset_as_it_is_written_to_is_sent_once_more_on_a_new_one(
    slack: SlackStandIn, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server aborts the connection just after the pool checked it (the check cannot see it): writing the
    request fails, so the server has no whole request, and it is sent again, once, on a fresh connection."""
    client = pooled(slack, pool)
    client.chat_postMessage(channel=CHANNEL, text="before")
    monkeypatch.setattr(ConnectionPool, "_dropped", staticmethod(lambda conn: False))
    slack.drop_idle_connections(reset=True)

    assert client.chat_postMessage(channel=CHANNEL, text="after")["ok"]
    assert posted(slack) == ["before", "after"]
    assert slack.connections == 2


def test_a_kept_connection_closed_as_it_is_reused_fails_cleanly_and_is_not_sent_twice(
    slack: SlackStandIn, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server closes the connection just after the pool checked it, and the request (one write: no body) is
    written in full before the client can know: the connection then ends without an answer. The client cannot
    tell whether the server acted on it: an error, not a resend, even with slack_sdk's connection-error
    retries on."""
    client = pooled(
        slack,
        pool,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=QUICK)],
    )
    client.auth_test()
    monkeypatch.setattr(ConnectionPool, "_dropped", staticmethod(lambda conn: False))
    slack.drop_idle_connections()

    with pytest.raises(ResponseLostError):
        client.auth_test()
    assert len(slack.calls) == 1  # the second never reached the stand-in, and was not tried again
    monkeypatch.undo()
    assert client.auth_test()["ok"]
    assert len(slack.calls) == 2


@pytest.mark.parametrize("warm", [False, True], ids=["new connection", "kept connection"])
def test_a_post_whose_answer_is_lost_with_the_connection_is_not_posted_again(
    slack: SlackStandIn, pool: ConnectionPool, warm: bool
) -> None:
    """Slack posts the message, then the connection resets before the answer: slack_sdk's own handler would
    send it again (a second message); here the loss is raised, for the caller (the outbox) to look first."""
    client = pooled(
        slack,
        pool,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=QUICK)],
    )
    if warm:
        client.auth_test()
    slack.hang_up_next("chat.postMessage")

    with pytest.raises(ResponseLostError):
        client.chat_postMessage(channel=CHANNEL, text="once")

    assert len(slack.calls_to("chat.postMessage")) == 1
    assert posted(slack) == ["once"]
    assert client.chat_postMessage(channel=CHANNEL, text="next")["ok"]  # on a new connection
    assert posted(slack) == ["once", "next"]


def test_a_response_url_reply_whose_answer_is_lost_is_not_sent_again(
    slack: SlackStandIn, pool: ConnectionPool
) -> None:
    url = slack.response_url("r1", channel=CHANNEL)
    webhook = PooledWebhookClient(url, pool=pool)  # slack_sdk's default handlers: connection errors retried
    slack.hang_up_next("response_url")
    with pytest.raises(ResponseLostError):
        webhook.send(text="private")
    assert [e.text for e in slack.ephemerals()] == ["private"]


# --- timeouts, refusals, rate limits, server errors: as over urllib ------------------------------------


@BOTH
def test_a_timeout_is_raised_and_not_retried(kind: str, slack: SlackStandIn, pool: ConnectionPool) -> None:
    client = client_of(kind, slack, pool, timeout=0.3)  # slack_sdk's default handlers
    slack.slow_next("chat.postMessage", delay=1.0)
    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel=CHANNEL, text="slow")
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert client.chat_postMessage(channel=CHANNEL, text="next")["ok"]  # not on the half-read connection
    assert posted(slack) == ["slow", "next"]


@BOTH
def test_a_refused_connection_is_a_url_error_that_slack_sdk_retries(
    kind: str, slack: SlackStandIn, pool: ConnectionPool
) -> None:
    once = client_of(kind, slack, pool, retry_handlers=[])
    slack.go_down()
    with pytest.raises(urllib.error.URLError):
        once.chat_postMessage(channel=CHANNEL, text="lost")

    patient = client_of(
        kind,
        slack,
        pool,
        retry_handlers=[
            ConnectionErrorRetryHandler(
                max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(1.0)
            )
        ],
    )
    timer = threading.Timer(0.2, slack.come_back)
    timer.start()
    try:
        assert patient.chat_postMessage(channel=CHANNEL, text="back")["ok"]
    finally:
        timer.join()
    assert posted(slack) == ["back"]


def test_a_server_that_went_down_and_came_back_is_reached_on_a_new_connection(
    slack: SlackStandIn, pool: ConnectionPool
) -> None:
    client = pooled(slack, pool, retry_handlers=[])
    client.chat_postMessage(channel=CHANNEL, text="before")
    slack.go_down()
    slack.come_back()
    assert client.chat_postMessage(channel=CHANNEL, text="after")["ok"]
    assert slack.connections == 2


@BOTH
def test_a_rate_limit_waits_retry_after_with_slack_sdks_handler(
    kind: str, slack: SlackStandIn, pool: ConnectionPool
) -> None:
    slack.rate_limit_next("chat.postMessage", 1, retry_after=1)
    client = client_of(kind, slack, pool, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert client.chat_postMessage(channel=CHANNEL, text="x")["ok"]
    assert [c.status for c in slack.calls] == [429, 200]


@BOTH
def test_a_rate_limit_without_a_handler_is_an_api_error_with_its_retry_after(
    kind: str, slack: SlackStandIn, pool: ConnectionPool
) -> None:
    slack.rate_limit_next("chat.postMessage", 1, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client_of(kind, slack, pool, retry_handlers=[]).chat_postMessage(channel=CHANNEL, text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert _retry_after(raised.value.response.headers) == 7  # what the delivery worker reads


@BOTH
def test_server_errors_are_api_errors_and_slack_sdks_handler_retries_them(
    kind: str, slack: SlackStandIn, pool: ConnectionPool
) -> None:
    slack.fail_next("chat.postMessage", 1, status=503)
    with pytest.raises(SlackApiError) as raised:
        client_of(kind, slack, pool, retry_handlers=[]).chat_postMessage(channel=CHANNEL, text="x")
    assert raised.value.response.status_code == 503

    slack.fail_next("chat.postMessage", 1, status=500)
    retrying = client_of(kind, slack, pool, retry_handlers=[ServerErrorRetryHandler(1, QUICK)])
    assert retrying.chat_postMessage(channel=CHANNEL, text="y")["ok"]
    assert posted(slack) == ["y"]  # the failed ones posted nothing


# --- what takes urllib's path ------------------------------------------------------------------------


def test_a_proxy_is_used_as_slack_sdk_uses_it(slack: SlackStandIn, pool: ConnectionPool) -> None:
    """With a proxy, the request goes to the proxy (here the stand-in, which reads the absolute URL's path), not
    to the host in the URL, which does not exist."""
    client = PooledWebClient(token=TOKEN, base_url="http://slack.invalid/api/", proxy=slack.base, pool=pool)
    assert client.chat_postMessage(channel=CHANNEL, text="via proxy")["ok"]
    assert posted(slack) == ["via proxy"]
    assert pool.opened == 0


def test_a_redirect_is_followed_as_urllib_follows_it(pool: ConnectionPool) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/api/moved.method":
            start_response("302 Found", [("Location", "/api/auth.test"), ("Content-Length", "0")])
            return [b""]
        body = json.dumps({"ok": True, "method": environ["REQUEST_METHOD"]}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/api/"
        stock = WebClient(token=TOKEN, base_url=base).api_call("moved.method")
        ours = PooledWebClient(token=TOKEN, base_url=base, pool=pool).api_call("moved.method")
    finally:
        server.shutdown()
        server.server_close()
    assert ours.data == stock.data == {"ok": True, "method": "GET"}


def test_tls_is_verified_by_default(slack: SlackStandIn, pool: ConnectionPool) -> None:
    context = pool._tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # The stand-in speaks plain HTTP: an https URL must fail in the TLS handshake, not fall back to plain text.
    client = PooledWebClient(token=TOKEN, base_url=f"https://127.0.0.1:{slack.port}/api/", pool=pool)
    with pytest.raises(urllib.error.URLError) as raised:
        client.auth_test()
    assert isinstance(raised.value.reason, ssl.SSLError)
    assert slack.calls == []


# --- the pool itself ---------------------------------------------------------------------------------


def test_idle_connections_are_closed_after_max_idle_and_capped_per_host(slack: SlackStandIn) -> None:
    pool = ConnectionPool(max_idle=0.0, max_idle_per_host=1)
    try:
        client = pooled(slack, pool)
        client.auth_test()
        client.auth_test()  # the first connection was idle too long: not reused
        assert pool.opened == 2 and slack.connections == 2
    finally:
        pool.close()
    assert pool.idle_count() == 0


def test_a_forked_child_does_not_use_its_parents_connections(
    slack: SlackStandIn, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = pooled(slack, pool)
    client.auth_test()
    assert pool.idle_count() == 1
    parent = http.os.getpid()
    monkeypatch.setattr(http.os, "getpid", lambda: parent + 1)  # as seen from a gunicorn worker after fork
    client.auth_test()
    assert pool.opened == 2 and slack.connections == 2


# --- respond() ---------------------------------------------------------------------------------------


def test_pooled_respond_sends_what_bolts_respond_sends(slack: SlackStandIn, pool: ConnectionPool) -> None:
    respond = PooledRespond(response_url=slack.response_url("r1", channel=CHANNEL), pool=pool)
    respond(text="private", replace_original=False)
    respond({"text": "for everyone", "response_type": "in_channel"})
    assert [e.text for e in slack.ephemerals()] == ["private"]
    assert posted(slack) == ["for everyone"]
    assert slack.calls[0].params["replace_original"] is False
    assert slack.connections == 1
    with pytest.raises(ValueError):
        PooledRespond(response_url=None, pool=pool)("nowhere")


def test_every_slack_call_the_app_makes_keeps_its_connection(slack: SlackStandIn, tmp_path: Path) -> None:
    """A proposal and a list through the real app: the private answers (response_url, after the ack), the
    delivery worker's posts and the directory's look-ups all go over kept-alive connections."""
    slack.set_user(PROPOSER, tz="America/Los_Angeles")
    day = date.today() + timedelta(days=8)
    with in_process(tmp_path, slack, migrated_sqlite_url(tmp_path)) as (_runtime, sim):
        assert sim.command(f"propose {day} 22:00 America/Los_Angeles 1h Upgrade", user_id=PROPOSER).is_success
        assert sim.command("list", user_id=PROPOSER).is_success
        slack.wait_for("response_url", 2)
        slack.wait_for(lambda c: c.method == "chat.postMessage" and bool(c.params.get("thread_ts")))
    methods = {call.method for call in slack.calls}
    assert {"response_url", "chat.postMessage"} <= methods
    # Bolt's authorization asks auth.test once per process, through its own client, before any middleware.
    assert [
        (call.method, call.params) for call in slack.calls if call.headers.get("connection") == "close"
    ] == [("auth.test", {"team_id": TEAM_ID})]
    assert slack.connections < len(slack.calls)


def test_a_copied_client_shares_its_pool(slack: SlackStandIn, pool: ConnectionPool) -> None:
    """Bolt deep-copies a request, client and respond included, for each of its lazy listeners."""
    client = pooled(slack, pool)
    copied = copy.deepcopy(client)
    respond = copy.deepcopy(PooledRespond(response_url=slack.response_url("r"), pool=pool))
    assert copied.pool is pool and respond.pool is pool and copy.copy(client).pool is pool
    copied.auth_test()
    client.auth_test()
    assert slack.connections == 1


def test_bolts_request_copy_shares_the_client_and_respond(slack: SlackStandIn, pool: ConnectionPool) -> None:
    """The copy Bolt makes for a lazy listener holds the very objects, not copies of them (a copy of the
    client, four times over per request, cost about 0.1 ms and changed nothing)."""
    client = pooled(slack, pool)
    respond = PooledRespond(response_url=slack.response_url("r"), pool=pool)
    request = BoltRequest(body={"type": "block_actions"}, mode="socket_mode")
    request.context.update({"client": client, "respond": respond, "chatops_note": {"text": "hi"}})
    copied = copy.deepcopy(request.to_copyable())
    assert copied.context["client"] is client and copied.context["respond"] is respond
    assert copied.context["chatops_note"] == {"text": "hi"}
    assert copied.context["chatops_note"] is not request.context["chatops_note"]  # the rest is still copied
