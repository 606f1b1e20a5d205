"""The baseline for the ack-path benchmark: a bare Bolt app that only acks ``/maintenance`` and the Approve
button, behind Bolt's own WSGI adapter, served by gunicorn the way ``chatops serve`` is (gthread workers).

Run by ``benchmarks/ack.py``::

    BARE_SIGNING_SECRET=… BARE_PROCESS_BEFORE_RESPONSE=1 \
        gunicorn -k gthread -w 2 --threads 4 bare_app:application

``BARE_PROCESS_BEFORE_RESPONSE=1`` selects ``process_before_response=True``; otherwise Bolt's default listener
runner (the listener runs in Bolt's thread pool and the response goes out as soon as ``ack()`` is called).
"""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

APPROVE = "chatops_approve"  # chatops.slack.ids.APPROVE, spelled out so this app imports nothing of chatops

bolt = App(
    client=WebClient(token="xoxb-bare", base_url=os.environ.get("BARE_API_URL", "http://127.0.0.1:9/api/")),
    signing_secret=os.environ["BARE_SIGNING_SECRET"],
    token_verification_enabled=False,
    request_verification_enabled=True,
    raise_error_for_unhandled_request=False,
    process_before_response=os.environ.get("BARE_PROCESS_BEFORE_RESPONSE") == "1",
)


@bolt.command("/maintenance")
def on_command(ack: Ack) -> None:
    ack()


@bolt.action(APPROVE)
def on_approve(ack: Ack, body: dict[str, Any]) -> None:
    ack()


application = SlackRequestHandler(bolt)
