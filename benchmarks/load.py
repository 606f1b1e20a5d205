"""The load generator for the ack-path benchmark: ``clients`` threads, each with its own
keep-alive ``httpx.Client``, POST prepared (already signed) requests until the fixed list is used up or the
time runs out.

It runs in a process of its own (``multiprocessing``, spawn), so its work never shares a GIL with the Slack
stand-in or the orchestrating process; latency is measured by the client, from just before the request is sent
to the moment the whole response has been read.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Fired:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    sent: int = 0


def fire(
    url: str, requests: list[tuple[bytes, dict[str, str]]], *, clients: int, time_limit: float = 60.0
) -> Fired:
    """POST every ``(body, headers)`` in ``requests`` to ``url`` from ``clients`` concurrent clients."""
    result = Fired()
    lock = threading.Lock()
    counter = itertools.count()
    deadline = time.monotonic() + time_limit
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        latencies: list[float] = []
        errors: list[str] = []
        with httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=1)) as http:
            http.get(url.rsplit("/slack/", 1)[0] + "/healthz")  # open the connection before the clock starts
            barrier.wait()
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= len(requests):
                    break
                body, headers = requests[i]
                began = time.perf_counter()
                try:
                    response = http.post(url, content=body, headers=headers)
                    response.read()
                except httpx.HTTPError as exc:
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                    continue
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:100]}")
                else:
                    latencies.append(elapsed)
        with lock:
            result.latencies_ms.extend(latencies)
            result.errors.extend(errors)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - began
    result.sent = len(result.latencies_ms) + len(result.errors)
    return result
