"""A deadline on reading each request, so slow clients cannot hold the server's threads.

gunicorn's threaded worker reads a request's line and headers, and the app reads its body, with blocking reads
and no deadline: a client sending one byte every two seconds holds a thread for as long as it likes, and a few
such clients starve every other request (``/healthz`` included). :class:`ReadGuard` is one watchdog thread per
process: a connection being read is registered with a deadline, and a connection still being read at its
deadline is shut down, which ends the blocked read. :class:`GuardedThreadWorker` registers each connection
until its headers are parsed; :func:`chatops.web.WsgiApp` registers it again while the body is read.

In production, put a buffering reverse proxy in front as well (README, Deploy): it absorbs slow clients before
they reach a worker thread at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class ReadGuard:
    def __init__(self, *, tick: float = 0.1) -> None:
        self._tick = tick
        self._lock = threading.Lock()
        self._deadlines: dict[int, tuple[float, socket.socket]] = {}
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, seconds: float) -> None:
        with self._lock:
            self._deadlines[id(sock)] = (time.monotonic() + seconds, sock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="chatops-read-guard", daemon=True)
                self._thread.start()

    def done(self, sock: socket.socket) -> bool:
        """Stop watching ``sock``; False when its deadline had already passed (it was shut down)."""
        with self._lock:
            return self._deadlines.pop(id(sock), None) is not None

    def _run(self) -> None:
        while True:
            time.sleep(self._tick)
            now = time.monotonic()
            with self._lock:
                late = [key for key, (deadline, _) in self._deadlines.items() if deadline <= now]
                socks = [self._deadlines.pop(key)[1] for key in late]
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


GUARD = ReadGuard()


class GuardedThreadWorker(ThreadWorker):
    """gunicorn's threaded worker with a deadline, ``header_timeout`` seconds (``CHATOPS_CLIENT_READ_TIMEOUT``),
    on receiving each request's line and headers."""

    header_timeout: float = 5.0

    def handle(self, conn: Any) -> Any:
        GUARD.watch(conn.sock, self.header_timeout)
        try:
            return super().handle(conn)
        finally:
            GUARD.done(conn.sock)

    def handle_request(self, req: Any, conn: Any) -> Any:
        GUARD.done(conn.sock)  # the headers are in; the app guards the body itself
        return super().handle_request(req, conn)
