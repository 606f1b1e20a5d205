"""Slack's side of the conversation: signed requests to the app, built from the fixtures in tests/payloads.

    with SlackStandIn() as slack, SlackClientSim(app_url, signing_secret=SECRET, standin=slack) as sim:
        response = sim.command(text="propose ...")
        [post] = slack.wait_for("chat.postMessage")
        sim.block_action("approve", message=slack.message(post.params["channel"], post.response["ts"]))

Every request carries a fresh trigger_id unless one is given (pass the same one to simulate Slack's retry,
with ``retry_num=1``). ``signature`` picks a valid, ``"bad"``, ``"stale"`` (6 minutes old) or ``"missing"``
signature.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, Unpack

import httpx
from slack_sdk.signature import SignatureVerifier

from . import payloads
from .payloads import BOT_ID, BOT_USER_ID
from .standin import JSON, Message, SlackStandIn

Signature = Literal["valid", "bad", "stale", "missing"]


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers Slack would send with ``body``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


class SendOptions(TypedDict, total=False):
    """How a request is delivered, on top of what it says."""

    signature: Signature  # default "valid"
    timestamp: int  # signing timestamp (default: now)
    retry_num: int  # adds X-Slack-Retry-Num (and X-Slack-Retry-Reason)
    retry_reason: str  # default "http_timeout"
    headers: Mapping[str, str]  # extra headers, last word


class SlackClientSim:
    """Posts signed slash commands and interactions to the app at ``app_url`` (e.g. ``.../slack/events``).

    With ``standin``, response_urls point at it (so ``respond()`` lands in ``standin.calls`` and its model);
    otherwise they point at hooks.slack.com placeholders."""

    def __init__(
        self,
        app_url: str,
        *,
        signing_secret: str,
        standin: SlackStandIn | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``transport``: e.g. ``httpx.WSGITransport(app=...)`` to drive a WSGI app in process."""
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.standin = standin
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._counter = itertools.count(1)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def new_trigger_id(self) -> str:
        return f"{int(time.time())}{next(self._counter):04d}.1000000002.{uuid.uuid4().hex}"

    # --- what Slack sends ------------------------------------------------------------------------

    def command(
        self,
        text: str = "",
        *,
        command: str = "/maintenance",
        user_id: str | None = None,
        user_name: str | None = None,
        channel_id: str | None = None,
        channel_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        **send: Unpack[SendOptions],
    ) -> httpx.Response:
        """A slash command, form-encoded as Slack sends it. ``overrides`` replace or add form fields."""
        fields = payloads.load("slash_command")
        channel_id = channel_id or fields["channel_id"]
        given = {
            "command": command,
            "text": text,
            "user_id": user_id,
            "user_name": user_name or (user_id.lower() if user_id else None),
            "channel_id": channel_id,
            "channel_name": channel_name
            or (channel_id.lower() if channel_id != fields["channel_id"] else None),
            "trigger_id": trigger_id or self.new_trigger_id(),
            "response_url": response_url or self._response_url("commands", channel=channel_id),
        }
        fields = payloads.deep_merge(fields, {k: v for k, v in given.items() if v is not None})
        fields = payloads.deep_merge(fields, overrides)
        return self.post(payloads.form_body(fields), **send)

    def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str | None = None,
        message: Message | Mapping[str, Any] | None = None,
        channel_id: str | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        action: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        **send: Unpack[SendOptions],
    ) -> httpx.Response:
        """A click on a button in a message. Pass the stand-in's ``Message`` (``standin.message(ch, ts)``)
        to click a button the app posted: ``block_id`` and ``value`` are then read from its blocks, as Slack
        would. ``action`` merges into the action (other element types); ``overrides`` into the payload."""
        base = payloads.load("block_actions")
        shown = _message_payload(message) if message is not None else base["message"]
        channel_id = channel_id or (message.channel if isinstance(message, Message) else None)
        channel_id = channel_id or base["channel"]["id"]
        element = _find_element(shown.get("blocks") or [], action_id)
        block_id = block_id or (element or {}).get("block_id") or base["actions"][0]["block_id"]
        value = value if value is not None else (element or {}).get("value")
        button: JSON = {
            "action_id": action_id,
            "block_id": block_id,
            "type": "button",
            "action_ts": f"{time.time():.6f}",
            "value": payloads.DELETE if value is None else value,
        }
        if element is not None:  # the clicked button as posted, not the fixture's
            button["text"] = element.get("text", payloads.DELETE)
            button["style"] = element.get("style", payloads.DELETE)
        actions = [payloads.deep_merge(payloads.deep_merge(base["actions"][0], button), action)]
        payload = payloads.deep_merge(
            base,
            {
                "user": _user(user_id, user_name),
                "trigger_id": trigger_id or self.new_trigger_id(),
                "channel": {"id": channel_id}
                if channel_id == base["channel"]["id"]
                else {"id": channel_id, "name": channel_id.lower()},
                "container": {"channel_id": channel_id, "message_ts": shown["ts"]},
                "message": shown,
                "response_url": response_url
                or self._response_url("actions", channel=channel_id, message_ts=shown["ts"]),
            },
        )
        payload["actions"] = actions
        return self.post(payloads.interaction_body(payloads.deep_merge(payload, overrides)), **send)

    def view_submission(
        self,
        callback_id: str,
        *,
        values: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        private_metadata: str = "",
        view: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
        trigger_id: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        **send: Unpack[SendOptions],
    ) -> httpx.Response:
        """A modal submitted. ``values`` is ``{block_id: {action_id: payloads.plain_text_input("x"), ...}}``;
        ``view`` (e.g. a view the stand-in opened: ``standin.views()[id]``) supplies id, blocks, hash…"""
        base = payloads.load("view_submission")
        shown = payloads.deep_merge(base["view"], view)
        shown = payloads.deep_merge(
            shown,
            {
                "callback_id": callback_id,
                "private_metadata": private_metadata or shown.get("private_metadata", ""),
                "state": {"values": {}},
            },
        )
        shown["state"]["values"] = {block: dict(actions) for block, actions in (values or {}).items()}
        payload = payloads.deep_merge(
            base,
            {
                "user": _user(user_id, user_name),
                "trigger_id": trigger_id or self.new_trigger_id(),
            },
        )
        payload["view"] = shown
        return self.post(payloads.interaction_body(payloads.deep_merge(payload, overrides)), **send)

    # --- how it is sent --------------------------------------------------------------------------

    def post(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        **send: Unpack[SendOptions],
    ) -> httpx.Response:
        """POST a raw ``body`` to the app, signed (or not) as ``send`` says."""
        signature = send.get("signature", "valid")
        timestamp = send.get("timestamp", int(time.time()))
        if signature == "stale":
            timestamp -= 6 * 60
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if signature != "missing":
            headers.update(sign(body, self.signing_secret, timestamp))
        if signature == "bad":
            headers["X-Slack-Signature"] = "v0=" + "0" * 64
        if "retry_num" in send:
            headers["X-Slack-Retry-Num"] = str(send["retry_num"])
            headers["X-Slack-Retry-Reason"] = send.get("retry_reason", "http_timeout")
        headers.update(send.get("headers", {}))
        return self._http.post(self.app_url, content=body, headers=headers)

    def _response_url(self, kind: str, *, channel: str, message_ts: str | None = None) -> str:
        n = next(self._counter)
        if self.standin is None:
            return f"https://hooks.slack.com/{kind}/{payloads.TEAM_ID}/{n}/placeholder"
        return self.standin.response_url(f"{kind}-{n}", channel=channel, message_ts=message_ts)


def _user(user_id: str | None, user_name: str | None) -> JSON:
    """Overrides for the payload's ``user``: a given id without a name gets its id, lower-cased, as name."""
    if user_id is None:
        return {} if user_name is None else {"username": user_name, "name": user_name}
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name}


def _message_payload(message: Message | Mapping[str, Any]) -> JSON:
    if not isinstance(message, Message):
        return dict(message)
    shown: JSON = {
        "type": "message",
        "subtype": "bot_message",
        "text": message.text or "",
        "ts": message.ts,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": payloads.APP_ID,
        "team": payloads.TEAM_ID,
        "blocks": message.blocks or [],
    }
    if message.thread_ts is not None:
        shown["thread_ts"] = message.thread_ts
    return shown


def _find_element(blocks: list[JSON], action_id: str) -> JSON | None:
    """The interactive element with ``action_id`` (with its block's ``block_id`` filled in), if any."""
    for block in blocks:
        candidates = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id")}
    return None


__all__ = ["SendOptions", "Signature", "SlackClientSim", "sign"]
