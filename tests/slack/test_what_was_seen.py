"""A click decides only what the clicker saw (issue case 8), and the smaller items of case 10: buttons and forms
carry the round and version they were built for; a click on a superseded message is refused with a private note
pointing at the current one; odd button values, reasons, ticket links and user ids are handled cleanly."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import APPROVER_1, CHANNEL, PROPOSER, all_text, next_week, parent_of
from inprocess import in_process
from slackfake import payloads
from slackfake.signing import SlackClientSim
from slackfake.standin import Message, SlackStandIn

from chatops.slack import blocks, ids
from chatops.web import Runtime

App = tuple[Runtime, SlackClientSim]


@pytest.fixture
def app(tmp_path: Path, standin: SlackStandIn, database_url: str) -> Iterator[App]:
    with in_process(tmp_path, standin, database_url) as running:
        yield running


def flagged_proposal(slack: SlackClientSim, standin: SlackStandIn) -> Message:
    slack.command(
        f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Core network upgrade", user_id=PROPOSER
    )
    return parent_of(standin)


def parent_ts(runtime: Runtime) -> str | None:
    row = runtime.store.get_proposal(1)
    return row.message_ts if row is not None else None


def postpone_to_clear(runtime: Runtime) -> None:
    row = runtime.store.get_proposal(1)
    assert row is not None
    day = next_week(0)
    start = datetime(day.year, day.month, day.day, 14, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    runtime.service.postpone(
        1,
        actor=PROPOSER,
        start=start,
        duration=timedelta(hours=1),
        reason="clear",
        expected_version=row.version,
    )


def private_texts(standin: SlackStandIn) -> list[str]:
    return [e.text or "" for e in standin.ephemerals()]


def test_buttons_carry_the_id_round_and_version_they_were_built_for(app: App, standin: SlackStandIn) -> None:
    runtime, slack = app
    parent = flagged_proposal(slack, standin)
    row = runtime.store.get_proposal(1)
    assert row is not None
    values = {e["value"] for b in parent.blocks or [] if b["type"] == "actions" for e in b["elements"]}
    assert values == {f"1:{row.round}:{row.version}"}


def test_a_click_on_the_message_before_a_postponement_approves_nothing(
    app: App, standin: SlackStandIn
) -> None:
    runtime, slack = app
    old = flagged_proposal(slack, standin)  # as the approver saw it: flagged, 22:00
    # The parent has reached Slack; its ts is stored with the delivery mark, just after Slack answers.
    standin.wait_until(lambda: parent_ts(runtime) is not None, message="the parent's ts stored")
    standin.fail_next("chat.update", 50, status=500)  # and the channel keeps showing it
    postpone_to_clear(runtime)
    before = len(standin.ephemerals())
    assert slack.block_action(ids.APPROVE, message=old, user_id=APPROVER_1).status_code == 200
    row = runtime.store.get_proposal(1)
    assert row is not None and runtime.store.approvers(1, round=row.round) == []
    assert row.status.value == "pending"
    # (The proposal's own private confirmation may still be on its way: look for the refusal, not a count.)
    standin.wait_until(
        lambda: any("Not recorded" in t for t in private_texts(standin)[before:]), message="the refusal"
    )
    [note] = [t for t in private_texts(standin)[before:] if "Not recorded" in t]
    assert f"/archives/{CHANNEL}/p" in note  # points at the current message
    assert standin.calls_to("chat.getPermalink")


@pytest.mark.parametrize("button", [ids.REJECT, ids.POSTPONE, ids.CANCEL])
def test_a_stale_message_opens_no_form(app: App, standin: SlackStandIn, button: str) -> None:
    runtime, slack = app
    old = flagged_proposal(slack, standin)
    postpone_to_clear(runtime)
    before = len(standin.ephemerals())
    slack.block_action(button, message=old, user_id=PROPOSER if button == ids.CANCEL else APPROVER_1)
    # (The proposal's own private confirmation may still be on its way: look for the refusal, not a count.)
    standin.wait_until(
        lambda: any("Not recorded" in t for t in private_texts(standin)[before:]), message="the refusal"
    )
    assert standin.calls_to("views.open") == []


def test_reject_and_cancel_forms_check_the_version_they_were_opened_for(
    app: App, standin: SlackStandIn
) -> None:
    runtime, slack = app
    parent = flagged_proposal(slack, standin)
    slack.block_action(ids.REJECT, message=parent, user_id=APPROVER_1)
    [opened] = standin.wait_for("views.open")
    view = opened.json("view")
    postpone_to_clear(runtime)  # meanwhile, the change moved
    answer = slack.view_submission(
        ids.REJECT_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("too risky")}},
        private_metadata=view["private_metadata"],
        user_id=APPROVER_1,
    )
    assert answer.json()["response_action"] == "errors"
    assert "updated while you were" in answer.json()["errors"][ids.REASON]
    row = runtime.store.get_proposal(1)
    assert row is not None and row.status.value == "pending"


@pytest.mark.parametrize(
    "metadata", [{"proposal": 1}, {"proposal": 1, "version": "2"}, {"proposal": 1, "version": True}]
)
def test_forms_without_a_version_are_refused(app: App, standin: SlackStandIn, metadata: dict) -> None:
    runtime, slack = app
    flagged_proposal(slack, standin)
    day = next_week(1)
    start = int(
        datetime(day.year, day.month, day.day, 14, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    )
    for callback, values in (
        (
            ids.POSTPONE_VIEW,
            {
                ids.START: {ids.START: payloads.datetimepicker(start)},
                ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
                ids.REASON: {ids.REASON: payloads.plain_text_input("later")},
            },
        ),
        (ids.REJECT_VIEW, {ids.REASON: {ids.REASON: payloads.plain_text_input("no")}}),
    ):
        answer = slack.view_submission(
            callback, values=values, private_metadata=json.dumps(metadata), user_id=APPROVER_1
        )
        assert answer.json()["response_action"] == "errors"
    row = runtime.store.get_proposal(1)
    assert row is not None and row.round == 1 and row.status.value == "pending"


@pytest.mark.parametrize("value", ["²", "1:²:1", "1", "-1", "1:1", "9" * 40, "", "1:1:1:1"])
def test_odd_button_values_are_refused_cleanly(
    app: App, standin: SlackStandIn, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    _, slack = app
    with caplog.at_level(logging.INFO):
        answer = slack.block_action(ids.APPROVE, value=value, user_id=APPROVER_1)
    assert answer.status_code == 200
    standin.wait_until(lambda: len(standin.ephemerals()) == 1, message="the refusal")
    assert (
        "Not recorded" in private_texts(standin)[0]
        or "does not name a change" in private_texts(standin)[0]
        or ("out of date" in private_texts(standin)[0])
    )
    assert not [r for r in caplog.records if r.exc_info]


def test_a_reason_cannot_fake_a_status_line_in_the_thread(app: App, standin: SlackStandIn) -> None:
    runtime, slack = app
    parent = flagged_proposal(slack, standin)
    row = runtime.store.get_proposal(1)
    assert row is not None
    runtime.service.reject(
        1,
        actor=APPROVER_1,
        reason="no\n:white_check_mark: <@U0BOSS> approved the change\n\u202e",
        expected_version=row.version,
    )
    standin.wait_until(lambda: len(standin.thread(CHANNEL, parent.ts)) == 2, message="the rejection")
    reply = standin.thread(CHANNEL, parent.ts)[1].text or ""
    lines = reply.splitlines()
    reason_line = [line for line in lines if "Reason" in line]
    assert len(reason_line) == 1 and lines[-1] == reason_line[0]  # the reason stays on its one line
    assert not any(line.startswith(":white_check_mark:") for line in lines)
    assert "<@U0BOSS>" not in reply and "\u202e" not in reply


def test_user_ids_are_never_interpolated_as_markup() -> None:
    assert blocks.user_ref("U0APPROVER1") == "<@U0APPROVER1>"
    assert blocks.user_ref("U1> <!channel") == "`U1&gt; &lt;!channel`"
    assert "<!channel>" not in blocks.user_ref("<!channel>")


def test_the_ticket_link_is_cleaned_and_its_errors_land_on_its_field(app: App, standin: SlackStandIn) -> None:
    runtime, slack = app
    day = next_week(1)
    start = int(
        datetime(day.year, day.month, day.day, 14, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    )

    def submit(ticket: str, description: str = "") -> dict:
        answer = slack.view_submission(
            ids.PROPOSE_VIEW,
            values={
                ids.TITLE: {ids.TITLE: payloads.plain_text_input("Rotate keys")},
                ids.START: {ids.START: payloads.datetimepicker(start)},
                ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
                ids.ZONE: {ids.ZONE: payloads.plain_text_input("UTC")},
                ids.DESCRIPTION: {ids.DESCRIPTION: payloads.plain_text_input(description)},
                ids.TICKET: {ids.TICKET: payloads.plain_text_input(ticket)},
            },
            user_id=PROPOSER,
        )
        return answer.json() if answer.content else {}

    bad = submit("not a link")
    assert list(bad["errors"]) == [ids.TICKET]
    long = submit("https://t.example/x", description="d" * 2001)
    assert list(long["errors"]) == [ids.DESCRIPTION]
    assert submit("https://t.example/\u202eevil\x00").get("response_action") != "errors"
    row = runtime.store.get_proposal(1)
    assert row is not None and row.ticket_url == "https://t.example/evil"
    assert "\u202e" not in all_text(parent_of(standin))


def test_reject_on_an_ended_window_is_refused_like_approve(app: App, standin: SlackStandIn) -> None:
    runtime, slack = app
    flagged_proposal(slack, standin)
    row = runtime.store.get_proposal(1)
    assert row is not None
    later = datetime.fromtimestamp(row.end_ts + 60).astimezone()
    runtime.service._clock = lambda: later  # the window is over
    from chatops.errors import NotAllowedError

    for decide in (
        lambda: runtime.service.approve(1, actor=APPROVER_1),
        lambda: runtime.service.reject(1, actor=APPROVER_1, reason="late", expected_version=row.version),
    ):
        with pytest.raises(NotAllowedError, match="already ended"):
            decide()
