"""Memory of a serving worker: RSS of ``chatops serve``'s one gunicorn worker over a bounded run of requests.

``chatops serve --workers 1 --threads 4`` (SQLite in a temporary directory, the Web API stand-in from
``tests/slackfake`` in this process) gets a warm-up of mixed signed requests, then ``--count`` more, one at a
time over one keep-alive connection: a quarter proposals (new each time: flagged, so the suggestion search
runs), half ``check``, a quarter Approve clicks refused (the approver approved already). The worker's RSS
(``/proc/<pid>/status``, VmRSS) is read after the warm-up and every ``--every`` requests; the run waits for the
outbox between samples, so the delivery work of the requests is counted. Growth per 100,000 requests is the
least-squares slope over the samples after warm-up. ``--mix check`` sends only ``check`` (nothing is stored, so
the database does not grow): the difference shows what grows with the data rather than with the requests.

    .venv/bin/python benchmarks/memory.py                 # 20,000 requests (2-4 minutes on 2 cores)
    .venv/bin/python benchmarks/memory.py --count 4000    # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ack import (  # noqa: E402
    APPROVER_1,
    CHANNEL,
    GROUP,
    PROPOSER,
    SECRET,
    TOKEN,
    _clean_env,
    approve_click,
    command,
    start,
    window_text,
)
from tests.slackfake import SlackStandIn  # noqa: E402
from tests.slackfake.app_setup import free_port, regions_file  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(master: int, *, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def slope_per_100k(points: list[tuple[int, int]]) -> float:
    """KiB per 100,000 requests, least squares over (requests, KiB)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return 100_000 * sxy / sxx if sxx else 0.0


def run(count: int, every: int, warmup: int, time_limit: float, *, mix: str = "mixed") -> dict[str, object]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder, SlackStandIn(token=TOKEN) as standin:
        tmp = Path(folder)
        standin.set_user(PROPOSER, tz="America/Los_Angeles", name="proposer")
        standin.set_user(APPROVER_1, tz="Europe/Berlin", name="approver one")
        standin.set_usergroup(GROUP, [])
        port = free_port()
        env = _clean_env()
        env.update(
            {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": standin.url,
                "CHATOPS_CHANNEL": CHANNEL,
                "CHATOPS_APPROVERS": f"{PROPOSER} {APPROVER_1} {GROUP}",
                "CHATOPS_DATABASE_URL": f"sqlite:///{tmp / 'chatops.db'}",
                "CHATOPS_CONFIG": str(regions_file(tmp / "regions.toml", today=datetime.now(UTC).date())),
                "CHATOPS_DELIVERY_RETRY_CAP": "1",
            }
        )
        argv = [sys.executable, "-m", "chatops", "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1", "--threads", "4"]
        server = start("chatops", argv, env, port, tmp, cwd=tmp)
        try:
            pid = worker_pid(server.process.pid)
            with httpx.Client(timeout=30) as client:

                def send(i: int) -> None:
                    slot = i % 4 if mix == "mixed" else 1
                    if slot == 0:
                        body, headers = command(standin, f"propose {window_text()} Memory {i}")
                    elif slot == 3:
                        body, headers = approve_click(standin, 1, user=APPROVER_1)
                    else:
                        body, headers = command(standin, f"check {window_text()}")
                    try:
                        response = client.post(server.events_url, content=body, headers=headers)
                    except httpx.RemoteProtocolError:
                        # The server closed the kept-alive connection as the request went out (gunicorn closes
                        # one idle for its keep-alive time, 2 s, which the quiet wait can reach): sent again,
                        # as Slack retries, on a new connection. A worker that died would fail the next sample.
                        print(f"request {i}: connection closed by the server; sent again", flush=True)
                        response = client.post(server.events_url, content=body, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"request {i}: {response.status_code} {response.text[:200]}")

                def quiet() -> None:
                    seen, deadline = -1, time.monotonic() + 60
                    while time.monotonic() < deadline:
                        calls = len(standin.calls)
                        if calls == seen:
                            return
                        seen = calls
                        time.sleep(0.3)

                for i in range(warmup):
                    send(i)
                quiet()
                points = [(0, rss_kib(pid))]
                sent = 0
                while sent < count and time.monotonic() - started < time_limit:
                    for _ in range(min(every, count - sent)):
                        send(warmup + sent)
                        sent += 1
                    quiet()
                    points.append((sent, rss_kib(pid)))
                    print(f"{sent:7d} requests: worker RSS {points[-1][1] / 1024:.1f} MiB", flush=True)
        finally:
            server.stop()
    first, last = points[0][1], points[-1][1]
    return {
        "requests": sent,
        "warmup": warmup,
        "rss_after_warmup_mib": first / 1024,
        "rss_at_end_mib": last / 1024,
        "growth_mib": (last - first) / 1024,
        "slope_mib_per_100k": slope_per_100k(points) / 1024,
        "samples": points,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument(
        "--mix",
        choices=("mixed", "check"),
        default="mixed",
        help="check: only /maintenance check (nothing stored, so the database does not grow)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.count, args.every, args.warmup, args.time_limit, mix=args.mix)
    print(
        f"worker RSS after {result['warmup']} warm-up requests {result['rss_after_warmup_mib']:.1f} MiB, after "
        f"{result['requests']} more {result['rss_at_end_mib']:.1f} MiB (+{result['growth_mib']:.1f} MiB); "
        f"slope {result['slope_mib_per_100k']:.1f} MiB per 100,000 requests"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
