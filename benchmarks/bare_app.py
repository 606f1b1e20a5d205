"""The baseline for the ack-path benchmark: a bare Bolt app that only acks ``/maintenance`` and the Approve
button, behind Bolt's own WSGI adapter, served by gunicorn the way ``chatops serve`` is (gthread workers).

Run by ``benchmarks/ack.py``::

    BARE_SIGNING_SECRET=… BARE_BOT_TOKEN=… BARE_API_URL=… BARE_PROCESS_BEFORE_RESPONSE=1 \
        gunicorn -k gthread -w 2 --threads 4 'bare_app:create_application()'

``BARE_BOT_TOKEN`` must be a token the Web API at ``BARE_API_URL`` accepts: Bolt calls ``auth.test`` before it
dispatches, and with a token the API refuses it answers every request with its "please reinstall" reply and
never runs a listener, so the baseline would measure the wrong thing (``tests/test_bench_anchor.py`` checks
that the listeners run). ``BARE_PROCESS_BEFORE_RESPONSE=1`` selects ``process_before_response=True``; otherwise
Bolt's default listener runner (the listener runs in Bolt's thread pool and the response goes out as soon as
``ack()`` is called).
"""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

APPROVE = "chatops_approve"  # chatops.slack.ids.APPROVE, spelled out so this app imports nothing of chatops


def build(*, signing_secret: str, token: str, api_url: str, process_before_response: bool) -> App:
    """The bare app: each listener only acks."""
    bolt = App(
        client=WebClient(token=token, base_url=api_url),
        signing_secret=signing_secret,
        token_verification_enabled=False,
        request_verification_enabled=True,
        raise_error_for_unhandled_request=False,
        process_before_response=process_before_response,
    )

    @bolt.command("/maintenance")
    def on_command(ack: Ack) -> None:
        ack()

    @bolt.action(APPROVE)
    def on_approve(ack: Ack, body: dict[str, Any]) -> None:
        ack()

    return bolt


def create_application() -> SlackRequestHandler:
    """The WSGI application, configured from the ``BARE_*`` environment variables (gunicorn's app factory)."""
    return SlackRequestHandler(
        build(
            signing_secret=os.environ["BARE_SIGNING_SECRET"],
            token=os.environ["BARE_BOT_TOKEN"],
            api_url=os.environ.get("BARE_API_URL", "http://127.0.0.1:9/api/"),
            process_before_response=os.environ.get("BARE_PROCESS_BEFORE_RESPONSE") == "1",
        )
    )
