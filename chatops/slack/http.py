"""Slack Web API calls (and ``response_url`` replies) over kept-alive connections.

slack_sdk's clients open a new TCP (and TLS) connection for every call through ``urllib``. The clients here
send the same requests over connections kept in a :class:`ConnectionPool` (``http.client``, one idle stack per
scheme, host, port and TLS context, shared by every thread of the process), and hand slack_sdk back what
``urllib`` would have: so slack_sdk's own retry handlers, rate-limit waits and error mapping stay in force.
(``http.client`` was chosen over httpx and httpcore because it spent the least CPU per call:
docs/performance.md, "CPU per request".)

What may be sent again, and what may not:

- A connection that has been idle for ``max_idle`` seconds, or that the server has closed or reset while it was
  idle (it is readable before a request), is closed, not used: a fresh one is opened.
- If writing the request fails on a kept connection (the server closed it at that moment), the server cannot
  have received the whole request, so it is sent once more on a fresh connection.
- If the connection closes or resets after the request was sent and before any answer, Slack may have acted on
  it (a message posted). That is raised as :class:`ResponseLostError`, which slack_sdk's
  ``ConnectionErrorRetryHandler`` does not retry: the caller decides (the outbox looks for the message before
  posting again). Timeouts are raised as ``urllib`` raises them, and are not retried here either.
- A connection that cannot be opened (refused, unknown host, connect timeout) is ``urllib.error.URLError``, as
  with ``urllib``: nothing was sent, and slack_sdk's handlers may retry it.

A client with a proxy (given, or from ``HTTPS_PROXY``/``HTTP_PROXY`` as slack_sdk reads them), a URL that is not
``http(s)``, and a redirect answer all take slack_sdk's own ``urllib`` path unchanged. TLS uses the client's
``ssl`` context, or ``ssl.create_default_context()`` (certificates and host names verified).
"""

from __future__ import annotations

import atexit
import http.client
import io
import logging
import os
import select
import ssl
import threading
import time
import urllib.request
from ssl import SSLContext
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

logger = logging.getLogger(__name__)

MAX_IDLE_SECONDS = 15.0  # a kept connection idle for longer is closed rather than reused
MAX_IDLE_PER_HOST = 8  # idle connections kept per scheme, host, port and TLS context

_Key = tuple[str, str, int, SSLContext | None]


class ResponseLostError(ConnectionError):
    """The request was sent, then the connection closed or reset before its answer was read: Slack may or may
    not have acted on it. Not retried here, nor by slack_sdk's ``ConnectionErrorRetryHandler``."""


class Answer:
    """A whole HTTP answer: status, reason, headers (``http.client.HTTPMessage``, as ``urllib`` gives them) and
    the body, read to its end."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


class ConnectionPool:
    """Kept-alive ``http.client`` connections, shared by threads: a thread takes an idle connection (or opens
    one), sends one request, reads the whole answer and puts the connection back.

    After a fork (a gunicorn worker), the child closes its copies of what it inherited and opens its own."""

    def __init__(
        self, *, max_idle: float = MAX_IDLE_SECONDS, max_idle_per_host: int = MAX_IDLE_PER_HOST
    ) -> None:
        self.max_idle = max_idle
        self.max_idle_per_host = max_idle_per_host
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._pid = os.getpid()
        self._default_tls: SSLContext | None = None
        self.opened = 0  # connections opened so far

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
        context: SSLContext | None = None,
    ) -> Answer:
        """Send one request and read its whole answer, whatever its status (see the module's docstring for what
        is raised, and when a request is sent a second time)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        key: _Key = (scheme, parts.hostname, port, context if scheme == "https" else None)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        retried = False
        while True:
            conn, kept = self._take(key, timeout)
            try:
                conn.request(method, target, body=body, headers=headers)
            except OSError as exc:
                conn.close()
                if kept and not retried and isinstance(exc, ConnectionError):
                    # The server closed a kept connection as it was written to: it has no whole request.
                    retried = True
                    logger.debug("a kept connection to %s was closed by the server; sending again", key[1])
                    continue
                raise URLError(exc) from exc  # as urllib reports a request it could not send
            break
        try:
            response = conn.getresponse()
            data = response.read()
        except ConnectionError as exc:  # http.client.RemoteDisconnected is one
            conn.close()
            raise ResponseLostError(
                f"the connection to {key[1]} ended after the request was sent, before its answer was read: {exc}"
            ) from exc
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self._give_back(key, conn)
        return Answer(response.status, response.reason, response.msg, data)

    def __copy__(self) -> ConnectionPool:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ConnectionPool:
        """A copy of a client shares its pool (Bolt deep-copies each request, its client included, for the
        listeners that run after the ack)."""
        return self

    def close(self) -> None:
        """Close every idle connection (connections in use are closed by their thread as it finishes)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for stack in idle.values():
            for conn, _ in stack:
                conn.close()

    def idle_count(self) -> int:
        with self._lock:
            return sum(len(stack) for stack in self._idle.values())

    def _take(self, key: _Key, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection still usable (and True), or a new one, not yet connected (and False)."""
        stale: list[http.client.HTTPConnection] = []
        found: http.client.HTTPConnection | None = None
        now = time.monotonic()
        with self._lock:
            stale.extend(self._after_fork())
            stack = self._idle.get(key)
            while stack:
                conn, since = stack.pop()
                if now - since <= self.max_idle and not self._dropped(conn):
                    found = conn
                    break
                stale.append(conn)
            if found is None:
                self.opened += 1
        for conn in stale:
            conn.close()
        if found is not None:
            found.timeout = timeout
            if found.sock is not None:
                found.sock.settimeout(timeout)
            return found, True
        scheme, host, port, context = key
        if scheme == "https":
            return http.client.HTTPSConnection(
                host, port, timeout=timeout, context=context or self._tls()
            ), False
        return http.client.HTTPConnection(host, port, timeout=timeout), False

    def _give_back(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        extra: list[http.client.HTTPConnection] = []
        now = time.monotonic()
        with self._lock:
            if os.getpid() != self._pid:
                extra.append(conn)
            else:
                stack = self._idle.setdefault(key, [])
                stack.append((conn, now))
                while len(stack) > self.max_idle_per_host:
                    extra.append(stack.pop(0)[0])
                # Connections to hosts no longer called (a server that went away) are closed once too old.
                for other, idle in list(self._idle.items()):
                    while idle and now - idle[0][1] > self.max_idle:
                        extra.append(idle.pop(0)[0])
                    if not idle:
                        del self._idle[other]
        for conn in extra:
            conn.close()

    @staticmethod
    def _dropped(conn: http.client.HTTPConnection) -> bool:
        """Whether the server closed (or reset) an idle connection: it is readable with nothing asked."""
        sock = conn.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _after_fork(self) -> list[http.client.HTTPConnection]:
        """In a forked child, take the idle connections inherited from the parent out of the pool, to be closed:
        closing a descriptor the parent also holds sends nothing, so the parent keeps them."""
        if os.getpid() == self._pid:
            return []
        self._pid = os.getpid()
        inherited, self._idle = self._idle, {}
        return [conn for stack in inherited.values() for conn, _ in stack]

    def _tls(self) -> SSLContext:
        if self._default_tls is None:
            self._default_tls = ssl.create_default_context()
        return self._default_tls


_SHARED = ConnectionPool()
atexit.register(_SHARED.close)


def shared_pool() -> ConnectionPool:
    """The process's pool, used by every client here unless given another."""
    return _SHARED


def _urllib_like(
    pool: ConnectionPool, url: str, req: urllib.request.Request, **options: Any
) -> Answer | None:
    """Send ``req`` as urllib would; None when urllib's own path must take it (a redirect)."""
    data = req.data
    if data is not None and not isinstance(data, bytes):
        raise TypeError("request bodies are bytes here")
    headers = {name: str(value) for name, value in req.header_items()}
    answer = pool.request(req.get_method(), url, body=data, headers=headers, **options)
    if 300 <= answer.status < 400:
        return None
    if not 200 <= answer.status < 300:
        raise HTTPError(url, answer.status, answer.reason, answer.headers, io.BytesIO(answer.body))
    return answer


def _pooled(url: str, proxy: str | None) -> bool:
    return not proxy and url.lower().startswith(("http://", "https://"))


class PooledWebClient(WebClient):
    """slack_sdk's ``WebClient``, sending over kept-alive connections (``pool``: the process's by default)."""

    def __init__(self, *args: Any, pool: ConnectionPool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool if pool is not None else shared_pool()

    def __deepcopy__(self, memo: dict[int, Any]) -> PooledWebClient:
        """The same client: Bolt deep-copies a request for each of its lazy listeners, and with it this client
        (Bolt builds one per request) four times over (``client``, ``say``, ``complete``, ``fail``), about 0.1 ms
        in all. Nothing here changes a client after it is built, so a copy may share it. (The app's own listeners
        no longer have Bolt copy their requests: ``chatops.slack.later``.)"""
        return self

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> dict[str, Any]:
        if not _pooled(url, self.proxy):
            return super()._perform_urllib_http_request_internal(url, req)
        answer = _urllib_like(self.pool, url, req, timeout=self.timeout, context=self.ssl)
        if answer is None:
            return super()._perform_urllib_http_request_internal(url, req)
        body: str | bytes
        if answer.headers.get_content_type() == "application/gzip":
            body = answer.body  # admin.analytics.getFile, as slack_sdk reads it
        else:
            body = answer.body.decode(answer.headers.get_content_charset() or "utf-8")
        if self._logger.level <= logging.DEBUG:
            self._logger.debug(
                "Received the following response - status: %s, headers: %s, body: %s",
                answer.status,
                dict(answer.headers),
                body if isinstance(body, str) else "(binary)",
            )
        return {"status": answer.status, "headers": answer.headers, "body": body}


class PooledWebhookClient(WebhookClient):
    """slack_sdk's ``WebhookClient`` (``response_url`` replies), sending over kept-alive connections."""

    def __init__(self, *args: Any, pool: ConnectionPool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool if pool is not None else shared_pool()

    def _perform_http_request_internal(self, url: str, req: urllib.request.Request) -> WebhookResponse:
        if not _pooled(url, self.proxy):
            return super()._perform_http_request_internal(url, req)  # type: ignore[no-any-return]
        answer = _urllib_like(self.pool, url, req, timeout=self.timeout, context=self.ssl)
        if answer is None:
            return super()._perform_http_request_internal(url, req)  # type: ignore[no-any-return]
        return WebhookResponse(
            url=url,
            status_code=answer.status,
            body=answer.body.decode(answer.headers.get_content_charset() or "utf-8"),
            headers=answer.headers,  # type: ignore[arg-type]  # a mapping, as slack_sdk passes urllib's
        )


__all__ = [
    "Answer",
    "ConnectionPool",
    "PooledWebClient",
    "PooledWebhookClient",
    "ResponseLostError",
    "shared_pool",
]
