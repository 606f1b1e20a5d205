"""Logs: one JSON object per line on stderr, carrying the context of the request or message being handled.

The context (request id, Slack's retry number, the proposal acted on) lives in :mod:`contextvars`, set by the
WSGI front door (:class:`chatops.web.WsgiApp`), by the listeners and by the delivery worker; a filter copies
it onto every record, so any ``logger.info(…)`` anywhere in the process carries it. A record's own ``extra=``
fields (``proposal_id``, ``latency_ms``…) win over the context.

A JSON line::

    {"time": "2026-11-30T21:04:05.123Z", "level": "INFO", "logger": "chatops.access",
     "message": "POST /slack/events 200 12.4ms", "request_id": "3f…", "method": "POST",
     "path": "/slack/events", "status": 200, "latency_ms": 12.4}
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from chatops.deferred import after_response

LOG_FORMATS = ("json", "text")

request_id: ContextVar[str | None] = ContextVar("chatops_request_id", default=None)
slack_retry_num: ContextVar[int | None] = ContextVar("chatops_slack_retry_num", default=None)
proposal_id: ContextVar[int | None] = ContextVar("chatops_proposal_id", default=None)

_CONTEXT: dict[str, ContextVar[Any]] = {
    "request_id": request_id,
    "slack_retry_num": slack_retry_num,
    "proposal_id": proposal_id,
}
# Fields a record may carry (from the context or from ``extra=``), in the order they are written.
FIELDS = (
    "request_id",
    "slack_retry_num",
    "proposal_id",
    "method",
    "path",
    "status",
    "latency_ms",
    "outbox_id",
    "kind",
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Set context fields (``request_id``, ``slack_retry_num``, ``proposal_id``) for the block's duration."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current context onto each record (without overwriting what ``extra=`` set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ms), level, logger, message, context fields, exc_info text."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc_info"] = record.exc_text
        if record.stack_info:
            doc["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the context fields that are set appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extras = [
            f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None) is not None
        ]
        return f"{line} [{' '.join(extras)}]" if extras else line


def make_handler(fmt: str = "json", stream: Any = None) -> logging.Handler:
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(LOG_FORMATS)})")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(fmt: str = "json", *, level: int = logging.INFO, stream: Any = None) -> logging.Handler:
    """Send every log record (and warnings, and uncaught exceptions) to one stderr handler in ``fmt``."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(fmt, stream)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin at every start
    crash = logging.getLogger("chatops.crash")

    def excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        crash.critical("uncaught exception", exc_info=(kind, value, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        crash.critical(
            "uncaught exception in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    return handler


P = ParamSpec("P")
T = TypeVar("T")


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context, so work done after the ack logs
    with the request id of the request that started it (and what it sets there does not leak).

    A task submitted while the front door prepares a response starts once that response has been sent
    (:mod:`chatops.deferred`), so that it does not compete with the ack for the interpreter."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = copy_context()
        outer: Future[T] = Future()

        def start() -> None:
            if not outer.set_running_or_notify_cancel():
                return  # cancelled while it waited for the response to be sent
            inner = ThreadPoolExecutor.submit(self, context.run, fn, *args, **kwargs)  # type: ignore[arg-type]
            inner.add_done_callback(lambda done: _settle(outer, done))

        after_response(start)
        return outer


def _settle(outer: Future[T], inner: Future[T]) -> None:
    if inner.cancelled():  # shut down with cancel_futures before it ran
        outer.set_exception(CancelledError())
        return
    error = inner.exception()
    if error is not None:
        outer.set_exception(error)
    else:
        outer.set_result(inner.result())
