"""Running the app: wiring the parts together, the WSGI front door, and the servers (gunicorn, socket mode)."""

from __future__ import annotations

import codecs
import functools
import hmac
import json
import logging
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from contextvars import copy_context
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from chatops import metrics, tzdb
from chatops.calendars import DEFAULT_CACHE, CalendarFetcher, Calendars
from chatops.config import BUNDLED_REGIONS, Settings, load_regions
from chatops.deferred import Held, after_response, holding, then_release
from chatops.delivery import DeliveryWorker
from chatops.domain.models import RegionsConfig
from chatops.errors import ChatopsError
from chatops.observability import log_context
from chatops.service import Service
from chatops.slack.app import build_app, web_client
from chatops.slack.directory import Directory, Workspace
from chatops.slack.http import PooledWebClient
from chatops.slack.names import DisplayNames
from chatops.slack.refresh import warm_up
from chatops.store import Store, open_store

logger = logging.getLogger(__name__)
access_log = logging.getLogger("chatops.access")

MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused before it is read.
BODY_READ_TIMEOUT = 5.0  # seconds a client may take to send a body (Slack sends it at once)
CONNECTION_CAP = 200  # open connections per gunicorn worker
StartResponse = Callable[..., Any]


@dataclass
class Runtime:
    settings: Settings
    config: RegionsConfig
    store: Store
    service: Service
    worker: DeliveryWorker
    app: App
    stop_refreshing: Callable[[], None] = lambda: None
    warm_up: Callable[[], None] = lambda: None

    def start_warm_up(self) -> None:
        """In the background, ask Slack now what the first requests would otherwise wait for
        (:func:`chatops.slack.refresh.warm_up`) and build the engine's tables (:meth:`Service.warm_up`): a
        serving process calls it once it is built."""
        threading.Thread(target=self.warm_up, name="chatops-warm-up", daemon=True).start()

    def close(self) -> None:
        """Stop the delivery worker (after the message in hand) and close the store; what is undelivered stays
        in the outbox for the next start."""
        self.stop_refreshing()
        self.worker.stop()
        try:
            left = self.store.outbox_stats(now=int(time.time()))[0]
            logger.info("stopped; %s undelivered message(s) left in the outbox", left)
        except Exception as exc:
            logger.warning("stopped; the outbox could not be read (%s)", exc.__class__.__name__)
        self.store.close()


def _record_decision(kind: str, proposal_id: int) -> None:
    metrics.count_decision(kind)
    logger.info("CHG-%s %s", proposal_id, kind, extra={"proposal_id": proposal_id, "kind": kind})


def build_runtime(settings: Settings, *, start_worker: bool = True, poll_interval: float = 1.0) -> Runtime:
    """Read the regions file, open (and migrate) the store, and build the service, the worker and the app.
    ``poll_interval``: how often the delivery worker looks for messages no commit of this process woke it for
    (come due after a retry, or written by another process)."""
    tzdb.use(settings.chatops_tz_source)  # before any zone is read, so every zone follows the rules chosen
    config = load_regions(settings.chatops_config)
    audit_key = settings.chatops_audit_key.get_secret_value().encode() if settings.chatops_audit_key else None
    store = open_store(settings.chatops_database_url, audit_key=audit_key)
    client = web_client(settings)
    worker = DeliveryWorker(
        store=store,
        # The outbox does its own retries with backoff; its client must not also sleep on a 429.
        # Its calls end well within the lease of the message in hand (one Slack call at a time).
        client=PooledWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=min(10, settings.chatops_delivery_lease_seconds // 4),
        ),
        give_up_after=settings.chatops_delivery_give_up_after,
        retry_cap=settings.chatops_delivery_retry_cap,
        lease_seconds=settings.chatops_delivery_lease_seconds,
        threads=settings.chatops_delivery_threads,
        poll_interval=poll_interval,
        mention=settings.mention_ids,
        reminder_before_minutes=config.policy.reminder_before_minutes,
        owners_of=config.owners_of,
        oncall_mention=settings.oncall_mention_ids,
    )
    directory = Directory(
        client,
        settings.approver_ids,
        admin_ids=settings.admin_ids,
        oncall_ids=settings.oncall_ids,
        max_age=settings.chatops_group_cache_max_age,
    )
    # Asked inside a decision, before Slack's 3 s ack: a short timeout and no retries (None keeps the id).
    names = DisplayNames(
        PooledWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=1,
            retry_handlers=[],
        ),
        on_user=directory.learn,
    )
    directory.on_user = names.learn  # one users.info answers both: a person's zone and their name
    calendars = runtime_calendars(settings, config)
    service = Service(
        calendars=calendars,
        store=store,
        config=config,
        channel=settings.chatops_channel,
        approvers=directory.approvers,
        admins=directory.admins,
        oncall=directory.oncall,
        emergency_approval=settings.chatops_emergency_approval,
        # Woken once the response that committed the change has been sent (chatops.deferred).
        on_enqueue=lambda: after_response(worker.wake),
        on_event=_record_decision,
        display_name=names,
    )
    worker.sweeper = service.sweep  # approval expiry, reminders coming within range, parent refreshes
    workspace = Workspace(client, team_id=settings.chatops_team_id)
    app = build_app(settings, service, directory, client=client, workspace=workspace)
    stop_refreshing = _nothing
    if start_worker:
        worker.start()
        if config.calendars:
            stop_refreshing = calendars.keep_fresh(settings.chatops_calendar_refresh)
    return Runtime(
        settings=settings,
        config=config,
        store=store,
        service=service,
        worker=worker,
        app=app,
        stop_refreshing=stop_refreshing,
        warm_up=functools.partial(
            _warm_up,
            service,
            functools.partial(warm_up, workspace=workspace, directory=directory, names=names),
        ),
    )


def _nothing() -> None:
    pass


def _warm_up(service: Service, lookups: Callable[[], None]) -> None:
    """A serving process's warm-up: Slack's answers first (they wait on the network), then the engine's tables."""
    lookups()
    try:
        service.warm_up()
    except Exception:
        logger.exception("warming up the engine failed; the first proposal will build its tables itself")


def runtime_calendars(settings: Settings, config: RegionsConfig) -> Calendars:
    """The regions file's calendars, read once now (a calendar that cannot be read is logged, not fatal)."""
    where = settings.chatops_config
    base = Path(where).parent if where and where != BUNDLED_REGIONS else Path.cwd()
    cache = Path(settings.chatops_calendar_cache) if settings.chatops_calendar_cache else DEFAULT_CACHE
    calendars = Calendars(config, base_dir=base, fetcher=CalendarFetcher(cache))
    calendars.refresh()
    year = time.gmtime().tm_year
    threading.Thread(target=calendars.warm, args=((year, year + 1),), name="holidays", daemon=True).start()
    return calendars


def _respond(
    start_response: StartResponse, status: str, body: str, *, content_type: str = "text/plain"
) -> list[bytes]:
    data = body.encode()
    start_response(
        status, [("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(environ: dict[str, Any]) -> str:
    """The caller's ``X-Request-Id`` when it is a sane token, else a fresh one."""
    given = str(environ.get("HTTP_X_REQUEST_ID") or "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _retry_num(environ: dict[str, Any]) -> int | None:
    raw = str(environ.get("HTTP_X_SLACK_RETRY_NUM") or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


@functools.cache
def _head_revision() -> str:
    from chatops.store.migrate import head_revision

    return head_revision()


def readiness(store: Store) -> str | None:
    """None when the database answers and its schema is the one this code expects; else why not (one line)."""
    try:
        store.ping()
    except Exception as exc:
        logger.warning("not ready: database unreachable (%s: %s)", exc.__class__.__name__, _first_line(exc))
        return f"database unreachable ({exc.__class__.__name__})"
    engine = getattr(store, "engine", None)
    if engine is None:
        return None
    from chatops.store.migrate import current_revision

    try:
        current = current_revision(engine)
    except Exception as exc:
        logger.warning("not ready: no schema revision (%s: %s)", exc.__class__.__name__, _first_line(exc))
        return f"cannot read the schema revision ({exc.__class__.__name__})"
    head = _head_revision()
    if current != head:
        return f"database schema is at {current or 'nothing'}, this code needs {head} (chatops db upgrade)"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


class WsgiApp:
    """``POST /slack/events`` to Bolt (signature checked there); ``GET /healthz`` (alive), ``GET /readyz``
    (database reachable and migrated) and ``GET /metrics`` (Prometheus); everything else 404.

    Bodies over ``MAX_BODY`` get 413 without being read; bodies that are not UTF-8 get 400. Every request gets
    a request id (the caller's ``X-Request-Id`` or a new one, echoed in the response), logs with it and with
    Slack's ``X-Slack-Retry-Num``, and ends with one access log line and its metrics.
    """

    def __init__(
        self, runtime: Runtime, *, max_body: int = MAX_BODY, read_timeout: float = BODY_READ_TIMEOUT
    ) -> None:
        self.runtime = runtime
        self.max_body = max_body
        self.read_timeout = read_timeout
        self.verifier = SignatureVerifier(runtime.settings.slack_signing_secret.get_secret_value())

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        rid = _request_id(environ)
        retry = _retry_num(environ)
        answered: list[int] = []

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.append(int(status.split(" ", 1)[0]))
            extra = [exc_info] if exc_info else []
            return start_response(status, [*headers, ("X-Request-Id", rid)], *extra)

        # proposal_id too: a listener running in this thread may set it; it must not outlive the request.
        # What the request starts for after its ack (its after-ack work, the delivery worker) is held until the
        # response has been sent, and so is this request's access line and metrics (chatops.deferred).
        with log_context(request_id=rid, slack_retry_num=retry, proposal_id=None), holding() as held:
            try:
                body = self._route(environ, respond, path=path, method=method)
            except Exception:
                logger.exception("the request failed")
                if answered:
                    status = answered[-1]
                    self._account(
                        held, started, method=method, path=path, rid=rid, retry=retry, status=status
                    )
                    held.release()
                    raise
                body = _respond(respond, "500 Internal Server Error", "internal error\n")
            status = answered[-1] if answered else 500
            self._account(held, started, method=method, path=path, rid=rid, retry=retry, status=status)
        return then_release(body, held)

    @staticmethod
    def _account(
        held: Held, started: float, *, method: str, path: str, rid: str, retry: int | None, status: int
    ) -> None:
        """The request's metrics and access line, measured now, written once the response has been sent."""
        seconds = time.perf_counter() - started

        def account() -> None:
            metrics.observe_request(path, status, seconds)
            access_log.info(
                "%s %s %s %.1fms%s",
                method,
                path,
                status,
                seconds * 1000,
                f" (Slack retry {retry})" if retry is not None else "",
                extra={
                    "request_id": rid,
                    "slack_retry_num": retry,
                    "method": method,
                    "path": path,
                    "status": status,
                    "latency_ms": round(seconds * 1000, 1),
                },
            )

        context = copy_context()  # the request's, with what its listeners set there (the proposal acted on)
        held.add(lambda: context.run(account), first=True)

    def _signed(self, raw: str, headers: dict[str, str]) -> bool:
        timestamp = headers.get("x-slack-request-timestamp", "").strip()
        signature = headers.get("x-slack-signature", "").strip()
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12 and signature):
            return False
        return self.verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)

    def _gate(
        self, environ: dict[str, Any], start_response: StartResponse, *, path: str, method: str
    ) -> list[bytes]:
        if method not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", "GET only\n")
        return gate_answer(environ, start_response, runtime=self.runtime, path=path)

    def _route(
        self, environ: dict[str, Any], start_response: StartResponse, *, path: str, method: str
    ) -> list[bytes]:
        if path == "/healthz":
            return _respond(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            reason = readiness(self.runtime.store)
            if reason is None:
                return _respond(start_response, "200 OK", "ready\n")
            return _respond(start_response, "503 Service Unavailable", f"not ready: {reason}\n")
        if path == "/metrics":
            exposition, content_type = metrics.render(self.runtime.store)
            size = str(len(exposition))
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", size)])
            return [exposition]
        if path.startswith(GATE_PREFIX):
            return self._gate(environ, start_response, path=path, method=method)
        if path == "/calendar.ics" and method in ("GET", "HEAD"):
            return _calendar_feed(self.runtime, environ, start_response)
        if path != "/slack/events":
            return _respond(start_response, "404 Not Found", "not found\n")
        if method != "POST":
            return _respond(start_response, "405 Method Not Allowed", "POST only\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return _respond(start_response, "400 Bad Request", "bad Content-Length\n")
        if length > self.max_body:
            return _respond(start_response, "413 Content Too Large", "request body too large\n")
        try:
            raw = _read_body(environ, length, timeout=self.read_timeout)
        except TimeoutError:
            return _respond(start_response, "408 Request Timeout", "the body was not sent in time\n")
        except (OSError, ValueError):
            return _respond(start_response, "400 Bad Request", "the body could not be read\n")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            text = raw.decode("utf-8")  # Slack sends UTF-8; anything else cannot be checked, let alone read
        except UnicodeDecodeError:
            return _respond(start_response, "400 Bad Request", "body is not UTF-8\n")
        # The signature covers the raw body: check it before reading anything in it.
        if not self._signed(text, headers):
            return _respond(start_response, "401 Unauthorized", "invalid or missing signature\n")
        body = parse_slack_body(text, headers.get("content-type", ""))
        if body is None:
            return _respond(start_response, "400 Bad Request", "malformed payload\n")
        try:
            # Parsed here, not by Bolt: its parser takes any form body containing the word "payload" for an
            # interactive one. A dict body is Bolt's "socket_mode" request: the signature is checked above.
            request = BoltRequest(
                body=body, query=environ.get("QUERY_STRING", ""), headers=headers, mode="socket_mode"
            )
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            return _respond(start_response, "400 Bad Request", "malformed payload\n")
        response = self.runtime.app.dispatch(request)
        data = (response.body or "").encode()
        out_headers = [
            (k, v) for k, values in response.headers.items() for v in values if k.lower() != "content-length"
        ]
        out_headers.append(("Content-Length", str(len(data))))
        start_response(f"{response.status} {_reason(response.status)}", out_headers)
        return [data]


def _read_body(environ: dict[str, Any], length: int, *, timeout: float) -> bytes:
    """The request body, within ``timeout`` seconds in all when the server exposes the client's socket (gunicorn
    does): a client trickling its body cannot hold a thread for longer (see :mod:`chatops.readguard`)."""
    if length <= 0:
        return b""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return bytes(environ["wsgi.input"].read(length))
    from chatops.readguard import GUARD

    GUARD.watch(sock, timeout)
    try:
        data = bytes(environ["wsgi.input"].read(length))
    except Exception as exc:  # the socket shut down under gunicorn's reader
        if not GUARD.done(sock):
            raise TimeoutError("the body was not sent in time") from exc
        raise
    if not GUARD.done(sock) or len(data) < length:
        raise TimeoutError("the body was not sent in time")
    return data


# What an interactive payload must look like before Bolt may read it: these keys, when present, of these types.
_SHAPES: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "team": (dict, type(None)),
    "user": dict,
    "enterprise": (dict, type(None)),
    "channel": (dict, type(None)),
    "container": dict,
    "actions": list,
    "view": dict,
    "message": dict,
    "trigger_id": str,
    "response_url": str,
    "api_app_id": str,
    "is_enterprise_install": bool,
    "authorizations": list,
}


def unquote_plus(value: str) -> str:
    """``urllib.parse.unquote_plus(value)``, decoded in C when ``value`` is what Slack sends (ASCII, every escape
    well formed, UTF-8 underneath); anything else goes to urllib. urllib decodes escape by escape in Python: an
    Approve click's payload (6-12 KB, a third of it escapes) took 150-200 µs there, more than the rest of the
    body's parsing, JSON included (tests/test_web_unquote.py holds the two equal on any text)."""
    if "%" not in value:
        return value.replace("+", " ")
    try:
        # Every escape %XX becomes \xXX for the unicode_escape codec, after the backslashes already there are
        # escaped themselves; the codec yields one code point per byte, which is the UTF-8 read back.
        escaped = value.replace("\\", "\\\\").replace("+", " ").replace("%", "\\x").encode("ascii")
        return codecs.decode(escaped, "unicode_escape").encode("latin-1").decode("utf-8")
    except (UnicodeError, ValueError):
        return urllib.parse.unquote_plus(value)


def parse_slack_body(text: str, content_type: str) -> dict[str, Any] | None:
    """A Slack request body as a dict, or None when it is not one Slack would send.

    Slash commands are forms; interactions are a form with one field, ``payload``, holding a JSON object (a
    command whose text, channel, workspace or user name contains the word "payload" is still a command); a
    JSON body must be an object. Nothing here raises on any input."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media == "application/json":
            value: Any = json.loads(text)
            if not _interaction_shape(value):
                return None
        else:
            if text.startswith("payload=") and "&" not in text:  # an interaction: one field, a JSON payload
                form = {"payload": unquote_plus(text[len("payload=") :])}
            else:
                form = dict(parse_qsl(text, keep_blank_values=True, max_num_fields=100))
            if "command" in form or "payload" not in form:
                value = form
            else:
                value = json.loads(form["payload"])
                if not _interaction_shape(value):
                    return None
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _interaction_shape(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return False
    for key, kind in _SHAPES.items():
        if key in value and not isinstance(value[key], kind):
            return False
    for key in ("team", "user", "enterprise", "channel"):
        part = value.get(key)
        if isinstance(part, dict) and not all(isinstance(part.get(k, ""), str) for k in ("id", "team_id")):
            return False
    if "actions" in value and not (value["actions"] and all(isinstance(a, dict) for a in value["actions"])):
        return False  # Slack sends at least one action; Bolt reads the first
    if value["type"] in ("view_submission", "view_closed"):
        view = value.get("view")
        if not (isinstance(view, dict) and isinstance(view.get("type"), str)):
            return False
        if not isinstance(view.get("callback_id", ""), str) or not isinstance(view.get("state", {}), dict):
            return False
    return True


GATE_PREFIX = "/api/v1/changes/"
_GATE_PATH = re.compile(r"^/api/v1/changes/(?:CHG-)?([0-9]{1,18})/gate$", re.IGNORECASE)


def _json(
    start_response: StartResponse, status: str, document: dict[str, Any], **headers: str
) -> list[bytes]:
    data = (json.dumps(document) + "\n").encode()
    extra = [(name.replace("_", "-"), value) for name, value in headers.items()]
    base = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
    ]
    start_response(status, [*base, *extra])
    return [data]


def gate_answer(
    environ: dict[str, Any], start_response: StartResponse, *, runtime: Runtime, path: str
) -> list[bytes]:
    """``GET /api/v1/changes/CHG-12/gate[?at=ISO]`` with ``Authorization: Bearer <CHATOPS_GATE_TOKEN>``: the
    same answer as ``chatops gate --json``. Without a configured token the endpoint does not exist (404)."""
    from chatops.domain.gate import gate
    from chatops.domain.timeline import to_ts
    from chatops.domain.windows import parse_start

    token = runtime.settings.chatops_gate_token
    if token is None:
        return _respond(start_response, "404 Not Found", "not found\n")
    given = str(environ.get("HTTP_AUTHORIZATION") or "")
    scheme, _, credential = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credential.strip().encode(), token.get_secret_value().strip().encode()
    ):
        return _json(
            start_response,
            "401 Unauthorized",
            {"error": "a bearer token (CHATOPS_GATE_TOKEN) is required"},
            WWW_Authenticate='Bearer realm="chatops"',
        )
    match = _GATE_PATH.match(path)
    if match is None:
        return _json(start_response, "404 Not Found", {"error": "use /api/v1/changes/CHG-12/gate"})
    query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING") or ""))
    try:
        at = to_ts(parse_start(query["at"][0], tz="UTC")) if query.get("at") else int(time.time())
    except ChatopsError as exc:
        return _json(start_response, "400 Bad Request", {"error": f"at: {exc}"})
    number = int(match.group(1))
    row = runtime.store.get_proposal(number)
    if row is None:
        return _json(start_response, "404 Not Found", {"error": f"there is no change CHG-{number}"})
    answer = gate(change=row.id, status=row.status, start_ts=row.start_ts, end_ts=row.end_ts, at=at)
    return _json(start_response, "200 OK", answer.document())


def _calendar_feed(runtime: Runtime, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """``GET /calendar.ics?token=…``: the feed of approved and pending windows; 404 for a wrong or missing
    token, or when no token is set (the feed's existence is not revealed)."""
    from chatops.feed import build_feed, feed_rows

    expected = runtime.settings.chatops_calendar_token
    given = urllib.parse.parse_qs(str(environ.get("QUERY_STRING") or "")).get("token", [""])[0]
    if expected is None or not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        return _respond(start_response, "404 Not Found", "not found\n")
    now = runtime.service.now()
    body = build_feed(
        feed_rows(runtime.store, now=now), slack_url=runtime.settings.chatops_slack_url, now=now
    )
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/calendar; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "private, max-age=300"),
        ],
    )
    return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _gunicorn_logger_class() -> type:
    """gunicorn's logger, but its records go to the root handler (so they are JSON lines like ours)."""
    from gunicorn.glogging import Logger

    class _Logger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in list(self.error_log.handlers):
                if getattr(handler, "_gunicorn", False):
                    self.error_log.removeHandler(handler)
            self.error_log.propagate = True

    return _Logger


GC_YOUNG_THRESHOLD = 10_000
"""Container objects allocated (net) before the collector's youngest generation is collected; Python's default
is 700. A proposal with the shipped regions holds a few thousand at once (its evaluation, its snapshot as a
document), so at 700 every proposal paid for seven young and one older collection, each walking what the
request still held: 1.8-2.0 ms of its CPU, against 0.2-0.4 ms at 10,000 (a ``gc.callbacks`` timer per thread in
the in-process harness; ``docs/performance.md``, issue 16's fifth round)."""


def tune_gc_for_serving() -> None:
    """Once a process has built its runtime: what start-up made (modules, the regions, the Bolt app, pydantic's
    validators, the compiled statements; over 100,000 objects) is moved out of the cyclic garbage collector's
    sight (``gc.freeze``), and the youngest generation is collected less often (:data:`GC_YOUNG_THRESHOLD`).
    A full collection walked all of start-up's objects, tens of milliseconds in whichever request or delivery
    thread it fell on, every few dozen proposals with the shipped regions (each reads and writes documents of
    thousands of objects). What is made later is collected as before, only in larger batches; what start-up
    made is still freed when nothing refers to it. Only for the process entry points: a test process building
    many runtimes must not call it."""
    import gc

    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def serve_http(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """Serve with gunicorn (threaded workers); each worker builds its own runtime after the fork.

    SIGTERM: gunicorn stops accepting, lets in-flight requests finish (``graceful_timeout``), then each worker
    runs ``worker_exit``, which stops its delivery worker after the message in hand and closes its store.
    """
    from gunicorn.app.base import BaseApplication

    from chatops.readguard import GuardedThreadWorker

    # Set on the class before gunicorn forks: every worker inherits it.
    GuardedThreadWorker.header_timeout = settings.chatops_client_read_timeout
    runtimes: list[Runtime] = []

    def worker_exit(server: Any, worker: Any) -> None:
        while runtimes:
            runtimes.pop().close()

    def child_exit(server: Any, worker: Any) -> None:
        metrics.mark_process_dead(worker.pid)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                # gthread, with a deadline on each request's headers (chatops.readguard).
                "worker_class": "chatops.readguard.GuardedThreadWorker",
                # A cap on open connections per worker; past it, new ones wait in the listen backlog.
                "worker_connections": CONNECTION_CAP,
                "timeout": 30,
                "graceful_timeout": 20,
                "accesslog": None,
                "logger_class": _gunicorn_logger_class(),
                "worker_exit": worker_exit,
                "child_exit": child_exit,
            }
            if "control_socket_disable" in self.cfg.settings:
                # Newer gunicorns open a control socket at a fixed path; instances side by side would collide.
                options["control_socket_disable"] = True
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WsgiApp:
            runtime = build_runtime(settings)
            runtimes.append(runtime)
            app = WsgiApp(runtime, read_timeout=settings.chatops_client_read_timeout)
            tune_gc_for_serving()
            runtime.start_warm_up()
            return app

    _Server().run()


def serve_socket_mode(settings: Settings) -> None:
    """Development without a public URL: Slack's Socket Mode over a WebSocket (needs SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from chatops.errors import ConfigError

    if settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set (socket mode needs an app-level token, xapp-…)")
    import signal
    import sys

    runtime = build_runtime(settings)
    tune_gc_for_serving()
    runtime.start_warm_up()
    # SIGTERM (docker stop) ends the process through ``finally``: the worker stops and the store closes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value()).start()
    finally:
        runtime.close()
