"""Slack request payload fixtures (tests/payloads/*.json) and the helpers that turn them into request bodies.

The fixtures hold the documented shapes once; a test overrides only what it cares about:

    payload = build("block_actions", {"user": {"id": "U0BOB"}, "message": DELETE})

``deep_merge`` merges dicts recursively, replaces lists and scalars, and removes a key whose override is
``DELETE``. State values for ``view_submission`` payloads come from the small element builders at the end.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

PAYLOADS_DIR: Final = Path(__file__).resolve().parent.parent / "payloads"

# The identities the fixtures use; the stand-in answers auth.test with the same ones.
TEAM_ID: Final = "T0000TEST"
TEAM_DOMAIN: Final = "chatops-test"
APP_ID: Final = "A0000APP"
BOT_ID: Final = "B0000BOT"
BOT_USER_ID: Final = "U0000BOT"


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()
"""An override value that removes the key from the merged payload."""


def load(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/payloads/<name>.json``."""
    with (PAYLOADS_DIR / f"{name}.json").open(encoding="utf-8") as file:
        loaded = json.load(file)
    if not isinstance(loaded, dict):
        raise TypeError(f"{name}.json does not hold a JSON object")
    return loaded


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new dict: ``base`` with ``overrides`` merged in (dicts recursively; ``DELETE`` removes a key)."""
    merged = copy.deepcopy(dict(base))
    for key, value in (overrides or {}).items():
        if value is DELETE:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def build(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fixture ``name`` with ``overrides`` deep-merged in."""
    return deep_merge(load(name), overrides)


def form_body(fields: Mapping[str, Any]) -> bytes:
    """``application/x-www-form-urlencoded``, as Slack sends a slash command."""
    return urlencode({key: _form_value(value) for key, value in fields.items()}).encode()


def interaction_body(payload: Mapping[str, Any]) -> bytes:
    """``payload=<json>`` form body, as Slack sends block_actions and view_submission."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- view state values: {block_id: {action_id: <one of these>}} ---------------------------------


def _option(value: str, text: str | None) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}


def plain_text_input(value: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def number_input(value: str | None) -> dict[str, Any]:
    return {"type": "number_input", "value": value}


def datetimepicker(selected_date_time: int | None) -> dict[str, Any]:
    """``selected_date_time`` is a UNIX timestamp in seconds."""
    return {"type": "datetimepicker", "selected_date_time": selected_date_time}


def datepicker(selected_date: str | None) -> dict[str, Any]:
    """``selected_date`` is ``YYYY-MM-DD``."""
    return {"type": "datepicker", "selected_date": selected_date}


def timepicker(selected_time: str | None, *, timezone: str | None = None) -> dict[str, Any]:
    """``selected_time`` is ``HH:mm``; ``timezone`` is present when the element sets one."""
    element: dict[str, Any] = {"type": "timepicker", "selected_time": selected_time}
    if timezone is not None:
        element["timezone"] = timezone
    return element


def static_select(value: str | None, *, text: str | None = None) -> dict[str, Any]:
    option = None if value is None else _option(value, text)
    return {"type": "static_select", "selected_option": option}


def radio_buttons(value: str | None, *, text: str | None = None) -> dict[str, Any]:
    option = None if value is None else _option(value, text)
    return {"type": "radio_buttons", "selected_option": option}


def checkboxes(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": [_option(value, None) for value in values]}


def users_select(user_id: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": user_id}


def multi_users_select(user_ids: Iterable[str]) -> dict[str, Any]:
    return {"type": "multi_users_select", "selected_users": list(user_ids)}


def conversations_select(conversation_id: str | None) -> dict[str, Any]:
    return {"type": "conversations_select", "selected_conversation": conversation_id}
