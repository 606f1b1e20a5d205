"""What follows an ack, run in the app's pool of after-ack threads: Bolt's lazy listeners without their copy of
the request.

Bolt starts each lazy listener with a deep copy of the request (``copy.deepcopy`` of its body, headers and
context, after parsing it into a new request), so that the lazy listener can run as a request of its own, even
in another process (FaaS). That copy was a quarter of the CPU of an ack that hands work to later:
`benchmarks/ack_cpu.py`, 0.2-0.35 ms of the 0.9-1.3 ms a ``check`` or an Approve click cost in the request
thread (docs/performance.md). Here what follows an ack runs in a thread of the same process, after the
acknowledging listener has returned, and reads what that listener left in the context; so the listener that
:func:`acked_then` builds runs ``now`` in the request's thread and hands each of ``later`` to the pool with
the very objects ``now`` had. Nothing the request thread still writes is shared: once the listener returns,
Bolt only reads the ack's response and the middleware chain unwinds.

As with Bolt's lazy listeners, ``later`` starts even when ``now`` raised (Bolt's error handler answers the
request), in a copy of the request's log context, once the response has been sent (``chatops.deferred``); what
``later`` raises is logged, not lost in its future.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, BoltContext, BoltRequest, Respond
from slack_sdk import WebClient

logger = logging.getLogger(__name__)

NAMES = frozenset({"ack", "body", "command", "context", "respond", "client", "request"})
"""What ``now`` and ``later`` may ask for, by parameter name, as Bolt gives listeners (``command`` is the
request's body, as Bolt's is for a slash command: only slash commands' functions ask for it)."""


def _wants(fn: Callable[..., Any]) -> tuple[str, ...]:
    names = tuple(inspect.signature(fn).parameters)
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise TypeError(f"{getattr(fn, '__name__', fn)!r} asks for {unknown}; it may ask for {sorted(NAMES)}")
    return names


def _logged(fn: Callable[..., Any]) -> Callable[..., None]:
    def run(**kwargs: Any) -> None:
        try:
            fn(**kwargs)
        except Exception:
            logger.exception("work after the ack failed (%s)", getattr(fn, "__name__", fn))

    return run


def acked_then(
    executor: Executor, now: Callable[..., None], *later: Callable[..., None]
) -> Callable[..., None]:
    """A Bolt listener: ``now`` (which acks) in the request's thread, then each of ``later`` in ``executor``,
    each given the arguments it names (see :data:`NAMES`)."""
    now_wants = _wants(now)
    after = [(_logged(fn), _wants(fn)) for fn in later]

    def listener(
        ack: Ack,
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond,
        client: WebClient,
        request: BoltRequest,
    ) -> None:
        given = {
            "ack": ack,
            "body": body,
            "command": body,
            "context": context,
            "respond": respond,
            "client": client,
            "request": request,
        }
        try:
            now(**{name: given[name] for name in now_wants})
        finally:
            for run, wants in after:
                executor.submit(run, **{name: given[name] for name in wants})

    listener.__name__ = getattr(now, "__name__", "listener")
    return listener


__all__ = ["NAMES", "acked_then"]
