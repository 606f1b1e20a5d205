"""``chatops serve`` with CHATOPS_DELIVERY_THREADS=0 delivers nothing; ``chatops worker`` beside it, on the same
database, delivers what it commits and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import PROPOSER, SECRET, next_week, server_env, start_server, stop_server
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn


def test_a_worker_process_delivers_what_a_server_without_delivery_threads_commits(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    no_delivery = {"CHATOPS_DELIVERY_THREADS": "0"}
    server = start_server(tmp_path, standin, database_url, extra_env=no_delivery)
    worker: subprocess.Popen[bytes] | None = None
    log = tmp_path / "worker.log"
    try:
        with SlackClientSim(server.events_url, signing_secret=SECRET, standin=standin) as slack:
            text = f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Core network upgrade"
            assert slack.command(text, user_id=PROPOSER).status_code == 200
        time.sleep(1.5)  # more than the server's poll interval: it would have delivered by now
        assert not standin.calls_to("chat.postMessage"), standin.dump()

        env = server_env(tmp_path, standin, database_url, {"CHATOPS_DELIVERY_THREADS": "2"})
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "chatops", "worker", "--poll-interval", "0.1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # The parent and its first reply ("proposed"), once each.
        calls = standin.wait_for("chat.postMessage", 2, timeout=20)
        parent, reply = calls[0], calls[1]
        assert not parent.params.get("thread_ts")
        assert reply.params.get("thread_ts") == parent.response["ts"]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        time.sleep(0.3)
        assert len([c for c in standin.calls_to("chat.postMessage") if not c.params.get("thread_ts")]) == 1
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        stop_server(server)
    output = log.read_text(errors="replace")
    assert "worker starting (2 delivery threads)" in output, output
    assert "stopping" in output and "Traceback" not in output, output
    assert "Traceback" not in server.output()


def test_a_worker_needs_a_delivery_thread(tmp_path: Path, standin: SlackStandIn, database_url: str) -> None:
    env = server_env(tmp_path, standin, database_url, {"CHATOPS_DELIVERY_THREADS": "0"})
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "at least 1" in result.stderr or "1 to 64" in result.stderr, result.stderr
