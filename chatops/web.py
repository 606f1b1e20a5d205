"""Running the app: wiring the parts together, the WSGI front door, and the servers (gunicorn, socket mode)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from chatops.config import Settings, load_regions
from chatops.delivery import DeliveryWorker
from chatops.domain.models import RegionsConfig
from chatops.service import Service
from chatops.slack.app import build_app, web_client
from chatops.slack.directory import Directory
from chatops.store import Store, open_store

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused before it is read.
StartResponse = Callable[..., Any]


@dataclass
class Runtime:
    settings: Settings
    config: RegionsConfig
    store: Store
    service: Service
    worker: DeliveryWorker
    app: App

    def close(self) -> None:
        self.worker.stop()
        self.store.close()


def build_runtime(settings: Settings, *, start_worker: bool = True) -> Runtime:
    """Read the regions file, open (and migrate) the store, and build the service, the worker and the app."""
    config = load_regions(settings.chatops_config)
    store = open_store(settings.chatops_database_url)
    client = web_client(settings)
    worker = DeliveryWorker(
        store=store,
        # The outbox does its own retries with backoff; its client must not also sleep on a 429.
        client=WebClient(
            token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=10
        ),
        give_up_after=settings.chatops_delivery_give_up_after,
        retry_cap=settings.chatops_delivery_retry_cap,
    )
    directory = Directory(client, settings.approver_ids)
    service = Service(
        store=store,
        config=config,
        channel=settings.chatops_channel,
        approvers=directory.approvers,
        on_enqueue=worker.wake,
    )
    app = build_app(settings, service, directory, client=client)
    if start_worker:
        worker.start()
    return Runtime(settings=settings, config=config, store=store, service=service, worker=worker, app=app)


def _respond(start_response: StartResponse, status: str, body: str, *, content_type: str = "text/plain") -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


class WsgiApp:
    """``POST /slack/events`` to Bolt (signature checked there), ``GET /healthz``; everything else 404.

    Bodies over ``MAX_BODY`` get 413 without being read; bodies that are not UTF-8 get 400.
    """

    def __init__(self, runtime: Runtime, *, max_body: int = MAX_BODY) -> None:
        self.runtime = runtime
        self.max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz":
            return _respond(start_response, "200 OK", "ok\n")
        if path != "/slack/events":
            return _respond(start_response, "404 Not Found", "not found\n")
        if method != "POST":
            return _respond(start_response, "405 Method Not Allowed", "POST only\n")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _respond(start_response, "400 Bad Request", "bad Content-Length\n")
        if length > self.max_body:
            return _respond(start_response, "413 Content Too Large", "request body too large\n")
        try:
            body = environ["wsgi.input"].read(length).decode("utf-8") if length > 0 else ""
        except UnicodeDecodeError:
            return _respond(start_response, "400 Bad Request", "body is not UTF-8\n")
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        try:
            request = BoltRequest(body=body, query=environ.get("QUERY_STRING", ""), headers=headers)
        except ValueError:  # Bolt parses the body up front: a payload that is not JSON
            return _respond(start_response, "400 Bad Request", "malformed payload\n")
        response = self.runtime.app.dispatch(request)
        data = (response.body or "").encode()
        out_headers = [(k, v) for k, values in response.headers.items() for v in values if k.lower() != "content-length"]
        out_headers.append(("Content-Length", str(len(data))))
        start_response(f"{response.status} {_reason(response.status)}", out_headers)
        return [data]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def serve_http(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """Serve with gunicorn (threaded workers); each worker builds its own runtime after the fork."""
    from gunicorn.app.base import BaseApplication

    runtimes: list[Runtime] = []

    def worker_exit(server: Any, worker: Any) -> None:
        for runtime in runtimes:
            runtime.close()

    class _Server(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": 30,
                "graceful_timeout": 20,
                "accesslog": None,
                "worker_exit": worker_exit,
            }
            if "control_socket_disable" in self.cfg.settings:
                # Newer gunicorns open a control socket at a fixed path; instances side by side would collide.
                options["control_socket_disable"] = True
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WsgiApp:
            runtime = build_runtime(settings)
            runtimes.append(runtime)
            return WsgiApp(runtime)

    _Server().run()


def serve_socket_mode(settings: Settings) -> None:
    """Development without a public URL: Slack's Socket Mode over a WebSocket (needs SLACK_APP_TOKEN)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from chatops.errors import ConfigError

    if settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN is not set (socket mode needs an app-level token, xapp-…)")
    runtime = build_runtime(settings)
    try:
        SocketModeHandler(runtime.app, settings.slack_app_token.get_secret_value()).start()
    finally:
        runtime.close()
