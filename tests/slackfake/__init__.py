"""Test infrastructure: drive the real Bolt app over real HTTP against a loopback Slack Web API stand-in.

- ``SlackStandIn``: the Slack Web API on 127.0.0.1 (``standin.py``).
- ``SlackClientSim`` and ``sign``: Slack's signed requests to the app (``signing.py``).
- ``payloads``: the request fixtures in ``tests/payloads`` and state-value builders (``payloads.py``).
"""

from . import payloads
from .signing import SendOptions, SlackClientSim, sign
from .standin import Call, Ephemeral, Message, SlackStandIn

__all__ = [
    "Call",
    "Ephemeral",
    "Message",
    "SendOptions",
    "SlackClientSim",
    "SlackStandIn",
    "payloads",
    "sign",
]
