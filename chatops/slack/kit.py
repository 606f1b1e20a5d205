"""Block Kit as plain dicts: one small function per kind of block, element or text object the app sends.

slack_sdk's model classes (``SectionBlock``, ``ButtonElement``, ``View``…) validate and then deep-copy every
object on ``to_dict()``; on a proposal's parent message that was about 30 ``to_dict`` calls and a tenth of the
request's CPU. These helpers build the same JSON directly, once, with no copy. The library stays the validator:
the tests parse every message and view the builders make back through ``slack_sdk.models`` (which checks Slack's
limits when serialising) and compare it with a recorded corpus (``tests/slack/test_blocks_golden.py``).

Keys are written in alphabetical order, the order slack_sdk's ``to_dict()`` writes them, so the JSON is the same
byte for byte as the models produced. The callers keep Slack's limits themselves (``blocks.clip``, ``_fit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

Block = dict[str, Any]
"""A block, element or text object as Slack's JSON."""


def plain_text(text: str, *, emoji: bool | None = None) -> Block:
    """A ``plain_text`` object; Slack never reads mentions or links in it. ``emoji`` is written only when given."""
    if emoji is None:
        return {"text": text, "type": "plain_text"}
    return {"emoji": emoji, "text": text, "type": "plain_text"}


def emoji_text(text: str) -> Block:
    """The ``plain_text`` of a label, hint or button (emoji shortcodes shown as emoji)."""
    return {"emoji": True, "text": text, "type": "plain_text"}


def mrkdwn(text: str) -> Block:
    return {"text": text, "type": "mrkdwn"}


def section(text: str) -> Block:
    """A section of ``mrkdwn`` text (at most 3000 characters: the caller clips)."""
    return {"text": mrkdwn(text), "type": "section"}


def context(text: str) -> Block:
    """A context block with one ``mrkdwn`` element: the small grey line."""
    return {"elements": [mrkdwn(text)], "type": "context"}


def header(text: str) -> Block:
    """A header (plain text, at most 150 characters), emoji shortcodes shown as typed."""
    return {"text": {"emoji": False, "text": text, "type": "plain_text"}, "type": "header"}


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str, *, action_id: str, value: str, style: Literal["primary", "danger"] | None = None
) -> Block:
    if style is None:
        return {"action_id": action_id, "text": emoji_text(text), "type": "button", "value": value}
    return {
        "action_id": action_id,
        "style": style,
        "text": emoji_text(text),
        "type": "button",
        "value": value,
    }


def actions(block_id: str, elements: Sequence[Block]) -> Block:
    return {"block_id": block_id, "elements": list(elements), "type": "actions"}


def text_input(
    action_id: str,
    *,
    initial_value: str | None = None,
    max_length: int | None = None,
    multiline: bool = False,
) -> Block:
    element: Block = {"action_id": action_id}
    if initial_value is not None:
        element["initial_value"] = initial_value
    if max_length is not None:
        element["max_length"] = max_length
    if multiline:
        element["multiline"] = True
    element["type"] = "plain_text_input"
    return element


def datetime_picker(action_id: str, *, initial_date_time: int) -> Block:
    """A date and time picker starting at ``initial_date_time`` (a UNIX time), shown in the user's Slack time zone."""
    return {"action_id": action_id, "initial_date_time": initial_date_time, "type": "datetimepicker"}


def url_input(action_id: str) -> Block:
    return {"action_id": action_id, "type": "url_text_input"}


def input_block(
    block_id: str, *, label: str, element: Block, hint: str | None = None, optional: bool | None = None
) -> Block:
    """An input of a modal; ``optional`` is written only when given (Slack's default is required)."""
    block: Block = {"block_id": block_id, "element": element}
    if hint is not None:
        block["hint"] = emoji_text(hint)
    block["label"] = emoji_text(label)
    if optional is not None:
        block["optional"] = optional
    block["type"] = "input"
    return block


def modal(
    *,
    title: str,
    close: str,
    blocks: Sequence[Block],
    submit: str | None = None,
    callback_id: str | None = None,
    private_metadata: str | None = None,
) -> Block:
    """A modal view (title at most 24 characters, at most 100 blocks: the caller keeps them)."""
    view: Block = {"blocks": list(blocks)}
    if callback_id is not None:
        view["callback_id"] = callback_id
    view["close"] = plain_text(close)
    if private_metadata is not None:
        view["private_metadata"] = private_metadata
    if submit is not None:
        view["submit"] = plain_text(submit)
    view["title"] = plain_text(title)
    view["type"] = "modal"
    return view
