"""CPU of one Slack Web API call, the client's side and the server's, by transport.

Each transport sends the same ``chat.postMessage`` (a form body with eight section blocks, about 2.5 kB) to the
Web API stand-in (``tests/slackfake``) ``--count`` times, after a warm-up; the client's CPU is the calling
thread's ``time.thread_time()``, the server's is ``SlackStandIn.cpu_seconds``. The transports, interleaved over
``--rounds`` rounds:

- ``slack_sdk urllib``: slack_sdk's ``WebClient`` as it comes (a new connection per call);
- ``slack_sdk pooled``: ``chatops.slack.http.PooledWebClient`` (slack_sdk above, kept-alive http.client below);
- ``http.client``, ``httpx``, ``httpcore``, ``urllib``: the bare transports, kept-alive but urllib, sending the
  bytes slack_sdk would send (what the choice of transport under slack_sdk costs, without slack_sdk's own part);
- ``webhook urllib`` / ``webhook pooled``: a ``response_url`` reply through slack_sdk's ``WebhookClient`` and
  ``PooledWebhookClient``.

    .venv/bin/python benchmarks/slack_calls.py --count 500 --rounds 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpcore
import httpx
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from slackfake.standin import SlackStandIn  # noqa: E402

from chatops.slack.http import ConnectionPool, PooledWebClient, PooledWebhookClient  # noqa: E402

TOKEN = "xoxb-bench"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 200}}] * 8


def transports(slack: SlackStandIn, pool: ConnectionPool) -> dict[str, Callable[[], object]]:
    url = slack.url + "chat.postMessage"
    parts = urlsplit(url)
    body = urlencode({"channel": "C1", "text": "hello", "blocks": json.dumps(BLOCKS)}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Bearer {TOKEN}",
        "User-Agent": "bench",
    }
    stock = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])
    pooled = PooledWebClient(token=TOKEN, base_url=slack.url, retry_handlers=[], pool=pool)
    response_url = slack.response_url("bench")
    hook, pooled_hook = WebhookClient(response_url), PooledWebhookClient(response_url, pool=pool)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    hx = httpx.Client(timeout=10)
    core = httpcore.ConnectionPool()

    def bare_http_client() -> None:
        conn.request("POST", parts.path, body=body, headers=headers)
        conn.getresponse().read()

    def bare_urllib() -> None:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as r:
            r.read()

    return {
        "slack_sdk urllib": lambda: stock.chat_postMessage(channel="C1", text="hello", blocks=BLOCKS),
        "slack_sdk pooled": lambda: pooled.chat_postMessage(channel="C1", text="hello", blocks=BLOCKS),
        "http.client": bare_http_client,
        "httpx": lambda: hx.post(url, content=body, headers=headers).read(),
        "httpcore": lambda: core.request("POST", url, content=body, headers=headers).read(),
        "urllib": bare_urllib,
        "webhook urllib": lambda: hook.send(text="hello", blocks=BLOCKS),
        "webhook pooled": lambda: pooled_hook.send(text="hello", blocks=BLOCKS),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    figures: dict[str, list[tuple[float, float]]] = {}
    pool = ConnectionPool()
    with SlackStandIn(token=TOKEN) as slack:
        calls = transports(slack, pool)
        for _ in range(args.rounds):
            for name, call in calls.items():
                for _ in range(20):
                    call()
                server, client = slack.cpu_seconds, time.thread_time()
                for _ in range(args.count):
                    call()
                client = (time.thread_time() - client) / args.count
                server = (slack.cpu_seconds - server) / args.count
                figures.setdefault(name, []).append((client * 1e6, server * 1e6))
                slack.clear()
    pool.close()
    print(f"us of CPU per call, median (range) of {args.rounds} rounds of {args.count}")
    print(f"{'transport':18} {'client':>20} {'server':>20}")
    for name, rows in figures.items():
        cells = []
        for column in zip(*rows, strict=True):
            cells.append(f"{statistics.median(column):6.0f} ({min(column):4.0f}-{max(column):4.0f})")
        print(f"{name:18} {cells[0]:>20} {cells[1]:>20}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
