"""End to end, the time a person waits: from the signed slash command to the proposal's parent message arriving
at the Slack Web API stand-in, and from an Approve click to its thread reply arriving there.

``chatops serve`` as in ``benchmarks/ack.py`` (gunicorn, 2 gthread workers x 4 threads, SQLite in a temporary
directory) and the stand-in (``tests/slackfake``, in this process, which records each call's arrival time).
``--clients`` threads (8 by default), each with its own keep-alive connection, in one of two modes:

- ``burst``: the clients send ``--count`` proposals (a new one each, flagged: the suggestion search runs) as fast
  as they are acked, then ``--count`` Approve clicks by an approver on as many clear proposals made beforehand
  (one tap approves; not timed);
- ``person``: each client is a person who proposes and waits until the parent message has arrived before
  proposing again (``--count`` proposals in all), then clicks Approve and waits for its thread reply before the
  next click.

A proposal's latency is from just before its request is sent to the arrival of the parent message naming it; a
click's, to the first reply in its proposal's thread that arrives after it was sent. ``--delivery-threads`` sets
CHATOPS_DELIVERY_THREADS; ``--slack-delay`` makes the stand-in answer every Web API call that many seconds after
it arrives (real Slack takes 100-300 ms; the arrival time is still what is measured). ``--worker`` serves with no
delivery threads and runs ``chatops worker`` beside it. Bounded: every wait has a time limit.

    .venv/bin/python benchmarks/e2e.py                                  # both modes, 200 of each, 8 clients
    .venv/bin/python benchmarks/e2e.py --mode person --slack-delay 0.1 --delivery-threads 1
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    chatops_env,
    command,
    next_monday,
    percentile,
    start_chatops,
    window_text,
)
from tests.slackfake import SlackStandIn  # noqa: E402

_REF = re.compile(r"CHG-(\d+)")
_TITLE = re.compile(r"E2E (\d+)\b")
Request = tuple[bytes, dict[str, str]]


class Arrivals:
    """What has arrived at the stand-in, read incrementally: parent messages by their "E2E n" title and by
    change number, and the arrival times of the replies in each thread."""

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin
        self.seen = 0
        self.by_title: dict[int, float] = {}
        self.by_change: dict[int, tuple[str, float]] = {}
        self.replies: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def update(self) -> None:
        with self._lock:
            calls = self.standin.calls[self.seen :]
            self.seen += len(calls)
            for call in calls:
                if call.method != "chat.postMessage" or not call.ok:
                    continue
                thread = call.params.get("thread_ts")
                if thread:
                    self.replies.setdefault(str(thread), []).append(call.at)
                    continue
                text = str(call.params.get("text", ""))
                title = _TITLE.search(text)
                if title:
                    self.by_title.setdefault(int(title.group(1)), call.at)
                change = _REF.search(text)
                if change:
                    self.by_change.setdefault(int(change.group(1)), (call.response["ts"], call.at))

    def reply_after(self, thread_ts: str, after: float) -> float | None:
        self.update()
        return next((at for at in self.replies.get(thread_ts, []) if at > after), None)

    def wait(self, condition: Callable[[], bool], limit: float = 120) -> None:
        """Until ``condition`` holds, re-checked as calls arrive (at most every 2 ms)."""
        deadline = time.monotonic() + limit
        while True:
            self.update()
            if condition():
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the stand-in did not see what was expected in time")
            time.sleep(0.002)


def fire(
    url: str, requests: list[Request], clients: int, *, then: Callable[[int, float], None] | None = None
) -> tuple[list[float], list[str]]:
    """Send every request from ``clients`` threads, each taking the next one; ``then(i, sent_at)``, if given, is
    what the client does after request ``i`` is acked and before it takes the next (a person waiting for Slack).
    Return each request's send time (time.time()) and the errors."""
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
                        continue
                except httpx.HTTPError as exc:
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                    continue
                if then is not None:
                    try:
                        then(i, sent[i])
                    except RuntimeError as exc:
                        errors.append(str(exc))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    return sent, errors


def summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [1000 * x for x in latencies_s]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


@contextmanager
def running(
    folder: Path,
    standin: SlackStandIn,
    *,
    threads: int,
    worker: bool,
    logs: Path | None = None,
    regions: str = "test",
) -> Iterator[str]:
    """``chatops serve`` (and with ``worker``, ``chatops worker`` beside it); yields the events URL."""
    serve_env = {"CHATOPS_DELIVERY_THREADS": "0" if worker else str(threads)}
    server = start_chatops(folder, standin, extra_env=serve_env, regions=regions)
    process = None
    try:
        if worker:
            env = chatops_env(folder, standin, regions=regions)
            env["CHATOPS_DELIVERY_THREADS"] = str(threads)
            log = (folder / "worker.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "chatops", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
        yield server.events_url
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        server.stop()
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
            for log in folder.glob("*.log"):
                shutil.copyfile(log, logs / log.name)


def run(
    count: int,
    clients: int,
    *,
    mode: str,
    threads: int,
    delay: float,
    worker: bool,
    logs: Path | None = None,
    regions: str = "test",
) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder, SlackStandIn(token=TOKEN) as standin:
        standin.set_user(PROPOSER, tz="America/Los_Angeles", name="proposer")
        standin.set_user(APPROVER_1, tz="Europe/Berlin", name="approver one")
        standin.set_user(APPROVER_2, tz="Asia/Kolkata", name="approver two")
        standin.set_usergroup(GROUP, [APPROVER_2])
        if delay:
            standin.slow_next(None, 10**9, delay=delay)  # every call, for the whole run
        arrivals = Arrivals(standin)
        person = mode == "person"
        with running(
            Path(folder), standin, threads=threads, worker=worker, logs=logs, regions=regions
        ) as url:
            # Proposals: signed command -> parent message at the stand-in.
            requests = [command(standin, f"propose {window_text()} E2E {i}") for i in range(count)]

            def parent_arrived(i: int, sent_at: float) -> None:
                arrivals.wait(lambda: i in arrivals.by_title, limit=5)  # refused: not stored, never posted

            def refused() -> int:
                """Requests answered 200 but not stored ("not recorded: the database did not answer in time")."""
                return sum(1 for c in standin.calls_to("response_url") if b"not recorded" in c.body)

            sent, errors = fire(url, requests, clients, then=parent_arrived if person else None)
            arrivals.wait(lambda: len(arrivals.by_title) + refused() >= count)
            refused_proposals = refused()
            propose = [arrivals.by_title[i] - sent[i] for i in range(count) if i in arrivals.by_title]

            stored_before = set(arrivals.by_change)
            # Clear proposals to approve (not timed), then one Approve tap each: click -> thread reply.
            clear = f"{next_monday()} 14:00 America/Los_Angeles 1h"
            setup = [command(standin, f"propose {clear} Approve {i}") for i in range(count)]
            fire(url, setup, clients)
            arrivals.wait(lambda: len(arrivals.by_change) + refused() >= 2 * count)
            targets = sorted(p for p in arrivals.by_change if p not in stored_before)[:count]
            refused_setup = refused() - refused_proposals  # not stored: fewer clicks than proposals
            count = len(targets)
            ts_of = {pid: arrivals.by_change[pid][0] for pid in targets}
            # Let each "proposed" reply land before the clicks.
            arrivals.wait(lambda: all(arrivals.replies.get(ts_of[p]) for p in targets))
            time.sleep(0.5)
            clicks = [approve_click(standin, pid, user=APPROVER_1) for pid in targets]

            def reply_arrived(i: int, sent_at: float) -> None:
                arrivals.wait(lambda: arrivals.reply_after(ts_of[targets[i]], sent_at) is not None, limit=5)

            before = refused()
            click_sent, click_errors = fire(url, clicks, clients, then=reply_arrived if person else None)
            errors += click_errors

            def reply_times() -> list[float | None]:
                return [arrivals.reply_after(ts_of[p], click_sent[i]) for i, p in enumerate(targets)]

            arrivals.wait(lambda: sum(at is not None for at in reply_times()) + refused() - before >= count)
            approve = [at - click_sent[i] for i, at in enumerate(reply_times()) if at is not None]
            refused_clicks = refused() - before
    return {
        "mode": mode,
        "clients": clients,
        "delivery_threads": threads,
        "slack_delay_s": delay,
        "worker_process": worker,
        "propose_to_parent": summary(propose),
        "approve_to_reply": summary(approve),
        "errors": errors[:5],
        "error_count": len(errors),
        "refused_proposals": refused_proposals,
        "refused_setup_proposals": refused_setup,
        "refused_clicks": refused_clicks,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mode", choices=("burst", "person", "both"), default="both")
    parser.add_argument(
        "--delivery-threads", type=int, default=16, help="CHATOPS_DELIVERY_THREADS (default 16, as chatops)"
    )
    parser.add_argument("--slack-delay", type=float, default=0.0, help="seconds the stand-in takes to answer")
    parser.add_argument("--worker", action="store_true", help="deliver from a `chatops worker` process")
    parser.add_argument(
        "--regions",
        choices=("test", "shipped"),
        default="test",
        help="the tests' two regions (default) or the 299 the app ships with (snapshots of about 90 KB)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--logs", type=Path, help="copy the servers' logs into this directory")
    args = parser.parse_args(argv)
    results = []
    for mode in ("burst", "person") if args.mode == "both" else (args.mode,):
        result = run(
            args.count,
            args.clients,
            mode=mode,
            threads=args.delivery_threads,
            delay=args.slack_delay,
            worker=args.worker,
            logs=args.logs / mode if args.logs else None,
            regions=args.regions,
        )
        results.append(result)
        where = "a worker process" if args.worker else "each serving process"
        print(
            f"{mode}, {args.clients} clients, {args.delivery_threads} delivery thread(s) in {where}, "
            f"stand-in delay {1000 * args.slack_delay:.0f} ms, {args.regions} regions:"
        )
        for name in ("propose_to_parent", "approve_to_reply"):
            r = result[name]
            assert isinstance(r, dict)
            print(
                f"  {name:18} p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
                f"max {r['max_ms']:.0f} ms (n={r['n']})"
            )
        print(
            f"  errors: {result['error_count']} {result['errors']}; answered 'not recorded': "
            f"{result['refused_proposals']} proposals, {result['refused_setup_proposals']} proposals to approve"
            f" (sent as a burst, untimed), {result['refused_clicks']} clicks"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
