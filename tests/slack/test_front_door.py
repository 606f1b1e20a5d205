"""The front door answers every body without a 5xx: the signature is checked on the raw body first, then the
body is read defensively (issue cases 4, 5 and 7). In process, against the Web API stand-in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import APPROVER_1, CHANNEL, PROPOSER, all_text, next_week, parent_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inprocess import in_process
from slackfake import payloads
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.slack import ids
from chatops.web import Runtime


@pytest.fixture
def app(tmp_path: Path, standin: SlackStandIn, database_url: str) -> Iterator[tuple[Runtime, SlackClientSim]]:
    with in_process(tmp_path, standin, database_url) as running:
        yield running


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_the_word_payload_in_a_title_channel_workspace_or_user_name_is_just_text(
    app: tuple[Runtime, SlackClientSim], standin: SlackStandIn
) -> None:
    runtime, slack = app
    where = {"team_domain": "payloads-inc", "channel_name": "payload-ops", "user_name": "payload.person"}
    help_answer = slack.command("help", user_id=PROPOSER, overrides=where)
    assert help_answer.status_code == 200
    standin.wait_until(lambda: len(standin.ephemerals()) == 1, message="the help text")
    assert "/maintenance propose" in (standin.ephemerals()[0].text or "")

    text = f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Rotate payload keys"
    assert slack.command(text, user_id=PROPOSER, overrides=where).status_code == 200
    # Stored before the 200: the change exists as soon as the answer is back.
    row = runtime.store.get_proposal(1)
    assert row is not None and row.title == "Rotate payload keys"
    assert "Rotate payload keys" in all_text(parent_of(standin))


SIGNED_JUNK = [
    ("form", "payload=x"),
    ("form", "payload=%5B%5D"),  # []
    ("form", "payload=null"),
    ("form", "payload=1"),
    ("form", "payload=" + "%5B" * 100_000),  # deeply nested JSON
    ("form", "payload=%7B%7D"),  # {} without a type
    ("json", "[1,2]"),
    ("json", "{"),
    ("json", "null"),
    ("form", "payload=" + json.dumps({"type": "block_actions", "team": "T0000TEST"})),
    ("form", "payload=" + json.dumps({"type": "block_actions", "actions": [1]})),
    ("form", "payload=" + json.dumps({"type": "block_actions", "actions": []})),
    ("form", "payload=" + json.dumps({"type": "view_submission", "view": {"callback_id": "x"}})),
    ("form", "payload=" + json.dumps({"type": "view_submission", "view": []})),
]


@pytest.mark.parametrize(("kind", "body"), SIGNED_JUNK)
def test_malformed_signed_bodies_get_400_without_a_traceback(
    app: tuple[Runtime, SlackClientSim], caplog: pytest.LogCaptureFixture, kind: str, body: str
) -> None:
    _, slack = app
    content_type = "application/json" if kind == "json" else "application/x-www-form-urlencoded"
    with caplog.at_level(logging.INFO):
        answer = slack.post(body.encode(), content_type=content_type)
    assert answer.status_code == 400
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "body", ["payload=x", "payload=" + "%5B" * 100_000, "command=%2Fmaintenance&text=help"]
)
def test_unsigned_bodies_get_401_before_they_are_read(
    app: tuple[Runtime, SlackClientSim], caplog: pytest.LogCaptureFixture, body: str
) -> None:
    _, slack = app
    with caplog.at_level(logging.INFO):
        assert slack.post(body.encode(), signature="missing").status_code == 401
        assert slack.post(body.encode(), signature="bad").status_code == 401
        assert slack.post(body.encode(), headers={"X-Slack-Request-Timestamp": "1e9"}).status_code == 401
    assert tracebacks(caplog) == []


def test_a_view_submission_without_a_view_type_is_refused(app: tuple[Runtime, SlackClientSim]) -> None:
    _, slack = app
    answer = slack.view_submission(ids.REJECT_VIEW, overrides={"view": {"type": payloads.DELETE}})
    assert answer.status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
interaction_keys = st.sampled_from(
    ["type", "team", "user", "enterprise", "channel", "actions", "view", "message", "container", "trigger_id"]
)


def test_any_signed_body_gets_an_answer_below_500(
    app: tuple[Runtime, SlackClientSim], caplog: pytest.LogCaptureFixture
) -> None:
    _, slack = app
    base = payloads.load("block_actions")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from(["block_actions", "view_submission", "shortcut", "x"]),
        st.dictionaries(interaction_keys, json_values, max_size=4),
        st.sampled_from(["form", "json", "command"]),
    )
    def check(kind: str, changes: dict, wrap: str) -> None:
        payload = {**base, "type": kind, **changes}
        if wrap == "form":
            body, content_type = (
                urlencode({"payload": json.dumps(payload)}),
                "application/x-www-form-urlencoded",
            )
        elif wrap == "json":
            body, content_type = json.dumps(payload), "application/json"
        else:
            fields = {k: json.dumps(v) for k, v in changes.items()}
            body = urlencode({"command": "/maintenance", "text": "help", **fields})
            content_type = "application/x-www-form-urlencoded"
        answer = slack.post(body.encode(), content_type=content_type)
        assert answer.status_code < 500, (body[:300], answer.text)

    with caplog.at_level(logging.INFO):
        check()
    assert tracebacks(caplog) == []


# -- only this workspace (case 7) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"team": {"id": "T0OTHER", "domain": "other"}, "user": {"team_id": "T0OTHER"}},
        {"enterprise": {"id": "E0OTHER", "name": "Other Org"}},
    ],
)
def test_a_click_from_another_workspace_or_organisation_is_refused_and_logged(
    app: tuple[Runtime, SlackClientSim],
    standin: SlackStandIn,
    caplog: pytest.LogCaptureFixture,
    overrides: dict,
) -> None:
    runtime, slack = app
    slack.command(f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
    parent = parent_of(standin)
    with caplog.at_level(logging.WARNING):
        answer = slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_1, overrides=overrides)
    assert answer.status_code == 403
    row = runtime.store.get_proposal(1)
    assert row is not None
    assert runtime.store.approvers(1, round=row.round) == []
    assert any("refused a request" in r.getMessage() for r in caplog.records)
    # The same click from the installed workspace is recorded.
    assert slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_1).status_code == 200
    assert runtime.store.approvers(1, round=row.round) == [APPROVER_1]


def test_a_command_from_another_workspace_is_refused(
    app: tuple[Runtime, SlackClientSim], standin: SlackStandIn
) -> None:
    runtime, slack = app
    text = f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Foreign change"
    answer = slack.command(text, user_id=PROPOSER, overrides={"team_id": "T0OTHER"})
    assert answer.status_code == 403
    assert runtime.store.count_proposals() == 0
    assert CHANNEL not in {c.params.get("channel") for c in standin.calls_to("chat.postMessage")}
