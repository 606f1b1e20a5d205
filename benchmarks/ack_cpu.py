"""CPU of the ack path: the request thread's CPU time from a signed request in to its 200, chatops against bare
Bolt, both WSGI apps called in this process (no sockets, no server, no client), so the figure is the app's own
share of an ack and does not move with the load of other processes the way latency does.

- ``chatops``: ``chatops.web.WsgiApp`` over ``build_runtime`` as ``chatops serve`` builds it in a gunicorn
  worker (settings as ``benchmarks/ack.py`` gives them, SQLite in a temporary directory, the Slack Web API
  stand-in, Prometheus multiprocess metrics in a temporary directory, JSON log lines to a file);
- ``bare-pbr``: ``benchmarks/bare_app.py`` (``process_before_response=True``) behind Bolt's WSGI adapter.

Each kind of ``benchmarks/ack.py`` (``check``: an informative command, acked then answered by a lazy listener;
``approve``: a click on a flagged proposal, which opens the justification form after the ack; ``propose``) is
sent ``--count`` times one after another, after a warm-up; the figure is the median and mean of
``time.thread_time()`` around the WSGI call. What follows the ack (lazy listeners, delivery) runs in other
threads and is not counted, but it is let finish (and the stand-in go quiet) before the next kind.

    .venv/bin/python benchmarks/ack_cpu.py [--count 300] [--profile check|approve|propose] [--target chatops]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_METRICS = tempfile.mkdtemp(prefix="chatops-ack-cpu-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _METRICS  # before prometheus_client is imported, as `serve` does

from benchmarks import ack, bare_app  # noqa: E402
from tests.slackfake import SlackStandIn  # noqa: E402

WsgiCallable = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The WSGI environ gunicorn would pass for a POST of ``body`` to /slack/events."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "3000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "HTTP_HOST": "127.0.0.1:3000",
        "HTTP_USER_AGENT": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "HTTP_ACCEPT": "*/*",
        "HTTP_ACCEPT_ENCODING": "gzip,deflate",
    }
    for name, value in headers.items():
        if name.lower() == "content-type":
            env["CONTENT_TYPE"] = value
        else:
            env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def call(app: WsgiCallable, env: dict[str, Any]) -> tuple[int, float, float]:
    """Status, the calling thread's CPU seconds until the response's first chunk is in hand (what the client
    waits for), and its CPU seconds for the rest: the server reading the body to its end and closing it."""
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(line)

    began = time.thread_time()
    result = app(env, start_response)
    chunks = iter(result)
    next(chunks, b"")
    ready = time.thread_time()
    for _ in chunks:
        pass
    close = getattr(result, "close", None)
    if close is not None:
        close()
    return int(status[-1].split(" ", 1)[0]), ready - began, time.thread_time() - ready


def chatops_app(tmp: Path, standin: SlackStandIn) -> tuple[WsgiCallable, Callable[[], None]]:
    from chatops.config import load_settings
    from chatops.observability import configure_logging
    from chatops.web import WsgiApp, build_runtime

    configure_logging("json", stream=(tmp / "chatops.log").open("a", buffering=1))
    saved = dict(os.environ)
    os.environ.update(
        {
            "SLACK_BOT_TOKEN": ack.TOKEN,
            "SLACK_SIGNING_SECRET": ack.SECRET,
            "SLACK_API_URL": standin.url,
            "CHATOPS_CHANNEL": ack.CHANNEL,
            "CHATOPS_APPROVERS": f"{ack.PROPOSER} {ack.APPROVER_1} {ack.GROUP}",
            "CHATOPS_DATABASE_URL": f"sqlite:///{tmp / 'chatops.db'}",
            "CHATOPS_CONFIG": str(
                ack.regions_file(tmp / "regions.toml", today=ack.datetime.now(ack.UTC).date())
            ),
            "CHATOPS_DELIVERY_RETRY_CAP": "1",
        }
    )
    try:
        runtime = build_runtime(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return WsgiApp(runtime), runtime.close


def bare(standin: SlackStandIn) -> WsgiCallable:
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    return SlackRequestHandler(
        bare_app.build(
            signing_secret=ack.SECRET, token=standin.token, api_url=standin.url, process_before_response=True
        )
    )


def first_proposal(app: WsgiCallable, standin: SlackStandIn) -> int:
    """A flagged proposal whose Approve button the ``approve`` requests click (its id, from the parent post)."""
    status, _, _ = call(app, environ(*ack.command(standin, f"propose {ack.window_text()} Benchmark anchor")))
    assert status == 200, status
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for posted in standin.calls_to("chat.postMessage"):
            for block in posted.json("blocks") or []:
                for element in block.get("elements") or []:
                    if element.get("action_id") == ack.APPROVE:
                        return int(str(element["value"]).split(":")[0])
        time.sleep(0.05)
    raise SystemExit("chatops did not post the first proposal within 20 s")


def run_kind(
    app: WsgiCallable, standin: SlackStandIn, kind: str, count: int, proposal_id: int, *, profile: bool
) -> list[float]:
    requests = [environ(*r) for r in ack.build_requests(standin, kind, count + 20, proposal_id)]
    for env in requests[:20]:  # warm-up: caches, the directory, first imports
        call(app, env)
    ack.wait_quiet(standin, replies_expected=0, timeout=60)
    profiler = cProfile.Profile(time.thread_time) if profile else None
    spent: list[float] = []
    after: list[float] = []
    for env in requests[20:]:
        if profiler is not None:
            profiler.enable()
        status, cpu, rest = call(app, env)
        if profiler is not None:
            profiler.disable()
        if status != 200:
            raise SystemExit(f"{kind}: answered {status}")
        spent.append(cpu * 1000)
        after.append(rest * 1000)
        # One request at a time, each after the previous one's lazy work, as at 1 client on an idle server.
        time.sleep(0.004)
    ack.wait_quiet(standin, replies_expected=0, timeout=60)
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
    return spent, after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--kinds", default="check,approve,propose")
    parser.add_argument("--target", choices=("chatops", "bare-pbr", "both"), default="both")
    parser.add_argument("--profile", help="cProfile the request thread of this kind (chatops only)")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    results: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="chatops-ack-cpu-") as name,
        SlackStandIn(token=ack.TOKEN) as standin,
    ):
        tmp = Path(name)
        standin.set_user(ack.PROPOSER, tz="America/Los_Angeles", name="proposer")
        standin.set_user(ack.APPROVER_1, tz="Europe/Berlin", name="approver one")
        standin.set_user(ack.APPROVER_2, tz="Asia/Kolkata", name="approver two")
        standin.set_usergroup(ack.GROUP, [ack.APPROVER_2])
        mine, close = chatops_app(tmp, standin)
        try:
            proposal_id = first_proposal(mine, standin)
            targets: list[tuple[str, WsgiCallable]] = []
            if args.target in ("chatops", "both"):
                targets.append(("chatops", mine))
            if args.target in ("bare-pbr", "both"):
                targets.append(("bare-pbr", bare(standin)))
            for kind in kinds:
                for target, app in targets:
                    profile = args.profile == kind and target == "chatops"
                    results[(kind, target)] = run_kind(
                        app, standin, kind, args.count, proposal_id, profile=profile
                    )
        finally:
            close()
    print(f"request thread CPU per ack, ms ({args.count} requests a kind, one at a time)")
    print(f"{'kind':8} {'server':9} {'median':>7} {'mean':>7} {'p90':>7}   after the body (median)")
    for (kind, target), (values, rest) in results.items():
        ordered = sorted(values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        print(
            f"{kind:8} {target:9} {statistics.median(values):7.3f} {statistics.fmean(values):7.3f} {p90:7.3f}"
            f"   {statistics.median(rest):7.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
