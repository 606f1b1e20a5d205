"""Work that follows an answer to Slack, held until that answer has been sent.

A worker process serves requests and runs what follows their acks (``chatops.slack.later``, the delivery worker)
in threads that share one interpreter lock. Work started while a request is still being answered competes with
it: the answering thread gives the lock up at its next system call (a log line, the socket write) and waits for
it behind the new work, up to the interpreter's switch interval (5 ms) each time. So while the front door
(:class:`chatops.web.WsgiApp`) prepares a response, :func:`after_response` holds what it is given, and the front
door releases it once the response's body has been handed to the server (the server asks for the body's end, or
closes it: PEP 3333 says it must).

Outside a request (in-process dispatch in tests, Socket Mode, the delivery worker's own threads) nothing is
held: the work runs at once, as before. Holding changes when after-ack work starts, never whether: everything
held is released, in order, whatever the response was (an error included).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar

logger = logging.getLogger(__name__)

_held: ContextVar[Held | None] = ContextVar("chatops_held_until_sent", default=None)


class Held:
    """What was put off while one response was prepared; :meth:`release` runs it, once."""

    def __init__(self) -> None:
        self._work: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._released = False

    def add(self, work: Callable[[], object], *, first: bool = False) -> None:
        with self._lock:
            if not self._released:
                self._work.insert(0, work) if first else self._work.append(work)
                return
        work()  # released already (a thread the request started, late): nothing to wait for

    def __bool__(self) -> bool:
        return bool(self._work)

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            work, self._work = self._work, []
        for item in work:
            try:
                item()
            except Exception:
                logger.exception("work held until the response was sent failed to start")


def after_response(work: Callable[[], object]) -> None:
    """Run ``work`` now or, while the front door is preparing a response in this context, once it is sent."""
    held = _held.get()
    if held is None:
        work()
    else:
        held.add(work)


class holding:
    """``with holding() as held:`` — :func:`after_response` in this context adds to ``held`` until the block
    ends; the caller releases it (:meth:`Held.release`, or :func:`then_release` around the body)."""

    def __enter__(self) -> Held:
        self._held = Held()
        self._token = _held.set(self._held)
        return self._held

    def __exit__(self, *exc: object) -> None:
        _held.reset(self._token)


class then_release:
    """A WSGI body (``chunks``) that releases ``held`` once it has been sent: when the server asks for the chunk
    after the last one (every chunk is written by then) or closes the body, whichever comes first."""

    def __init__(self, chunks: Iterable[bytes], held: Held) -> None:
        self._chunks = chunks
        self._held = held

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        self._held.release()

    def close(self) -> None:
        self._held.release()
