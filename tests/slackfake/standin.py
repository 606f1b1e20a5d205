"""A loopback stand-in for the Slack Web API, served over real HTTP on 127.0.0.1.

    with SlackStandIn(token="xoxb-test") as slack:
        client = WebClient(token="xoxb-test", base_url=slack.url)
        client.chat_postMessage(channel="C1", text="hi")
        [call] = slack.wait_for("chat.postMessage")

It answers the Web API methods the app uses with the response shapes Slack documents, records every request
(``calls``), keeps a small model of what the app has posted (``messages``, ``thread``, ``ephemerals``,
``views``), and can misbehave on request (``fail_next``, ``rate_limit_next``, ``slow_next``, ``hang_up_next``,
``drop_idle_connections``, ``go_down``). Like Slack it answers auth errors and unknown methods with HTTP 200 and
``{"ok": false, "error": ...}``, and it speaks HTTP/1.1 with keep-alive: a client may send many requests over
one connection (``connections`` counts the connections accepted). ``cpu_seconds`` is the CPU its own threads
have spent (serving, accepting, polling), so a benchmark can tell Slack's side from the client's.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from .payloads import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

JSON = dict[str, Any]
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
SCHEDULE_LIMIT, SCHEDULE_WINDOW = 30, 300
"""``chat.scheduleMessage``: at most 30 messages to post within any 5 minutes in one channel."""


@dataclass(frozen=True)
class Call:
    """One request the stand-in received, and what it answered."""

    method: str  # "chat.postMessage", …, or "response_url"
    params: JSON  # query + body, decoded; JSON-string fields (blocks, view…) left as sent: see .json()
    headers: dict[str, str]  # lower-cased names
    path: str
    body: bytes
    at: float  # time.time() on arrival
    status: int  # HTTP status answered
    response: Any  # the JSON answered (a dict), or the text for response_url

    @property
    def ok(self) -> bool:
        """Answered 200 and, for Web API methods, ``"ok": true``."""
        if self.status != 200:
            return False
        return not isinstance(self.response, dict) or bool(self.response.get("ok"))

    def json(self, name: str, default: Any = None) -> Any:
        """``params[name]`` decoded if it was sent as a JSON string (form-encoded ``blocks``, ``view``…)."""
        return _decoded(self.params.get(name, default))

    def __str__(self) -> str:
        params = {k: v for k, v in self.params.items() if k != "token"}
        text = json.dumps(params, default=str)
        if len(text) > 300:
            text = text[:300] + "…"
        answer = self.response.get("error", "ok") if isinstance(self.response, dict) else self.response
        return f"{self.method} -> {self.status} {answer} {text}"


@dataclass(frozen=True)
class Message:
    """A message as it now stands in the channel (after any chat.update)."""

    channel: str
    ts: str
    text: str | None
    blocks: list[JSON] | None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    metadata: JSON | None = None
    edits: int = 0  # how many chat.update calls replaced it


@dataclass(frozen=True)
class Ephemeral:
    """A message only one user sees: chat.postEphemeral, or a response_url reply that is not in_channel."""

    channel: str | None
    user: str | None
    ts: str
    text: str | None
    blocks: list[JSON] | None
    thread_ts: str | None = None
    via: str = "chat.postEphemeral"


@dataclass
class _User:
    id: str
    tz: str
    name: str
    email: str | None = None
    is_bot: bool = False


@dataclass
class _Fault:
    method: str | None
    remaining: int
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: JSON = field(default_factory=dict)


@dataclass
class _Slow:
    method: str | None
    remaining: int
    delay: float


@dataclass
class _HangUp:
    method: str | None
    remaining: int


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False  # reset the connection instead of answering


class SlackApiStandInError(RuntimeError):
    """A Web API call answered ``ok: false`` inside the stand-in's own handlers."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class SlackStandIn:
    """The Slack Web API on ``127.0.0.1:<free port>``; ``url`` is the base URL ending in ``/api/``.

    ``default_user_tz``: what users.info says for users never given to ``set_user``
    (``None``: answer ``user_not_found`` for them, as Slack does for unknown ids).
    """

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        default_user_tz: str | None = "UTC",
        first_ts: int = 1_700_000_000,
    ) -> None:
        self.token = token
        self.default_user_tz = default_user_tz
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._ts_counter = itertools.count(1)
        self._id_counter = itertools.count(1)
        self._first_ts = first_ts
        self.calls: list[Call] = []
        self._messages: dict[str, dict[str, Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, JSON] = {}
        self._homes: dict[str, JSON] = {}
        self._scheduled: list[JSON] = []
        self.deleted_scheduled: list[JSON] = []
        self.clock: Callable[[], float] = time.time
        """The stand-in's present for ``time_in_past``/``time_too_far`` (a test may move it)."""
        self._users: dict[str, _User] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._slow: list[_Slow] = []
        self._hang_ups: list[_HangUp] = []
        self._cpu = 0.0  # CPU seconds of finished servers; see cpu_seconds
        self._connections = 0  # connections accepted by finished servers
        self._used_triggers: set[str] = set()
        self._expired_triggers: set[str] = set()
        self._response_urls: dict[str, tuple[str | None, str | None]] = {}

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is None:
            self._serve(self._port or 0)
        return self

    def stop(self) -> None:
        """Stop listening and close every kept-alive connection once its request in hand (if any) is answered."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if thread is not None:
            thread.join()
        if server is not None:
            with self._lock:
                self._cpu += server.cpu_seconds
                self._connections += server.connections

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def go_down(self) -> None:
        """Stop listening: connections to ``url`` are refused until ``come_back()``. State is kept."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port."""
        self.start()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def cpu_seconds(self) -> float:
        """CPU time the stand-in's own threads have spent since it was made (``time.thread_time`` of the thread
        that accepts connections and of each connection's thread): Slack's side of every call, which a benchmark
        of the client must not charge to the client."""
        server = self._server
        return self._cpu + (server.cpu_seconds if server is not None else 0.0)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (with keep-alive, fewer than calls)."""
        server = self._server
        return self._connections + (server.connections if server is not None else 0)

    def drop_idle_connections(self, *, reset: bool = False) -> int:
        """Close every kept-alive connection as soon as it waits for its next request, as a server's idle timeout
        does (a request being answered is answered first); with ``reset``, abort them (TCP RST) instead. Returns
        how many, once they are closed."""
        server = self._server
        return server.close_connections(idle_only=True, reset=reset) if server is not None else 0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the stand-in has not been started")
        return self._port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        """The Web API base URL (``SLACK_API_URL``, ``WebClient(base_url=...)``)."""
        return f"{self.base}api/"

    def response_url(
        self, tag: str | None = None, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response_url served here. With ``channel`` (and ``message_ts``, for a message's buttons) a reply
        with ``response_type: in_channel`` posts to the channel, and ``replace_original`` /
        ``delete_original`` change that message, as Slack does."""
        tag = tag or f"r{next(self._id_counter)}"
        with self._lock:
            self._response_urls[tag] = (channel, message_ts)
        return f"{self.base}response/{quote(tag, safe='')}"

    # --- configuration ---------------------------------------------------------------------------

    def set_user(
        self,
        user_id: str,
        *,
        tz: str = "UTC",
        name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
    ) -> None:
        ZoneInfo(tz)  # fail early on a zone name Slack would never send
        with self._lock:
            self._users[user_id] = _User(user_id, tz, name or user_id, email, is_bot)

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = list(users)

    def set_channel(self, channel_id: str, *, name: str) -> None:
        with self._lock:
            self._channels[channel_id] = name

    def expire_trigger(self, trigger_id: str) -> None:
        """views.open / views.push with this trigger_id answer ``expired_trigger_id``."""
        with self._lock:
            self._expired_triggers.add(trigger_id)

    def fail_next(self, method: str | None = None, n: int = 1, *, status: int = 500) -> None:
        """The next ``n`` calls to ``method`` (any method when ``None``) answer HTTP ``status``."""
        body = {"ok": False, "error": "fatal_error" if status >= 500 else "request_failed"}
        with self._lock:
            self._faults.append(_Fault(method, n, status, body=body))

    def rate_limit_next(self, method: str | None = None, n: int = 1, *, retry_after: int = 1) -> None:
        """The next ``n`` calls answer HTTP 429 with ``Retry-After: retry_after`` and ``ratelimited``."""
        with self._lock:
            self._faults.append(
                _Fault(
                    method,
                    n,
                    429,
                    headers={"Retry-After": str(retry_after)},
                    body={"ok": False, "error": "ratelimited"},
                )
            )

    def slow_next(self, method: str | None = None, n: int = 1, *, delay: float) -> None:
        """The next ``n`` calls to ``method`` (any when ``None``) take effect at once (a message is posted) but
        are answered only ``delay`` seconds later, as when Slack is slow; a client that gives up or dies
        meanwhile never learns the outcome."""
        with self._lock:
            self._slow.append(_Slow(method, n, delay))

    def hang_up_next(self, method: str | None = None, n: int = 1) -> None:
        """The next ``n`` calls to ``method`` (any when ``None``) take effect (recorded in ``calls``, a message
        posted…) but are never answered: the connection is reset instead, as when the network fails after Slack
        has done the work. A client cannot know whether such a call happened."""
        with self._lock:
            self._hang_ups.append(_HangUp(method, n))

    def clear(self) -> None:
        """Forget calls, pending faults, triggers and the message/view model; keep users, groups, channels."""
        with self._lock:
            self.calls.clear()
            self._faults.clear()
            self._slow.clear()
            self._hang_ups.clear()
            self._messages.clear()
            self._ephemerals.clear()
            self._views.clear()
            self._homes.clear()
            self._scheduled.clear()
            self.deleted_scheduled.clear()
            self._used_triggers.clear()
            self._expired_triggers.clear()

    # --- assertions ------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(
        self, what: str | Callable[[Call], bool], count: int = 1, *, timeout: float = 10.0
    ) -> list[Call]:
        """Block until at least ``count`` calls match (a method name, or a predicate); return them all.

        On timeout, raises AssertionError listing every call that did arrive."""
        matches: Callable[[Call], bool] = (
            (lambda call: call.method == what) if isinstance(what, str) else what
        )
        found: list[Call] = []

        def enough() -> bool:
            found[:] = [call for call in self.calls if matches(call)]
            return len(found) >= count

        with self._lock:
            if self._changed.wait_for(enough, timeout=timeout):
                return list(found)
            label = what if isinstance(what, str) else getattr(what, "__name__", "predicate")
            raise AssertionError(
                f"waited {timeout}s for {count} call(s) matching {label}, got {len(found)}.\n" + self.dump()
            )

    def wait_until(
        self, condition: Callable[[], bool], *, timeout: float = 10.0, message: str = "condition"
    ) -> None:
        """Block until ``condition()`` holds (checked after each call): e.g. two replies in a thread."""
        with self._lock:
            if not self._changed.wait_for(condition, timeout=timeout):
                raise AssertionError(f"waited {timeout}s for {message}.\n" + self.dump())

    def dump(self) -> str:
        with self._lock:
            lines = [f"  {i}: {call}" for i, call in enumerate(self.calls)]
        return "calls received:\n" + ("\n".join(lines) if lines else "  (none)")

    def messages(self, channel: str) -> dict[str, Message]:
        """Every message in ``channel`` (top level and thread replies) by ts, oldest first."""
        with self._lock:
            return dict(self._messages.get(channel, {}))

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            return self._messages[channel][ts]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """The replies posted with ``thread_ts`` (the parent not included), oldest first."""
        with self._lock:
            return [m for m in self._messages.get(channel, {}).values() if m.thread_ts == thread_ts]

    def ephemerals(self, *, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        with self._lock:
            return [
                e
                for e in self._ephemerals
                if (channel is None or e.channel == channel) and (user is None or e.user == user)
            ]

    def views(self) -> dict[str, JSON]:
        """Open views by id, as the stand-in last answered them."""
        with self._lock:
            return dict(self._views)

    def home(self, user_id: str) -> JSON | None:
        """The Home tab the app last published for ``user_id`` (views.publish), if any."""
        with self._lock:
            return self._homes.get(user_id)

    def scheduled(self) -> list[JSON]:
        with self._lock:
            return list(self._scheduled)

    # --- HTTP ------------------------------------------------------------------------------------

    def _serve(self, port: int) -> None:
        server = _Server(("127.0.0.1", port), self)
        self._port = server.server_address[1]
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="slack-standin", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()

    def _handle_http(self, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        parts = urlsplit(path)
        if parts.path.startswith("/api/"):
            method = parts.path.removeprefix("/api/")
        elif parts.path.startswith("/response/"):
            method = "response_url"
        else:
            return _Reply(404, b"not found", "text/plain")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params.update(_decode_body(headers.get("content-type", ""), body))

        delay = 0.0
        with self._lock:
            for slow in self._slow:
                if slow.remaining > 0 and slow.method in (None, method):
                    slow.remaining -= 1
                    delay = slow.delay
                    break
            fault = self._take_fault(method)
            if fault is not None:
                reply = _Reply(fault.status, _dumps(fault.body), headers=dict(fault.headers))
                response: Any = fault.body
            elif method == "response_url":
                tag = unquote(parts.path.removeprefix("/response/"))
                response, reply = self._response_url(tag, body)
            else:
                response = self._api(method, params, headers)
                reply = _Reply(200, _dumps(response))
            self.calls.append(
                Call(method, params, headers, parts.path, body, time.time(), reply.status, response)
            )
            for hang_up in self._hang_ups:
                if hang_up.remaining > 0 and hang_up.method in (None, method):
                    hang_up.remaining -= 1
                    reply = dataclasses.replace(reply, hang_up=True)
                    break
            self._changed.notify_all()
        if delay:
            time.sleep(delay)
        return reply

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.method in (None, method):
                fault.remaining -= 1
                return fault
        return None

    def _api(self, method: str, params: JSON, headers: dict[str, str]) -> JSON:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        authorization = headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ").strip() if authorization else params.get("token")
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        try:
            result: JSON = handler(params)
        except SlackApiStandInError as error:
            return {"ok": False, "error": error.error, **error.extra}
        return {"ok": True, **result}

    # --- model helpers (called with the lock held) -----------------------------------------------

    def _next_ts(self) -> str:
        micros = next(self._ts_counter) * 100
        return f"{self._first_ts + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._id_counter):010d}"

    def _post(self, channel: str, params: JSON, *, thread_ts: str | None = None) -> Message:
        message = Message(
            channel=channel,
            ts=self._next_ts(),
            text=params.get("text"),
            blocks=_decoded(params.get("blocks")),
            thread_ts=thread_ts if thread_ts is not None else params.get("thread_ts") or None,
            metadata=_decoded(params.get("metadata")),
        )
        self._messages.setdefault(channel, {})[message.ts] = message
        return message

    def _replace(self, channel: str, ts: str, params: JSON) -> Message:
        old = self._messages.get(channel, {}).get(ts)
        if old is None:
            raise SlackApiStandInError("message_not_found")
        changes: JSON = {"edits": old.edits + 1}
        if "text" in params:
            changes["text"] = params["text"]
        if "blocks" in params:
            changes["blocks"] = _decoded(params["blocks"])
        if "metadata" in params:
            changes["metadata"] = _decoded(params["metadata"])
        new = dataclasses.replace(old, **changes)
        self._messages[channel][ts] = new
        return new

    def _message_json(self, message: Message) -> JSON:
        shown: JSON = {
            "type": "message",
            "subtype": "bot_message",
            "text": message.text or "",
            "user": message.user,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": message.ts,
        }
        if message.blocks is not None:
            shown["blocks"] = message.blocks
        if message.thread_ts is not None:
            shown["thread_ts"] = message.thread_ts
        if message.metadata is not None:
            shown["metadata"] = message.metadata
        return shown

    def _view(self, view: JSON, *, view_id: str | None = None, root_view_id: str | None = None) -> JSON:
        view_id = view_id or self._next_id("V")
        shown: JSON = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type", "modal"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._id_counter):08x}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": root_view_id or view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self._views[view_id] = shown
        return shown

    def _exchange_trigger(self, params: JSON) -> None:
        trigger_id = params.get("trigger_id")
        if not trigger_id:
            raise SlackApiStandInError("invalid_arguments")
        if trigger_id in self._expired_triggers:
            raise SlackApiStandInError("expired_trigger_id")
        if trigger_id in self._used_triggers:
            raise SlackApiStandInError("exchanged_trigger_id")
        self._used_triggers.add(trigger_id)

    def _response_url(self, tag: str, body: bytes) -> tuple[str, _Reply]:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return "invalid_payload", _Reply(400, b"invalid_payload", "text/plain")
        channel, message_ts = self._response_urls.get(tag, (None, None))
        bound = channel is not None and message_ts in self._messages.get(channel, {})
        if _truthy(payload.get("delete_original")) and bound:
            assert channel is not None and message_ts is not None
            del self._messages[channel][message_ts]
        elif _truthy(payload.get("replace_original")) and bound:
            assert channel is not None and message_ts is not None
            self._replace(channel, message_ts, payload)
        elif payload.get("response_type") == "in_channel" and channel is not None:
            self._post(channel, payload)
        else:
            self._ephemerals.append(
                Ephemeral(
                    channel=channel,
                    user=None,
                    ts=self._next_ts(),
                    text=payload.get("text"),
                    blocks=_decoded(payload.get("blocks")),
                    thread_ts=payload.get("thread_ts"),
                    via="response_url",
                )
            )
        return "ok", _Reply(200, b"ok", "text/html")

    # --- Web API methods: _api_<method with dots as underscores>(params) -> fields besides "ok" ---

    def _api_api_test(self, params: JSON) -> JSON:
        return {"args": {k: v for k, v in params.items() if k != "token"}}

    def _api_auth_test(self, params: JSON) -> JSON:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Chatops Test",
            "user": "chatops",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            raise SlackApiStandInError("no_text")
        message = self._post(channel, params)
        return {"channel": channel, "ts": message.ts, "message": self._message_json(message)}

    def _api_chat_update(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        message = self._replace(channel, ts, params)
        return {
            "channel": channel,
            "ts": ts,
            "text": message.text or "",
            "message": self._message_json(message),
        }

    def _api_chat_delete(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "message_not_found")
        if self._messages.get(channel, {}).pop(ts, None) is None:
            raise SlackApiStandInError("message_not_found")
        return {"channel": channel, "ts": ts}

    def _api_chat_postEphemeral(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        user = _required(params, "user", "user_not_in_channel")
        ts = self._next_ts()
        self._ephemerals.append(
            Ephemeral(
                channel=channel,
                user=user,
                ts=ts,
                text=params.get("text"),
                blocks=_decoded(params.get("blocks")),
                thread_ts=params.get("thread_ts") or None,
            )
        )
        return {"message_ts": ts}

    def _api_chat_getPermalink(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "message_ts", "message_not_found")
        permalink = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": permalink}

    def _api_chat_scheduleMessage(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        try:
            post_at = int(_required(params, "post_at", "invalid_time"))
        except ValueError:
            raise SlackApiStandInError("invalid_time") from None
        if post_at <= self.clock():
            raise SlackApiStandInError("time_in_past")
        if post_at > self.clock() + 120 * 86400:
            raise SlackApiStandInError("time_too_far")
        if self._window_full(channel, post_at):
            raise SlackApiStandInError("restricted_too_many")
        scheduled = {
            "id": self._next_id("Q"),
            "channel": channel,
            "post_at": post_at,
            "text": params.get("text"),
            "blocks": _decoded(params.get("blocks")),
            "thread_ts": params.get("thread_ts"),
            "date_created": int(self.clock()),
        }
        self._scheduled.append(scheduled)
        message = {"type": "message", "text": params.get("text") or "", "bot_id": BOT_ID, "team": TEAM_ID}
        return {
            "channel": channel,
            "scheduled_message_id": scheduled["id"],
            "post_at": str(post_at),
            "message": message,
        }

    def _window_full(self, channel: str, post_at: int) -> bool:
        """Slack: "you cannot schedule more than 30 messages to post within a 5-minute window to the same
        channel" (``restricted_too_many``): whether some 5 minutes holding ``post_at`` hold 30 already."""
        near = [
            int(m["post_at"])
            for m in self._scheduled
            if m["channel"] == channel and abs(int(m["post_at"]) - post_at) < SCHEDULE_WINDOW
        ]
        starts = [p for p in near if p <= post_at] + [post_at]
        return any(sum(1 for p in near if s <= p < s + SCHEDULE_WINDOW) >= SCHEDULE_LIMIT for s in starts)

    def _api_chat_deleteScheduledMessage(self, params: JSON) -> JSON:
        """Slack: ``invalid_scheduled_message_id`` for an id it does not hold (never scheduled, already deleted,
        or already posted); ``channel_not_found`` without a channel."""
        channel = _required(params, "channel", "channel_not_found")
        wanted = _required(params, "scheduled_message_id", "invalid_scheduled_message_id")
        for i, scheduled in enumerate(self._scheduled):
            if scheduled["id"] == wanted and scheduled["channel"] == channel:
                del self._scheduled[i]
                self.deleted_scheduled.append(scheduled)
                return {}
        raise SlackApiStandInError("invalid_scheduled_message_id")

    def _api_chat_scheduledMessages_list(self, params: JSON) -> JSON:
        """Slack's shape: ``scheduled_messages`` (id, channel_id, post_at, date_created, text) and
        ``response_metadata.next_cursor``; ``oldest``/``latest`` bound ``post_at``; ``limit`` pages."""
        channel = params.get("channel")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 1e12)
        found = [
            {
                "id": m["id"],
                "channel_id": m["channel"],
                "post_at": m["post_at"],
                "date_created": m["date_created"],
                "text": m.get("text") or "",
            }
            for m in sorted(self._scheduled, key=lambda m: (m["post_at"], m["id"]))
            if (channel in (None, "", m["channel"])) and oldest <= m["post_at"] <= latest
        ]
        start = int(params.get("cursor") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "scheduled_messages": page,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def post_scheduled(self, *, until: float) -> list[Message]:
        """Post every scheduled message due by ``until`` (as Slack does at ``post_at``), in their threads."""
        posted: list[Message] = []
        with self._lock:
            due = [m for m in self._scheduled if m["post_at"] <= until]
            for scheduled in sorted(due, key=lambda m: m["post_at"]):
                self._scheduled.remove(scheduled)
                posted.append(
                    self._post(scheduled["channel"], scheduled, thread_ts=scheduled.get("thread_ts"))
                )
            self._changed.notify_all()
        return posted

    def _api_users_info(self, params: JSON) -> JSON:
        user_id = _required(params, "user", "user_not_found")
        user = self._users.get(user_id)
        if user is None:
            if self.default_user_tz is None:
                raise SlackApiStandInError("user_not_found")
            user = _User(user_id, self.default_user_tz, user_id)
        now = datetime.now(UTC).astimezone(ZoneInfo(user.tz))
        offset = now.utcoffset()
        profile: JSON = {
            "real_name": user.name,
            "real_name_normalized": user.name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": TEAM_ID,
        }
        if user.email is not None:
            profile["email"] = user.email
        return {
            "user": {
                "id": user.id,
                "team_id": TEAM_ID,
                "name": user.name.lower().replace(" ", "."),
                "deleted": False,
                "real_name": user.name,
                "tz": user.tz,
                "tz_label": now.tzname(),
                "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
                "profile": profile,
                "is_admin": False,
                "is_owner": False,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "updated": self._first_ts,
            }
        }

    def _api_usergroups_users_list(self, params: JSON) -> JSON:
        group_id = _required(params, "usergroup", "no_such_subteam")
        if group_id not in self._usergroups:
            raise SlackApiStandInError("no_such_subteam")
        return {"users": list(self._usergroups[group_id])}

    def _api_conversations_info(self, params: JSON) -> JSON:
        channel = _required(params, "channel", "channel_not_found")
        name = self._channels.get(channel, channel.lower())
        return {
            "channel": {
                "id": channel,
                "name": name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_private": False,
                "is_archived": False,
                "is_member": True,
                "created": self._first_ts,
                "context_team_id": TEAM_ID,
            }
        }

    def _history_json(self, message: Message, params: JSON) -> JSON:
        shown = self._message_json(message)
        # Like Slack: a message's metadata is returned only when include_all_metadata is asked for.
        if not _truthy(params.get("include_all_metadata")):
            shown.pop("metadata", None)
        return shown

    @staticmethod
    def _page(messages: list[JSON], params: JSON, *, default_limit: int) -> JSON:
        """Cursor pagination as Slack does it: ``limit`` (at most 999), ``cursor`` → ``next_cursor``."""
        try:
            limit = max(1, min(999, int(params.get("limit") or default_limit)))
            offset = int(params.get("cursor") or 0)
        except ValueError as exc:
            raise SlackApiStandInError("invalid_cursor") from exc
        page = messages[offset : offset + limit]
        more = offset + limit < len(messages)
        return {
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
        }

    def _api_conversations_history(self, params: JSON) -> JSON:
        """Top-level messages (and thread parents), newest first, within ``oldest``/``latest``."""
        channel = _required(params, "channel", "channel_not_found")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 1e12)
        found = [
            self._history_json(m, params)
            for m in sorted(self._messages.get(channel, {}).values(), key=lambda m: float(m.ts), reverse=True)
            if m.thread_ts in (None, m.ts) and oldest <= float(m.ts) <= latest
        ]
        return self._page(found, params, default_limit=100)

    def _api_conversations_replies(self, params: JSON) -> JSON:
        """The parent then its replies, oldest first, paged by ``cursor``/``limit``; message metadata only with
        ``include_all_metadata`` (as Slack documents for conversations.replies)."""
        channel = _required(params, "channel", "channel_not_found")
        ts = _required(params, "ts", "thread_not_found")
        with self._lock:
            messages = self._messages.get(channel)
            if messages is None:
                raise SlackApiStandInError("channel_not_found")
            parent = messages.get(ts)
            if parent is None:
                raise SlackApiStandInError("thread_not_found")
            thread = [parent, *(m for m in messages.values() if m.thread_ts == ts and m.ts != ts)]
            shown = [self._message_json(m) for m in thread]
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            for message in shown:
                message.pop("metadata", None)
        try:
            start = int(params.get("cursor") or 0)
            limit = max(1, min(1000, int(params.get("limit") or 1000)))
        except ValueError as exc:
            raise SlackApiStandInError("invalid_cursor") from exc
        page = shown[start : start + limit]
        more = start + limit < len(shown)
        return {
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _api_views_open(self, params: JSON) -> JSON:
        self._exchange_trigger(params)
        view = _required_view(params)
        return {"view": self._view(view)}

    def _api_views_push(self, params: JSON) -> JSON:
        self._exchange_trigger(params)
        view = _required_view(params)
        return {"view": self._view(view)}

    def _api_views_update(self, params: JSON) -> JSON:
        view = _required_view(params)
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            found = [v["id"] for v in self._views.values() if v["external_id"] == params["external_id"]]
            view_id = found[0] if found else None
        old = self._views.get(view_id or "")
        if old is None:
            raise SlackApiStandInError("not_found")
        if params.get("hash") and params["hash"] != old["hash"]:
            raise SlackApiStandInError("hash_conflict")
        return {"view": self._view(view, view_id=old["id"], root_view_id=old["root_view_id"])}

    def _api_views_publish(self, params: JSON) -> JSON:
        # https://api.slack.com/methods/views.publish: user_id and a view of type "home"; an optional hash
        # must match the Home tab's current one (else hash_conflict). The view keeps its id across publishes.
        user_id = params.get("user_id")
        view = _required_view(params)
        if not user_id or view.get("type") != "home":
            raise SlackApiStandInError("invalid_arguments")
        if user_id not in self._users and self.default_user_tz is None:
            raise SlackApiStandInError("user_not_found")
        old = self._homes.get(user_id)
        if params.get("hash") and old is not None and params["hash"] != old["hash"]:
            raise SlackApiStandInError("hash_conflict")
        shown = self._view(view, view_id=old["id"] if old else None)
        self._views.pop(shown["id"], None)  # a Home tab is not an open modal
        self._homes[user_id] = shown
        return {"view": shown}


_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not an orderly FIN


class _Server(ThreadingHTTPServer):
    """One thread per connection (as before), HTTP/1.1 keep-alive, and the CPU its threads spend."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], standin: SlackStandIn) -> None:
        self.standin = standin
        self.cpu_seconds = 0.0
        self.connections = 0
        self.closing = False
        self.handlers: set[_Handler] = set()
        self.handlers_lock = threading.Lock()
        self._marks = threading.local()
        super().__init__(address, _Handler)

    def charge(self) -> None:
        """Add the CPU this thread has used since its last charge (from its start, the first time)."""
        now = time.thread_time()
        last: float = getattr(self._marks, "last", 0.0)
        self._marks.last = now
        with self.handlers_lock:
            self.cpu_seconds += now - last

    def service_actions(self) -> None:
        """Called by ``serve_forever`` on every turn of its loop: charges the accepting thread's polling."""
        self.charge()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.handlers_lock:
            self.connections += 1
        super().process_request(request, client_address)
        self.charge()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.charge()

    def close_connections(self, *, idle_only: bool = False, reset: bool = False) -> int:
        """Stopping (not ``idle_only``): shut every idle kept-alive connection now (its thread, blocked reading the
        next request, sees the end and leaves) and each busy one once it has answered; return at once.

        ``idle_only``: close every connection once it is idle (a request being answered is answered first),
        aborting it (RST) with ``reset``, and return when they are closed, so the client's side has seen it."""
        idle: list[socket.socket] = []
        waited: list[socket.socket] = []
        with self.handlers_lock:
            if not idle_only:
                self.closing = True
            for handler in self.handlers:
                waited.append(handler.connection)
                if handler.busy:
                    handler.drop, handler.abort = True, reset
                    continue
                idle.append(handler.connection)
                try:
                    if reset:
                        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
                        handler.connection.shutdown(socket.SHUT_RD)  # wakes its thread, which closes it
                    else:
                        handler.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if idle_only:
            deadline = time.monotonic() + 5
            while any(conn.fileno() != -1 for conn in waited) and time.monotonic() < deadline:
                time.sleep(0.005)
        return len(waited)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer (killed while Slack was slow) is not an error here."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as Slack's API servers answer
    disable_nagle_algorithm = (
        True  # headers and body are two writes: no 40 ms wait on a kept-alive connection
    )
    busy = False  # between a request's first line and the end of its answer
    drop = False  # close once idle (drop_idle_connections while it was busy)
    abort = False  # ... with a reset

    def setup(self) -> None:
        super().setup()
        with self.server.handlers_lock:
            self.server.handlers.add(self)

    def finish(self) -> None:
        with self.server.handlers_lock:
            self.server.handlers.discard(self)
        super().finish()

    def parse_request(self) -> bool:
        with self.server.handlers_lock:
            if self.server.closing:  # stopped between two requests on this connection: not answered
                self.close_connection = True
                return False
            self.busy = True
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            with self.server.handlers_lock:
                self.busy = False
                if self.server.closing or self.drop:
                    self.close_connection = True
                if self.abort:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            self.server.charge()

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.standin._handle_http(self.path, headers, body)
        if reply.hang_up:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the calls are recorded instead."""


def _decode_body(content_type: str, body: bytes) -> JSON:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        decoded = json.loads(body)
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {}  # multipart uploads etc.: see Call.body


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        return json.loads(value)
    return value


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _required(params: JSON, name: str, error: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise SlackApiStandInError(error)
    return str(value)


def _required_view(params: JSON) -> JSON:
    view = _decoded(params.get("view"))
    if not isinstance(view, dict):
        raise SlackApiStandInError("invalid_arguments")
    return view


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


__all__ = ["JSON", "Call", "Ephemeral", "Message", "SlackStandIn"]
