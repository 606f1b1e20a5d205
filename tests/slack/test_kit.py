"""The plain-dict Block Kit helpers write exactly what slack_sdk's model classes write, and only valid Block Kit:
each helper is compared with the model it stands for, over its optional arguments, and parsed back."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DateTimePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    UrlInputElement,
)
from slack_sdk.models.views import View

from chatops.slack import kit

BUTTON = {"action_id": "a", "value": "1:2:3"}


@pytest.mark.parametrize(
    ("ours", "model"),
    [
        (kit.section("*hi* <@U1>"), SectionBlock(text=MarkdownTextObject(text="*hi* <@U1>"))),
        (kit.context("small"), ContextBlock(elements=[MarkdownTextObject(text="small")])),
        (kit.header("CHG-1: <b>"), HeaderBlock(text=PlainTextObject(text="CHG-1: <b>", emoji=False))),
        (kit.divider(), DividerBlock()),
        (
            kit.actions(
                "decide",
                [kit.button("Go", **BUTTON, style="primary"), kit.button("Stop", **BUTTON, style="danger")],
            ),
            ActionsBlock(
                block_id="decide",
                elements=[
                    ButtonElement(text="Go", **BUTTON, style="primary"),
                    ButtonElement(text="Stop", **BUTTON, style="danger"),
                ],
            ),
        ),
        (
            kit.actions("one", [kit.button("Plain", **BUTTON)]),
            ActionsBlock(block_id="one", elements=[ButtonElement(text="Plain", **BUTTON)]),
        ),
        (
            kit.input_block("b", label="L", element=kit.text_input("t")),
            InputBlock(block_id="b", label="L", element=PlainTextInputElement(action_id="t")),
        ),
        (
            kit.input_block(
                "b",
                label="L",
                hint="H",
                optional=False,
                element=kit.text_input("t", initial_value="1h", max_length=20, multiline=True),
            ),
            InputBlock(
                block_id="b",
                label="L",
                hint="H",
                optional=False,
                element=PlainTextInputElement(
                    action_id="t", initial_value="1h", max_length=20, multiline=True
                ),
            ),
        ),
        (
            kit.input_block(
                "b", label="L", optional=True, element=kit.datetime_picker("d", initial_date_time=9)
            ),
            InputBlock(
                block_id="b",
                label="L",
                optional=True,
                element=DateTimePickerElement(action_id="d", initial_date_time=9),
            ),
        ),
        (
            kit.input_block("b", label="L", element=kit.url_input("u")),
            InputBlock(block_id="b", label="L", element=UrlInputElement(action_id="u")),
        ),
    ],
)
def test_each_block_is_what_the_model_writes(ours: dict[str, Any], model: Block) -> None:
    assert ours == model.to_dict()
    assert list(ours) == list(model.to_dict())  # the same key order: the same JSON, byte for byte
    parsed = Block.parse(ours)
    assert parsed is not None and parsed.to_dict() == ours


@pytest.mark.parametrize("with_optional", [False, True])
def test_a_modal_is_what_the_view_model_writes(with_optional: bool) -> None:
    extra: dict[str, Any] = (
        {"submit": "Send", "callback_id": "cb", "private_metadata": '{"a":1}'} if with_optional else {}
    )
    ours = kit.modal(title="Title", close="Back", blocks=[kit.section("x")], **extra)
    model_extra: dict[str, Any] = {
        key: PlainTextObject(text=value) if key == "submit" else value for key, value in extra.items()
    }
    model = View(
        type="modal",
        title=PlainTextObject(text="Title"),
        close=PlainTextObject(text="Back"),
        blocks=[SectionBlock(text=MarkdownTextObject(text="x"))],
        **model_extra,
    )
    assert ours == model.to_dict() and list(ours) == list(model.to_dict())


def test_the_helpers_do_not_validate_the_tests_do() -> None:
    """Production trusts its callers to keep the limits; the models, used in the tests, refuse what Slack would."""
    too_long = kit.header("x" * 151)
    parsed = Block.parse(too_long)
    assert parsed is not None
    with pytest.raises(SlackObjectFormationError):
        parsed.to_dict()


def test_each_call_makes_new_dicts() -> None:
    first, second = kit.divider(), kit.divider()
    assert first == second and first is not second
    first["block_id"] = "changed"
    assert kit.divider() == {"type": "divider"}
