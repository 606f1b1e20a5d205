"""The Bolt floor of ``benchmarks/cpu.py``: what Bolt and slack_sdk cost for the Slack calls chatops makes.

:func:`bolt_floor` serves a bare Bolt app, configured as chatops configures its own (``process_before_response``,
lazy listeners in a pool, the kept-alive client and ``respond()`` of ``chatops.slack.kept``), behind Bolt's own
WSGI adapter. Its listeners ack each request and then, after the ack, send the Slack calls chatops made for the
same kind of request, handed out by a :class:`Replay`: no store, no evaluation, no message building, no front
door. ``tests/test_bench_anchor.py`` checks that the calls really go out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from slack_bolt import Ack, App, BoltContext, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slackfake.signing import SlackClientSim  # tests/ on the path, as benchmarks/cpu.py and pytest put it
from slackfake.standin import Call, SlackStandIn

from chatops.slack import ids, kept


class Timed:
    """A WSGI app's CPU time in the calling thread (``time.thread_time``), summed over every call."""

    def __init__(self, app: Callable[[dict[str, Any], Callable[..., Any]], Any]) -> None:
        self.app = app
        self.cpu = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        started = time.thread_time()
        try:
            return list(self.app(environ, start_response))
        finally:
            self.cpu += time.thread_time() - started


class Replay:
    """The Slack calls chatops made for one kind's run, handed out again in the same order, request by request,
    to the Bolt floor's listeners (:func:`bolt_floor`): ``count`` requests get ``len(calls)`` calls in all."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.count = 0
        self.given = 0
        self._lock = threading.Lock()

    def load(self, calls: list[Call], count: int) -> None:
        self.calls, self.count, self.given = list(calls), count, 0

    def batch(self) -> list[Call]:
        """The calls of the next request."""
        with self._lock:
            i, self.given = self.given, self.given + 1
        n = len(self.calls)
        return self.calls[n * i // self.count : n * (i + 1) // self.count]

    def check_done(self) -> None:
        if self.given != self.count:
            raise RuntimeError(f"the floor's listeners ran {self.given} times for {self.count} requests")


def resend(call: Call, client: WebClient, respond: Respond) -> None:
    """Send what chatops sent in ``call`` again: the same method and body, through Bolt's ``respond()`` for a
    reply to a ``response_url`` (to this request's own), through ``client`` for the Web API."""
    if call.method == "response_url":
        respond(json.loads(call.body))
    elif call.headers.get("content-type", "").startswith("application/json"):
        client.api_call(call.method, json=json.loads(call.body))
    else:
        client.api_call(call.method, params={k: v for k, v in call.params.items() if k != "token"})


@contextmanager
def bolt_floor(
    standin: SlackStandIn, *, secret: str, token: str
) -> Iterator[tuple[Replay, SlackClientSim, Timed]]:
    """Bolt and slack_sdk doing what chatops makes them do, and nothing else: a Bolt app configured as chatops
    configures its own (``process_before_response``, lazy listeners in a pool, the kept-alive client and
    ``respond()`` of ``chatops.slack.kept``), behind Bolt's own WSGI adapter, whose listeners ack each request
    and then send, after the ack, the Slack calls chatops made for the same kind of request (:class:`Replay`):
    no store, no evaluation, no message building, no front door."""
    replay = Replay()
    listeners = ThreadPoolExecutor(max_workers=5)
    bolt = App(
        client=WebClient(token=token, base_url=standin.url),
        signing_secret=secret,
        token_verification_enabled=False,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
        process_before_response=True,
        listener_executor=listeners,
    )
    kept.install(bolt)

    def now(ack: Ack, context: BoltContext) -> None:
        context["calls"] = replay.batch()
        ack()

    def later(context: BoltContext, client: WebClient, respond: Respond) -> None:
        for call in context["calls"]:
            resend(call, client, respond)

    bolt.command("/maintenance")(ack=now, lazy=[later])
    bolt.action(ids.APPROVE)(ack=now, lazy=[later])
    timed = Timed(SlackRequestHandler(bolt))
    with (
        listeners,
        SlackClientSim(
            "http://floor.test/slack/events",
            signing_secret=secret,
            standin=standin,
            transport=httpx.WSGITransport(app=timed),
        ) as sim,
    ):
        # Warm-up: Bolt asks auth.test once, on its first request; chatops's was asked before it was measured.
        replay.load([], 1)
        if sim.command("help").status_code != 200:
            raise RuntimeError("the Bolt floor did not answer its warm-up request")
        replay.check_done()
        yield replay, sim, timed
