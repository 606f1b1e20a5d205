"""End to end, the time a person waits: from the signed slash command to the proposal's parent message arriving
at the Slack Web API stand-in, and from an Approve click to its thread reply arriving there.

``chatops serve`` as in ``benchmarks/ack.py`` (gunicorn, 2 gthread workers x 4 threads, SQLite in a temporary
directory) and the stand-in (``tests/slackfake``, in this process, which records each call's arrival time).
``--clients`` threads (8 by default), each with its own keep-alive connection, send ``--count`` proposals (a new
one each, flagged: the suggestion search runs), then ``--count`` Approve clicks by an approver on as many clear
proposals made beforehand (one tap approves; not timed). A proposal's latency is from just before its request
is sent to the arrival of the parent message naming it; a click's, to the first reply in its proposal's thread
that arrives after it was sent. Bounded: every wait has a time limit, and the run stops by itself.

    .venv/bin/python benchmarks/e2e.py                  # 200 of each at 8 clients, about 1 minute
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ack import (  # noqa: E402
    APPROVER_1,
    APPROVER_2,
    GROUP,
    PROPOSER,
    TOKEN,
    approve_click,
    command,
    next_monday,
    percentile,
    start_chatops,
    window_text,
)
from tests.slackfake import SlackStandIn  # noqa: E402

_REF = re.compile(r"CHG-(\d+)")


def fire(
    url: str, requests: list[tuple[bytes, dict[str, str]]], clients: int
) -> tuple[list[float], list[str]]:
    """Send every request from ``clients`` threads; return each one's send time (time.time()) and the errors."""
    sent = [0.0] * len(requests)
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(len(requests)))

    def client() -> None:
        with httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=1)) as http:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                body, headers = requests[i]
                sent[i] = time.time()
                try:
                    response = http.post(url, content=body, headers=headers)
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(f"{exc.__class__.__name__}: {exc}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sent, errors


def wait_until(condition: Callable[[], bool], limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the stand-in did not see what was expected in time")
        time.sleep(0.1)


def parents(standin: SlackStandIn) -> dict[int, tuple[str, float]]:
    """Proposal id -> (parent ts, arrival) for every parent message posted."""
    found: dict[int, tuple[str, float]] = {}
    for call in standin.calls_to("chat.postMessage"):
        if call.ok and not call.params.get("thread_ts"):
            match = _REF.search(str(call.params.get("text", "")))
            if match:
                found.setdefault(int(match.group(1)), (call.response["ts"], call.at))
    return found


def summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [1000 * x for x in latencies_s]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "max_ms": max(ms)}


def run(count: int, clients: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder, SlackStandIn(token=TOKEN) as standin:
        standin.set_user(PROPOSER, tz="America/Los_Angeles", name="proposer")
        standin.set_user(APPROVER_1, tz="Europe/Berlin", name="approver one")
        standin.set_user(APPROVER_2, tz="Asia/Kolkata", name="approver two")
        standin.set_usergroup(GROUP, [APPROVER_2])
        server = start_chatops(Path(folder), standin)
        try:
            # Proposals: signed command -> parent message at the stand-in.
            requests = [command(standin, f"propose {window_text()} E2E {i}") for i in range(count)]
            sent, errors = fire(server.events_url, requests, clients)
            wait_until(lambda: len(parents(standin)) >= count)
            by_title: dict[int, float] = {}
            for call in standin.calls_to("chat.postMessage"):
                match = re.search(r"E2E (\d+)", str(call.params.get("text", "")))
                if match and not call.params.get("thread_ts") and call.ok:
                    by_title.setdefault(int(match.group(1)), call.at)
            propose = [by_title[i] - sent[i] for i in range(count) if i in by_title]

            # Clear proposals to approve (not timed), then one Approve tap each: click -> thread reply.
            clear = f"{next_monday()} 14:00 America/Los_Angeles 1h"
            setup = [command(standin, f"propose {clear} Approve {i}") for i in range(count)]
            fire(server.events_url, setup, clients)
            wait_until(lambda: len(parents(standin)) >= 2 * count)
            time.sleep(1.0)  # let the "proposed" replies land before the clicks
            targets = sorted(parents(standin))[count : 2 * count]
            ts_of = {pid: parents(standin)[pid][0] for pid in targets}
            clicks = [approve_click(standin, pid, user=APPROVER_1) for pid in targets]
            click_sent, click_errors = fire(server.events_url, clicks, clients)
            errors += click_errors

            def replies_after_clicks() -> list[float | None]:
                """Per click, the arrival of the first reply in its thread after it was sent (None: not yet)."""
                in_thread: dict[str, list[float]] = {}
                for call in standin.calls_to("chat.postMessage"):
                    if call.ok and call.params.get("thread_ts"):
                        in_thread.setdefault(str(call.params["thread_ts"]), []).append(call.at)
                return [
                    next((at for at in in_thread.get(ts_of[p], []) if at > click_sent[i]), None)
                    for i, p in enumerate(targets)
                ]

            wait_until(lambda: all(at is not None for at in replies_after_clicks()))
            approve = [(at or 0.0) - click_sent[i] for i, at in enumerate(replies_after_clicks())]
        finally:
            server.stop()
    return {
        "clients": clients,
        "propose_to_parent": summary(propose),
        "approve_to_reply": summary(approve),
        "errors": errors[:5],
        "error_count": len(errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.count, args.clients)
    for name in ("propose_to_parent", "approve_to_reply"):
        r = result[name]
        assert isinstance(r, dict)
        print(
            f"{name:18} at {args.clients} clients: p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
            f"max {r['max_ms']:.0f} ms (n={r['n']})"
        )
    print(f"errors: {result['error_count']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
