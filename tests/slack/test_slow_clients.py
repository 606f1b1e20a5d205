"""Slow clients cannot starve the server (issue case 9): eight connections trickling one byte every two seconds
(into their headers, or into their bodies) are cut off at the read deadline, and /healthz keeps answering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Server, start_server, stop_server
from slackfake.standin import SlackStandIn

READ_TIMEOUT = 1.0


@pytest.fixture
def guarded(tmp_path: Path, standin: SlackStandIn, database_url: str) -> Iterator[Server]:
    server = start_server(
        tmp_path, standin, database_url, extra_env={"CHATOPS_CLIENT_READ_TIMEOUT": str(READ_TIMEOUT)}
    )
    yield server
    stop_server(server)
    assert "Traceback" not in server.output()


def trickle(port: int, head: bytes, stop: threading.Event) -> None:
    """Send ``head``, then one byte every two seconds until told to stop or the server hangs up."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        try:
            while not stop.wait(2.0):
                conn.sendall(b"a")
        except OSError:
            return


@pytest.mark.parametrize(
    "head",
    [
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers never finish
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n",  # nor does the body
    ],
    ids=["headers", "body"],
)
def test_eight_slow_connections_do_not_starve_healthz(guarded: Server, head: bytes) -> None:
    port = int(guarded.url.rsplit(":", 1)[1])
    stop = threading.Event()
    slow = [threading.Thread(target=trickle, args=(port, head, stop)) for _ in range(8)]
    for t in slow:
        t.start()
    try:
        time.sleep(0.3)  # every worker thread (4) is now held by a slow client
        started = time.monotonic()
        answer = httpx.get(guarded.url + "/healthz", timeout=15)
        waited = time.monotonic() - started
        assert answer.status_code == 200
        # Eight slow clients over four threads: two rounds of the read deadline at most, not "for as long as
        # they last".
        assert waited < 2 * READ_TIMEOUT + 1.5, waited
    finally:
        stop.set()
        for t in slow:
            t.join(10)
