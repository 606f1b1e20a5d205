"""CPU per request: the real app in one process, from the signed request to the last Slack call it causes.

The app (``chatops.web.build_runtime``: Bolt app, store, delivery worker; SQLite in a temporary directory), the
client signing Slack's requests (httpx over the WSGI transport, no sockets to the app) and the Slack Web API
stand-in (``tests/slackfake``, a loopback HTTP server in threads) all run in this process. Each kind sends
``--count`` requests one after another, then waits until the stand-in has seen no call for 0.3 s and the outbox
is empty. Over that stretch three figures are taken, each divided by the count:

- *total*: ``time.process_time()``, every thread of every party (the figure this benchmark always reported);
- *harness*: Slack's side, which is not the app's: the stand-in's own threads (``SlackStandIn.cpu_seconds``,
  ``time.thread_time`` of the thread accepting connections and of each connection's thread), and the main
  thread's CPU outside the app (building and signing each request, httpx, the quiet wait polling the outbox),
  i.e. the main thread's ``time.thread_time()`` less what it spent inside the WSGI app;
- *app*: total less harness: the ack (inside the WSGI app, in the main thread), the lazy listeners (private
  answers), the delivery worker (parent message, thread replies, updates) and the app's side of each Slack call.

The idle cost (the delivery worker polling an empty outbox, the quiet wait) is measured alone over the same kind
of stretch and reported beside it; it is not subtracted. The harness floor (a signed request to a WSGI app that
only answers 200, and one stand-in call over a kept-alive httpx connection, client and server) is reported too.

*Of it ack* is the part of *app* spent in the request thread from the signed request to its 200. The **Bolt
floor** (``bolt_floor``; skipped with ``--no-floor``) is what the libraries cost for the same work: right after
each kind, the same requests go to a bare Bolt app configured as chatops configures its own, whose listeners
ack and then send the very Slack calls chatops made for that kind (the same methods and bodies, through the same
kept-alive client and ``respond()``), measured the same way. *app - floor* is then chatops's own work: the
front door, the store, the evaluation and the building of its messages. The run fails if the floor's listeners
did not run for every request or made another number of Slack calls than chatops did.

    .venv/bin/python benchmarks/cpu.py                 # 200 requests a kind
    .venv/bin/python benchmarks/cpu.py --count 50 --profile propose   # cProfile of one kind, top 40
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "slack"))

from conftest import (  # noqa: E402  (tests/slack/conftest.py: the tests' settings and people)
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    GROUP,
    OUTSIDER,
    PROPOSER,
    SECRET,
    TOKEN,
    settings_for,
)
from floor import Timed, bolt_floor  # noqa: E402  (same directory)
from slackfake.app_setup import shipped_regions_file  # noqa: E402
from slackfake.signing import SlackClientSim  # noqa: E402
from slackfake.standin import SlackStandIn  # noqa: E402

from chatops import web  # noqa: E402
from chatops.slack import ids  # noqa: E402
from chatops.web import Runtime, WsgiApp, build_runtime  # noqa: E402

KINDS = ("propose", "check", "list", "approve")


def next_monday() -> str:
    day = datetime.now(UTC).date() + timedelta(days=7)
    return str(day + timedelta(days=(0 - day.weekday()) % 7))


@contextmanager
def app(tmp: Path, *, regions: str = "test") -> Iterator[tuple[Runtime, SlackStandIn, SlackClientSim, Timed]]:
    """The app and its harness; ``regions``: ``test`` (the tests' two regions) or ``shipped`` (the app's 299)."""
    with SlackStandIn(token=TOKEN) as standin:
        standin.set_user(PROPOSER, tz="America/Los_Angeles", name="proposer")
        standin.set_user(APPROVER_1, tz="Europe/Berlin", name="approver one")
        standin.set_user(APPROVER_2, tz="Asia/Kolkata", name="approver two")
        standin.set_user(OUTSIDER, tz="UTC", name="outsider")
        standin.set_usergroup(GROUP, [APPROVER_2])
        extra = {}
        if regions == "shipped":
            extra["chatops_config"] = str(
                shipped_regions_file(tmp / "shipped.toml", today=datetime.now(UTC).date())
            )
        runtime = build_runtime(settings_for(tmp, standin, f"sqlite:///{tmp / 'cpu.db'}", **extra))
        timed = Timed(WsgiApp(runtime))
        transport = httpx.WSGITransport(app=timed)
        try:
            with SlackClientSim(
                "http://chatops.test/slack/events",
                signing_secret=SECRET,
                standin=standin,
                transport=transport,
            ) as sim:
                yield runtime, standin, sim, timed
        finally:
            runtime.close()


def due(runtime: Runtime) -> int:
    """Outbox messages due now and not yet delivered (reminders scheduled for later do not count)."""
    engine = runtime.store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL"
                f" AND next_attempt_at <= {int(time.time())}"
            ).scalar_one()
        )


def settle(runtime: Runtime | None, standin: SlackStandIn, *, quiet: float = 0.3, limit: float = 120) -> None:
    """Wait until the stand-in has had no call for ``quiet`` seconds and nothing is left in the outbox."""
    deadline = time.monotonic() + limit
    seen = -1
    while time.monotonic() < deadline:
        count = len(standin.calls)
        pending = due(runtime) if runtime is not None else 0
        if count == seen and not pending:
            return
        seen = count
        time.sleep(quiet)
    raise RuntimeError("the app did not settle")


class Clocks:
    """The process's CPU, the stand-in's, the main thread's and the app's part of the main thread's, now."""

    def __init__(self, standin: SlackStandIn, timed: Timed | None) -> None:
        self.standin, self.timed = standin, timed
        self.process = time.process_time()
        self.slack = standin.cpu_seconds
        self.main = time.thread_time()
        self.inside = timed.cpu if timed is not None else 0.0

    def since(self, start: Clocks) -> tuple[float, float]:
        """(total, harness) CPU seconds from ``start`` to now (``self``)."""
        total = self.process - start.process
        outside_app = (self.main - start.main) - (self.inside - start.inside)
        return total, (self.slack - start.slack) + outside_app


def measure(
    runtime: Runtime | None,
    standin: SlackStandIn,
    send: Callable[[int], Any],
    count: int,
    timed: Timed | None = None,
) -> dict[str, float]:
    calls = len(standin.calls)
    start, wall = Clocks(standin, timed), time.perf_counter()
    for i in range(count):
        response = send(i)
        if response.status_code != 200:
            raise RuntimeError(f"answered {response.status_code}: {response.text[:200]}")
    settle(runtime, standin)
    wall = time.perf_counter() - wall
    end = Clocks(standin, timed)
    total, harness = end.since(start)
    return {
        "cpu_ms_per_request": 1000 * total / count,
        "request_thread_cpu_ms_per_request": 1000 * (end.inside - start.inside) / count,
        "harness_cpu_ms_per_request": 1000 * harness / count,
        "app_cpu_ms_per_request": 1000 * (total - harness) / count,
        "wall_s": wall,
        "slack_calls_per_request": (len(standin.calls) - calls) / count,
    }


def idle(runtime: Runtime, standin: SlackStandIn, timed: Timed) -> tuple[float, float]:
    """CPU ms spent over one settle stretch by a quiet process, and by the app alone (what ``measure`` adds to
    any run)."""
    start = Clocks(standin, timed)
    settle(runtime, standin)
    total, harness = Clocks(standin, timed).since(start)
    return 1000 * total, 1000 * (total - harness)


def window() -> str:
    """09:30 in Tehran: flagged, suggestions searched."""
    return f"{next_monday()} 22:00 America/Los_Angeles 1h"


def prepare(
    runtime: Runtime, standin: SlackStandIn, sim: SlackClientSim, count: int
) -> dict[str, Callable[[int], Any]]:
    """Each kind's request ``i`` (``KINDS``). Approvals need their proposals and parent messages first: ``count``
    clear ones (01:30 in Tehran, approved in one tap) are proposed and delivered here, not measured."""
    return requests(standin, sim, to_approve(runtime, standin, sim, count))


def to_approve(runtime: Runtime, standin: SlackStandIn, sim: SlackClientSim, count: int) -> list[str]:
    """``count`` clear proposals, delivered: their parent messages' ``ts``."""
    clear = f"{next_monday()} 14:00 America/Los_Angeles 1h"
    for i in range(count):
        sim.command(f"propose {clear} Approve me {i}", user_id=PROPOSER)
    settle(runtime, standin)
    parent_ts = [
        c.response["ts"]
        for c in standin.calls_to("chat.postMessage")
        if c.ok and not c.params.get("thread_ts")
    ][-count:]
    return parent_ts


def requests(
    standin: SlackStandIn, sim: SlackClientSim, parent_ts: list[str]
) -> dict[str, Callable[[int], Any]]:
    """Each kind's request ``i``, sent by ``sim``; an Approve click is on the parent message ``parent_ts[i]``."""
    flagged = window()
    return {
        "propose": lambda i: sim.command(f"propose {flagged} Core network upgrade {i}", user_id=PROPOSER),
        "check": lambda i: sim.command(f"check {flagged}", user_id=PROPOSER),
        "list": lambda i: sim.command("list", user_id=PROPOSER),
        "approve": lambda i: sim.block_action(
            ids.APPROVE, message=standin.message(CHANNEL, parent_ts[i]), user_id=APPROVER_1
        ),
    }


def run(
    count: int, profile: str | None, *, with_floor: bool = True, regions: str = "test", gc_freeze: bool = True
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        app(Path(folder), regions=regions) as (
            runtime,
            standin,
            sim,
            timed,
        ),
    ):
        # Warm-up: every path once, so imports, caches and the directory are filled as in a serving worker.
        sim.command(f"propose {window()} Warm-up", user_id=PROPOSER)
        sim.command(f"check {window()}", user_id=PROPOSER)
        sim.command("list", user_id=PROPOSER)
        settle(runtime, standin)
        if gc_freeze:  # as `chatops serve` does once a worker has built its runtime (older code: freezing)
            freeze = getattr(web, "tune_gc_for_serving", None) or getattr(web, "freeze_startup_objects", None)
            if freeze is None:  # older code measured with this harness: the same two calls
                gc.collect()
                gc.freeze()
            else:
                freeze()
        results["idle_cpu_ms_per_settle"], results["idle_app_cpu_ms_per_settle"] = idle(
            runtime, standin, timed
        )

        parent_ts = to_approve(runtime, standin, sim, count)
        senders = requests(standin, sim, parent_ts)
        with bolt_floor(standin, secret=SECRET, token=TOKEN) as (replay, bare_sim, bare_timed):
            bare_senders = requests(standin, bare_sim, parent_ts)
            for kind in KINDS:
                sent = len(standin.calls)
                if profile == kind:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    results[kind] = measure(runtime, standin, senders[kind], count, timed)
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
                else:
                    results[kind] = measure(runtime, standin, senders[kind], count, timed)
                if with_floor:
                    replay.load(standin.calls[sent:], count)
                    floor_run = measure(None, standin, bare_senders[kind], count, bare_timed)
                    replay.check_done()
                    if floor_run["slack_calls_per_request"] != results[kind]["slack_calls_per_request"]:
                        raise RuntimeError(f"the floor made other Slack calls than chatops for {kind}")
                    results[kind]["bolt_floor"] = floor_run
        results["open_proposals"] = runtime.store.count_proposals()

    results["floor"] = floor(count)
    return results


def floor(count: int) -> dict[str, float]:
    """The harness alone: a signed command to a WSGI app that answers 200, and one stand-in call (client and
    server, over a kept-alive connection)."""

    def ok(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    with SlackStandIn(token=TOKEN) as standin:
        transport = httpx.WSGITransport(app=ok)
        with SlackClientSim(
            "http://x.test/slack/events", signing_secret=SECRET, standin=standin, transport=transport
        ) as sim:
            per_request = measure(None, standin, lambda i: sim.command("list", user_id=PROPOSER), count)
        with httpx.Client() as client:
            cpu = time.process_time()
            for _ in range(count):
                client.post(standin.url + "/api/auth.test", headers={"Authorization": f"Bearer {TOKEN}"})
            slack_call = 1000 * (time.process_time() - cpu) / count
    return {
        "signed_request_cpu_ms": per_request["cpu_ms_per_request"],
        "standin_call_cpu_ms": slack_call,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--profile", choices=KINDS)
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the Bolt floor (bare Bolt sending the same Slack calls)"
    )
    parser.add_argument(
        "--regions",
        choices=("test", "shipped"),
        default="test",
        help="the tests' two regions (default) or the 299 the app ships with (snapshots of about 90 KB)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="leave the garbage collector as it is after the warm-up (chatops serve freezes what start-up made"
        " and collects young objects in larger batches)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(
        args.count,
        args.profile,
        with_floor=not args.no_floor,
        regions=args.regions,
        gc_freeze=not args.no_gc_freeze,
    )
    idle_ms = results["idle_cpu_ms_per_settle"]
    idle_app = results["idle_app_cpu_ms_per_settle"]
    print(
        f"CPU ms per request, {args.count} a kind, {args.regions} regions, every party in this process"
        f" (idle settle: {idle_ms:.1f} ms, of which the app {idle_app:.1f} ms)"
    )
    print(
        f"{'kind':8} {'total':>8} {'harness':>8} {'app':>8} {'of it ack':>10} {'Slack calls':>12} {'wall s':>7}"
        f" {'floor app':>10} {'of it ack':>10} {'Slack calls':>12} {'app - floor':>12}"
    )
    for kind in KINDS:
        r = results[kind]
        bare = r.get("bolt_floor")
        print(
            f"{kind:8} {r['cpu_ms_per_request']:8.2f} {r['harness_cpu_ms_per_request']:8.2f}"
            f" {r['app_cpu_ms_per_request']:8.2f} {r['request_thread_cpu_ms_per_request']:10.2f}"
            f" {r['slack_calls_per_request']:12.2f} {r['wall_s']:7.1f}"
            + (
                f" {bare['app_cpu_ms_per_request']:10.2f} {bare['request_thread_cpu_ms_per_request']:10.2f}"
                f" {bare['slack_calls_per_request']:12.2f}"
                f" {r['app_cpu_ms_per_request'] - bare['app_cpu_ms_per_request']:12.2f}"
                if bare
                else ""
            )
        )
    print(
        "(ms of CPU per request; 'of it ack': the request thread from the signed request to its 200; 'floor':"
        " bare Bolt acking the same requests and sending the same Slack calls after the ack)"
    )
    f = results["floor"]
    print(
        f"harness floor: a signed request to an empty WSGI app {f['signed_request_cpu_ms']:.2f} ms; "
        f"one stand-in Web API call (client + server) {f['standin_call_cpu_ms']:.2f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
