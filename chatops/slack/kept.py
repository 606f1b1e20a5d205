"""Bolt's per-request Web API client and ``respond()`` over kept-alive connections.

For every request Bolt makes a new ``WebClient`` (``context.client``, the ``client`` a listener gets), and a
``Respond`` that sends through slack_sdk's ``WebhookClient``: both open a connection per call. :func:`install`
adds a middleware (after Bolt's own, so after authorization) that puts in their place a
:class:`chatops.slack.http.PooledWebClient` made as Bolt makes its client, and a :class:`PooledRespond`. What
follows the ack gets the same objects (``chatops.slack.later``; were Bolt to copy the request, as it does for a
lazy listener, the copy would share them). Bolt's authorization asks ``auth.test`` once per process through its
own client, before any middleware.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from ssl import SSLContext
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse, Respond
from slack_bolt.context.respond.internals import _build_message
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse

from chatops.slack.http import ConnectionPool, PooledWebClient, PooledWebhookClient


class PooledRespond(Respond):
    """Bolt's ``respond()``, replying to the ``response_url`` through :class:`PooledWebhookClient`; what it
    sends is built by Bolt, as ``Respond`` builds it."""

    def __init__(
        self,
        *,
        response_url: str | None,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
        pool: ConnectionPool | None = None,
    ) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.pool = pool

    def __deepcopy__(self, memo: dict[int, Any]) -> PooledRespond:
        """The same object (see ``PooledWebClient.__deepcopy__``): it holds only what it was built with."""
        return self

    def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        client = PooledWebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl, pool=self.pool)
        return client.send_dict(message)


def pooled_like(client: WebClient, *, pool: ConnectionPool | None = None) -> PooledWebClient:
    """A :class:`PooledWebClient` with ``client``'s settings (the arguments Bolt gives its per-request client)."""
    return PooledWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        team_id=client.default_params.get("team_id"),
        logger=client.logger,
        retry_handlers=client.retry_handlers,
        pool=pool,
    )


class KeptConnections(Middleware):
    """The middleware of :func:`install` (a ``Middleware`` object: Bolt calls it directly, without building
    every argument a middleware function might ask for)."""

    def __init__(self, pool: ConnectionPool | None = None) -> None:
        self.pool = pool

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        context = req.context
        if not isinstance(context.client, PooledWebClient):
            context["client"] = pooled_like(context.client, pool=self.pool)
        if context.response_url is not None and not isinstance(context.get("respond"), PooledRespond):
            context["respond"] = PooledRespond(
                response_url=context.response_url,
                proxy=context.client.proxy,
                ssl=context.client.ssl,
                pool=self.pool,
            )
        return next()


def install(app: App, *, pool: ConnectionPool | None = None) -> None:
    """Give every listener a ``client`` and a ``respond`` that keep their connections (see the module)."""
    app.use(KeptConnections(pool))


__all__ = ["KeptConnections", "PooledRespond", "install", "pooled_like"]
