"""Every message, modal and Home tab the app builds, against the JSON recorded in ``golden/blocks.json``.

The builders write Block Kit as plain dicts (see docs/performance.md, "Block Kit as plain dicts"); the recording
was first made from the earlier builders, which went through slack_sdk's model classes, so a difference here is a
change of what Slack receives. After an intended change of wording, re-record with ``python
tests/slack/corpus.py`` and review the diff. Every case is also parsed back through slack_sdk's models, which check
Slack's documented limits when serialising.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest
from corpus import GOLDEN, dumps, everything
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

RECORDED: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text(encoding="utf-8"))


@functools.cache
def rendered() -> dict[str, dict[str, dict[str, Any]]]:
    """The corpus, rendered once per test process, when a test first asks (not at collection)."""
    return everything()


def test_the_recording_has_every_case_and_no_other() -> None:
    assert {group: sorted(cases) for group, cases in rendered().items()} == {
        group: sorted(cases) for group, cases in RECORDED.items()
    }


@pytest.mark.parametrize(
    ("group", "name"), [(group, name) for group, cases in RECORDED.items() for name in cases]
)
def test_each_case_renders_byte_for_byte_as_recorded(group: str, name: str) -> None:
    ours = rendered()[group][name]
    assert ours == RECORDED[group][name]
    assert json.dumps(ours, ensure_ascii=False) == json.dumps(RECORDED[group][name], ensure_ascii=False)


def test_the_whole_file_is_what_the_builders_write() -> None:
    assert dumps(rendered()) == GOLDEN.read_text(encoding="utf-8")


def text_objects(value: Any) -> list[dict[str, Any]]:
    """Every text object (``{"type": "mrkdwn" | "plain_text", "text": ...}``) anywhere in a block."""
    if isinstance(value, list):
        return [t for v in value for t in text_objects(v)]
    if not isinstance(value, dict):
        return []
    if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
        return [value]
    return [t for v in value.values() for t in text_objects(v)]


def assert_blocks_valid(raw_blocks: list[dict[str, Any]], *, limit: int) -> None:
    assert len(raw_blocks) <= limit
    for raw in raw_blocks:
        parsed = Block.parse(raw)
        assert parsed is not None
        assert parsed.to_dict() == raw  # slack_sdk validates its limits when serialising
        for text in text_objects(raw):
            assert len(text["text"]) <= 3000
            if text["type"] == "mrkdwn":
                assert_whole_markup(text["text"])


def assert_whole_markup(text: str) -> None:
    """Nothing was cut inside markup: every ``<`` has its ``>`` (a ``>`` opening a line is a quote), every ``&``
    starts an entity."""
    unquoted = re.sub(r"(?m)^>", "", text)
    assert unquoted.count("<") == unquoted.count(">"), text
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text


@pytest.mark.parametrize(("group", "name"), [(g, n) for g in ("messages", "replies") for n in RECORDED[g]])
def test_every_message_is_valid_block_kit_within_slacks_limits(group: str, name: str) -> None:
    message = rendered()[group][name]
    assert 0 < len(message["text"]) <= 40_000  # chat.postMessage's limit for ``text``
    assert set(message) <= {"text", "blocks"}
    assert_blocks_valid(message.get("blocks", []), limit=50)


@pytest.mark.parametrize("name", list(RECORDED["views"]))
def test_every_view_is_a_valid_view_within_slacks_limits(name: str) -> None:
    view = rendered()["views"][name]
    parsed = View(**view)
    assert (
        parsed.to_dict() == view
    )  # slack_sdk validates the limits (100 blocks, title 24, ...) when serialising
    assert_blocks_valid(view["blocks"], limit=100)
