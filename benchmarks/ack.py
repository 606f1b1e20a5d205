"""Ack-path benchmark: ``chatops serve`` against a bare Bolt app on the same server stack.

Three servers run side by side, each gunicorn with 2 gthread workers x 4 threads on 127.0.0.1:

- ``chatops``: the real app (``python -m chatops serve``), SQLite in a temporary directory, the Slack Web API
  stand-in from ``tests/slackfake`` as ``SLACK_API_URL``, settings as ``tests/slack/conftest.py`` sets them;
- ``bare-default``: ``benchmarks/bare_app.py`` with Bolt's default listener runner;
- ``bare-pbr``: the same with ``process_before_response=True``.

Each is sent the same signed requests (``/maintenance propose …`` with a fresh trigger id each, so each is a
new proposal; ``/maintenance check …``; Approve clicks on one proposal by an approver: the proposal's window is
flagged, so each click opens the confirmation form, ``views.open``, and approves nothing) by 1, 8 and 32
concurrent clients (``benchmarks/load.py``, in a process of its own). Latency is the client's: from sending
the request to reading the whole response (the ack). Throughput is requests acked per second. For chatops the
work after the ack (the private reply through ``response_url``, the outbox posts) is waited for after each run
("drained"), so the next run starts from a quiet server, and "done/s" counts it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import load  # noqa: E402
from tests.slackfake import SlackStandIn, payloads, sign  # noqa: E402
from tests.slackfake.app_setup import free_port, regions_file, shipped_regions_file  # noqa: E402

SECRET = "bench-signing-secret-8f2a"
TOKEN = "xoxb-bench-token"
CHANNEL = "C0CHANGES"
PROPOSER = "U0PROPOSER"
APPROVER_1 = "U0APPROVER1"
APPROVER_2 = "U0APPROVER2"
GROUP = "S0OPS"
APPROVE = "chatops_approve"

KINDS = ("propose", "check", "approve")
CLIENTS = (1, 8, 32)
TARGETS = ("chatops", "bare-default", "bare-pbr")


@dataclass
class AckResult:
    target: str
    kind: str
    clients: int
    requests: int
    errors: int
    throughput: float  # acked per second
    p50_ms: float
    p95_ms: float
    p99_ms: float
    drained_s: float | None = None  # chatops: seconds from the first request until the last reply arrived
    done_per_s: float | None = None  # chatops: requests / drained_s


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHATOPS_", "BARE_"))}


def start(name: str, argv: list[str], env: dict[str, str], port: int, tmp: Path, *, cwd: Path) -> Server:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(server.url + "/healthz", timeout=1)  # any answer will do: the bare app says 404
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.stop()
    raise SystemExit(f"{name} did not answer within 60 s:\n{log.read_text(errors='replace')}")


def chatops_env(
    tmp: Path, standin: SlackStandIn, *, database_url: str | None = None, regions: str = "test"
) -> dict[str, str]:
    """The environment ``chatops serve`` (and ``chatops worker``) run with in the benchmarks; ``regions``:
    ``test`` (the Slack tests' two regions) or ``shipped`` (the 299 the app ships with, Iran marked the same)."""
    write = shipped_regions_file if regions == "shipped" else regions_file
    env = _clean_env()
    env.update(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": standin.url,
            "CHATOPS_CHANNEL": CHANNEL,
            "CHATOPS_APPROVERS": f"{PROPOSER} {APPROVER_1} {GROUP}",
            "CHATOPS_DATABASE_URL": database_url or f"sqlite:///{tmp / 'chatops.db'}",
            "CHATOPS_CONFIG": str(write(tmp / "regions.toml", today=datetime.now(UTC).date())),
            "CHATOPS_DELIVERY_RETRY_CAP": "1",
        }
    )
    return env


def start_chatops(
    tmp: Path,
    standin: SlackStandIn,
    *,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    regions: str = "test",
) -> Server:
    port = free_port()
    env = chatops_env(tmp, standin, database_url=database_url, regions=regions)
    env.update(extra_env or {})
    argv = [sys.executable, "-m", "chatops", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", "2", "--threads", "4"]
    return start("chatops", argv, env, port, tmp, cwd=tmp)


def bare_env(standin: SlackStandIn, *, process_before_response: bool) -> dict[str, str]:
    """The settings of ``benchmarks/bare_app.py``: the same secret and stand-in as chatops, and a bot token the
    stand-in accepts (with any other, Bolt answers "reinstall" and never runs the listener)."""
    return {
        "BARE_SIGNING_SECRET": SECRET,
        "BARE_BOT_TOKEN": standin.token,
        "BARE_API_URL": standin.url,
        "BARE_PROCESS_BEFORE_RESPONSE": "1" if process_before_response else "0",
    }


def start_bare(tmp: Path, standin: SlackStandIn, *, process_before_response: bool) -> Server:
    port = free_port()
    env = _clean_env()
    env.update(bare_env(standin, process_before_response=process_before_response))
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread"]
    argv += [
        "--workers",
        "2",
        "--threads",
        "4",
        "--timeout",
        "30",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]
    argv += ["--chdir", str(Path(__file__).resolve().parent), "bare_app:create_application()"]
    name = "bare-pbr" if process_before_response else "bare-default"
    return start(name, argv, env, port, tmp, cwd=tmp)


# -- requests ------------------------------------------------------------------------------------------------

_serial = iter(range(1, 10**9))


def _trigger_id() -> str:
    return f"{int(time.time())}{next(_serial):07d}.1000000002.bench"


def _signed(body: bytes, content_type: str) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": content_type, **sign(body, SECRET)}
    return body, headers


def command(standin: SlackStandIn, text: str, *, user: str = PROPOSER) -> tuple[bytes, dict[str, str]]:
    fields = payloads.load("slash_command")
    fields.update(
        command="/maintenance",
        text=text,
        user_id=user,
        user_name=user.lower(),
        channel_id=CHANNEL,
        trigger_id=_trigger_id(),
        response_url=standin.response_url(channel=CHANNEL),
    )
    return _signed(payloads.form_body(fields), "application/x-www-form-urlencoded")


def approve_click(standin: SlackStandIn, proposal_id: int, *, user: str) -> tuple[bytes, dict[str, str]]:
    payload = payloads.load("block_actions")
    payload["user"] = {
        "id": user,
        "username": user.lower(),
        "name": user.lower(),
        "team_id": payloads.TEAM_ID,
    }
    payload["trigger_id"] = _trigger_id()
    payload["channel"] = {"id": CHANNEL, "name": "changes"}
    payload["container"]["channel_id"] = CHANNEL
    payload["response_url"] = standin.response_url(channel=CHANNEL, message_ts=payload["message"]["ts"])
    payload["actions"] = [
        {
            "action_id": APPROVE,
            "block_id": "chatops_decisions",
            "type": "button",
            "action_ts": f"{time.time():.6f}",
            "text": {"type": "plain_text", "text": "Approve"},
            "value": f"{proposal_id}:1:1",  # id:round:version, as the proposal message shows it
        }
    ]
    return _signed(payloads.interaction_body(payload), "application/x-www-form-urlencoded")


def next_monday() -> date:
    day = datetime.now(UTC).date() + timedelta(days=7)
    return day + timedelta(days=(0 - day.weekday()) % 7)


def window_text() -> str:
    # 22:00 Pacific next week: 09:30 in Tehran, flagged, so propose and check run the suggestion search too.
    return f"{next_monday()} 22:00 America/Los_Angeles 1h"


def build_requests(
    standin: SlackStandIn, kind: str, count: int, proposal_id: int
) -> list[tuple[bytes, dict[str, str]]]:
    if kind == "propose":
        return [command(standin, f"propose {window_text()} Core network upgrade") for _ in range(count)]
    if kind == "check":
        return [command(standin, f"check {window_text()}") for _ in range(count)]
    return [approve_click(standin, proposal_id, user=APPROVER_1) for _ in range(count)]


# -- running -------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def replies(standin: SlackStandIn) -> int:
    return len(standin.calls_to("response_url"))


def wait_quiet(standin: SlackStandIn, *, replies_expected: int, timeout: float) -> float:
    """Wait until ``replies_expected`` response_url calls have arrived and no call came for 0.3 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and replies(standin) < replies_expected:
        time.sleep(0.02)
    done = time.monotonic()
    seen = -1
    while time.monotonic() < deadline and len(standin.calls) != seen:
        seen = len(standin.calls)
        time.sleep(0.3)
    return done


def first_proposal(standin: SlackStandIn, server: Server) -> int:
    """Propose once and approve once (the first of two approvals a flagged window needs), so later clicks by
    the same approver are refused: they still lock the proposal, read its approvals and answer privately."""
    body, headers = command(standin, f"propose {window_text()} Benchmark anchor")
    httpx.post(server.events_url, content=body, headers=headers, timeout=10).raise_for_status()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for call in standin.calls_to("chat.postMessage"):
            for block in call.json("blocks") or []:
                for element in block.get("elements") or []:
                    if element.get("action_id") == APPROVE:
                        proposal_id = int(str(element["value"]).split(":")[0])
                        body, headers = approve_click(standin, proposal_id, user=APPROVER_1)
                        httpx.post(
                            server.events_url, content=body, headers=headers, timeout=10
                        ).raise_for_status()
                        time.sleep(0.5)
                        return proposal_id
        time.sleep(0.05)
    raise SystemExit(
        "chatops did not post the first proposal within 20 s:\n" + server.log.read_text(errors="replace")
    )


def counts(quick: bool) -> dict[int, int]:
    return {1: 60, 8: 120, 32: 200} if quick else {1: 300, 8: 600, 32: 1000}


@contextlib.contextmanager
def servers(tmp: Path, standin: SlackStandIn, *, backend: str = "sqlite") -> Iterator[dict[str, Server]]:
    """The three servers; chatops on ``backend`` ("sqlite", or "postgresql": a schema of its own at
    ``CHATOPS_BENCH_POSTGRES_URL``, dropped afterwards)."""
    from benchmarks.scale import database

    running: dict[str, Server] = {}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(database(backend, tmp))
        try:
            running["chatops"] = start_chatops(tmp, standin, database_url=url)
            running["bare-default"] = start_bare(tmp, standin, process_before_response=False)
            running["bare-pbr"] = start_bare(tmp, standin, process_before_response=True)
            yield running
        finally:
            for server in running.values():
                server.stop()


def run(
    *, quick: bool = False, log: Any = print, targets: tuple[str, ...] = TARGETS, backend: str = "sqlite"
) -> list[AckResult]:
    results: list[AckResult] = []
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    with (
        tempfile.TemporaryDirectory(prefix="chatops-bench-") as tmp_name,
        SlackStandIn(token=TOKEN) as standin,
    ):
        tmp = Path(tmp_name)
        standin.set_user(PROPOSER, tz="America/Los_Angeles", name="proposer")
        standin.set_user(APPROVER_1, tz="Europe/Berlin", name="approver one")
        standin.set_user(APPROVER_2, tz="Asia/Kolkata", name="approver two")
        standin.set_usergroup(GROUP, [APPROVER_2])
        with servers(tmp, standin, backend=backend) as running:
            proposal_id = first_proposal(standin, running["chatops"])
            pool.submit(time.sleep, 0).result()  # start the load process before any clock runs
            for kind in KINDS:
                for clients, count in counts(quick).items():
                    for target in targets:
                        server = running[target]
                        requests = build_requests(standin, kind, count, proposal_id)
                        before = replies(standin)
                        started = time.monotonic()
                        fired: load.Fired = pool.submit(
                            load.fire, server.events_url, requests, clients=clients, time_limit=120
                        ).result()
                        drained = done = None
                        if target == "chatops" and kind != "approve":
                            finished = wait_quiet(standin, replies_expected=before + count, timeout=120)
                            drained = finished - started
                            done = count / drained if drained > 0 else None
                        elif target == "chatops":
                            # Approve on the benchmark's proposal (a flagged window) opens the confirmation
                            # form (views.open) rather than answering through response_url: nothing to count,
                            # only let the server go quiet.
                            wait_quiet(standin, replies_expected=before, timeout=120)
                        lat = fired.latencies_ms
                        result = AckResult(
                            target=target,
                            kind=kind,
                            clients=clients,
                            requests=fired.sent,
                            errors=len(fired.errors),
                            throughput=len(lat) / fired.wall_s if fired.wall_s else 0.0,
                            p50_ms=percentile(lat, 50),
                            p95_ms=percentile(lat, 95),
                            p99_ms=percentile(lat, 99),
                            drained_s=drained,
                            done_per_s=done,
                        )
                        results.append(result)
                        log(
                            f"  {kind:8} {clients:>2} clients {target:13} {result.throughput:7.1f}/s "
                            f"p50 {result.p50_ms:6.2f} p95 {result.p95_ms:6.2f} p99 {result.p99_ms:7.2f} ms"
                            + (f"  drained in {drained:.1f} s" if drained is not None else "")
                            + (f"  {len(fired.errors)} errors: {fired.errors[0]}" if fired.errors else "")
                        )
            for server in running.values():
                text = server.log.read_text(errors="replace")
                if "Traceback" in text:
                    log(f"  WARNING: {server.name} logged a traceback; see below\n{text[-3000:]}")
    pool.shutdown()
    return results


def summary(results: list[AckResult]) -> dict[str, Any]:
    """Per kind and client count: chatops / the faster bare configuration (throughput), and the targets."""
    out: dict[str, Any] = {"ratios": [], "targets": {}}
    by = {(r.target, r.kind, r.clients): r for r in results}
    for kind in KINDS:
        for clients in CLIENTS:
            mine = by.get(("chatops", kind, clients))
            bare = [by[(t, kind, clients)] for t in ("bare-default", "bare-pbr") if (t, kind, clients) in by]
            if mine is None or not bare:
                continue
            best = max(bare, key=lambda r: r.throughput)
            out["ratios"].append(
                {
                    "kind": kind,
                    "clients": clients,
                    "chatops_per_s": mine.throughput,
                    "bare_best": best.target,
                    "bare_per_s": best.throughput,
                    "ratio": mine.throughput / best.throughput if best.throughput else None,
                }
            )
    mine = [r for r in results if r.target == "chatops"]
    p50_1 = max((r.p50_ms for r in mine if r.clients == 1), default=float("nan"))
    p99_8 = max((r.p99_ms for r in mine if r.clients == 8), default=float("nan"))
    lowest = min((x["ratio"] for x in out["ratios"] if x["ratio"] is not None), default=float("nan"))
    out["targets"] = {
        "ack_p50_1_client_ms": {"worst": p50_1, "target": 5.0, "met": p50_1 <= 5.0},
        "ack_p99_8_clients_ms": {"worst": p99_8, "target": 25.0, "met": p99_8 <= 25.0},
        "throughput_ratio": {"lowest": lowest, "target": 0.70, "met": lowest >= 0.70},
    }
    return out


def table(results: list[AckResult]) -> str:
    rows = [["kind", "clients", "server", "acked/s", "p50 ms", "p95 ms", "p99 ms", "done/s", "errors"]]
    for r in results:
        rows.append(
            [
                r.kind,
                str(r.clients),
                r.target,
                f"{r.throughput:.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p95_ms:.2f}",
                f"{r.p99_ms:.1f}",
                "" if r.done_per_s is None else f"{r.done_per_s:.0f}",
                str(r.errors),
            ]
        )
    return _format(rows, left=(0, 2))


def ratio_table(summary_: dict[str, Any]) -> str:
    rows = [["kind", "clients", "chatops/s", "best bare", "bare/s", "chatops / bare"]]
    for x in summary_["ratios"]:
        rows.append(
            [
                x["kind"],
                str(x["clients"]),
                f"{x['chatops_per_s']:.0f}",
                x["bare_best"],
                f"{x['bare_per_s']:.0f}",
                "" if x["ratio"] is None else f"{x['ratio']:.0%}",
            ]
        )
    return _format(rows, left=(0, 3))


def _format(rows: list[list[str]], *, left: tuple[int, ...]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def as_json(results: list[AckResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


if __name__ == "__main__":
    found = run(quick="--quick" in sys.argv)
    print(table(found))
    print(ratio_table(summary(found)))
    print(json.dumps(summary(found)["targets"], indent=2))
