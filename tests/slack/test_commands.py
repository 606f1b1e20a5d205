"""/maintenance: bad input gets a private, clear answer and posts nothing; check, list, help and the form."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from conftest import CHANNEL, PROPOSER, SECRET, Server, all_text, local_clock, next_week, parent_of
from slackfake import payloads
from slackfake.signing import SlackClientSim, sign
from slackfake.standin import SlackStandIn

from chatops.slack import ids


def private_answer(standin: SlackStandIn, count: int = 1) -> str:
    calls = standin.wait_for("response_url", count)
    body = calls[count - 1].params
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return str(body.get("text", ""))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("propose tomorrow 22:00 1h Upgrade", "'tomorrow' is not a date"),
        ("propose 2026-12-07 25:00 1h Upgrade", "'25:00' is not a time of day"),
        ("propose 2026-12-07 22:00 Mars/Olympus 1h Upgrade", "unknown time zone 'Mars/Olympus'"),
        ("propose 2026-12-07 22:00 UTC forever Upgrade", "'forever' is not a duration"),
        ("propose 2026-12-07 22:00 UTC 1h", "needs a title"),
        ("propose 2026-12-07 22:00 UTC 30d Too long", "longer than the 7d allowed"),
        ("propose 2020-01-06 22:00 UTC 1h In the past", "starts in the past"),
        ("propose 2027-03-14 02:30 America/Los_Angeles 1h Gap", "does not exist in America/Los_Angeles"),
        ("propose 2027-11-07 01:30 America/Los_Angeles 1h Fold", "happens twice in America/Los_Angeles"),
        ("frobnicate", "unknown subcommand 'frobnicate'"),
        ("propose \x00\x00 <!channel>", "not enough to go on"),
    ],
)
def test_bad_input_gets_a_private_clear_error_and_posts_nothing(
    slack: SlackClientSim, standin: SlackStandIn, text: str, expected: str
) -> None:
    response = slack.command(text, user_id=PROPOSER)
    assert response.status_code == 200
    answer = private_answer(standin)
    assert expected in answer, answer
    assert "Traceback" not in answer
    assert not standin.calls_to("chat.postMessage")


@pytest.mark.parametrize("text", ["", "help", "HELP"])
def test_help_and_empty_text_show_usage(slack: SlackClientSim, standin: SlackStandIn, text: str) -> None:
    slack.command(text, user_id=PROPOSER)
    assert "/maintenance propose <YYYY-MM-DD> <HH:MM> [zone] <duration> <title…>" in private_answer(standin)


def test_without_a_zone_the_proposers_slack_zone_is_used(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    slack.command(f'propose {day} 22:00 1h30m Any <title> & *text* works: 日本語 "quoted"', user_id=PROPOSER)
    parent = parent_of(standin)
    shown = all_text(parent)
    assert "America/Los_Angeles" in shown  # from users.info
    assert local_clock(day, "22:00", given="America/Los_Angeles", shown="Asia/Tehran") in shown
    assert parent.text is not None and 'Any &lt;title&gt; &amp; *text* works: 日本語 "quoted"' in parent.text
    header = parent.blocks[0] if parent.blocks else {}
    assert header["type"] == "header" and "Any <title> & *text*" in header["text"]["text"]  # plain text
    assert standin.calls_to("users.info")


def test_check_is_private_and_records_nothing(slack: SlackClientSim, standin: SlackStandIn) -> None:
    day = next_week(0)
    slack.command(f"check {day} 22:00 America/Los_Angeles 1h", user_id=PROPOSER)
    answer = standin.wait_for("response_url")[0].params
    shown = json.dumps(answer)
    assert "flagged" in shown and "Iran" in shown and "Windows that flag nothing" in shown
    assert "times read in America/Los_Angeles" in shown  # the zone it assumed is said
    assert not standin.calls_to("chat.postMessage")


def test_list_shows_pending_windows_privately(slack: SlackClientSim, standin: SlackStandIn) -> None:
    day = next_week(0)
    slack.command("list", user_id=PROPOSER)
    assert "No pending or upcoming" in private_answer(standin)
    slack.command(f"propose {day} 22:00 UTC 1h First change", user_id=PROPOSER)
    parent_of(standin)
    slack.command("list", user_id=PROPOSER)
    standin.wait_for("response_url", 3)
    # The proposer's confirmation and the list's answer may reach Slack in either order.
    [answer] = [
        text
        for text in (json.dumps(call.params) for call in standin.calls_to("response_url"))
        if "pending or upcoming window" in text and "No pending" not in text
    ]
    assert "First change" in answer and "CHG-1" in answer
    assert "opens in " in answer  # where the window stands, in plain words


def test_propose_form_opens_and_submits(slack: SlackClientSim, standin: SlackStandIn) -> None:
    slack.command("propose", user_id=PROPOSER)
    [opened] = standin.wait_for("views.open")
    view = opened.json("view")
    assert view["callback_id"] == ids.PROPOSE_VIEW
    zone_block = next(b for b in view["blocks"] if b["block_id"] == ids.ZONE)
    assert zone_block["element"]["initial_value"] == "America/Los_Angeles"

    values = {
        ids.TITLE: {ids.TITLE: payloads.plain_text_input("Database failover drill")},
        ids.START: {ids.START: payloads.datetimepicker(1_600_000_000)},
        ids.DURATION: {ids.DURATION: payloads.plain_text_input("2 hours")},
        ids.ZONE: {ids.ZONE: payloads.plain_text_input("Nowhere/City")},
    }
    bad = slack.view_submission(
        ids.PROPOSE_VIEW, values=values, view={"id": "V0FORM1"}, user_id=PROPOSER
    ).json()
    assert bad["response_action"] == "errors"
    assert set(bad["errors"]) == {ids.DURATION, ids.ZONE}

    values[ids.DURATION] = {ids.DURATION: payloads.plain_text_input("2h")}
    values[ids.ZONE] = {ids.ZONE: payloads.plain_text_input("Europe/Berlin")}
    past = slack.view_submission(
        ids.PROPOSE_VIEW, values=values, view={"id": "V0FORM1"}, user_id=PROPOSER
    ).json()
    assert past["response_action"] == "errors" and "past" in past["errors"][ids.START]

    start = int(time.time()) // 900 * 900 + 10 * 86400
    values[ids.START] = {ids.START: payloads.datetimepicker(start)}
    values[ids.DESCRIPTION] = {
        ids.DESCRIPTION: payloads.plain_text_input("Fail over the primary; risk: 5 min")
    }
    values[ids.TICKET] = {
        ids.TICKET: {"type": "url_text_input", "value": "https://tickets.example.org/CHG-9"}
    }
    for _ in range(2):  # a double submit creates one proposal
        done = slack.view_submission(
            ids.PROPOSE_VIEW, values=values, view={"id": "V0FORM1"}, user_id=PROPOSER
        )
        assert done.json()["response_action"] == "update"
    parent = parent_of(standin)
    shown = all_text(parent)
    assert "Database failover drill" in shown and "Europe/Berlin" in shown and "tickets.example.org" in shown
    assert f"<!date^{start}^" in shown
    assert len([m for m in standin.messages(CHANNEL).values() if m.thread_ts is None]) == 1


@pytest.mark.parametrize("signature", ["bad", "stale", "missing"])
def test_unverified_requests_get_401_and_change_nothing(
    slack: SlackClientSim, standin: SlackStandIn, signature: str
) -> None:
    day = next_week(0)
    response = slack.command(f"propose {day} 22:00 UTC 1h Forged", user_id=PROPOSER, signature=signature)
    assert response.status_code == 401
    slack.command("list", user_id=PROPOSER)
    assert "No pending or upcoming" in private_answer(standin)
    assert not standin.calls_to("chat.postMessage")


def test_front_door_refuses_oversized_and_odd_requests(server: Server) -> None:
    big = b"x" * (2 * 1024 * 1024)
    assert httpx.post(server.events_url, content=big, headers=sign(big, SECRET)).status_code == 413
    assert httpx.get(server.events_url).status_code == 405
    assert httpx.get(server.url + "/nope").status_code == 404
    assert httpx.get(server.url + "/healthz").text == "ok\n"
    junk = b"\xff\xfe\x00garbage"
    assert httpx.post(server.events_url, content=junk, headers=sign(b"", SECRET)).status_code == 400
    odd = b"payload=%7Bnot-json"
    assert (
        httpx.post(
            server.events_url,
            content=odd,
            headers={**sign(odd, SECRET), "Content-Type": "application/x-www-form-urlencoded"},
        ).status_code
        < 500
    )


def test_unknown_actions_and_views_for_missing_changes_change_nothing(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    unknown = slack.block_action("chatops_self_destruct", value="1", user_id=PROPOSER)
    assert unknown.status_code < 500
    forged = slack.block_action(ids.APPROVE, value="not-a-number", user_id=PROPOSER)
    assert forged.status_code == 200
    assert "does not name a change" in private_answer(standin)
    ghost = slack.view_submission(
        ids.REJECT_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("why not")}},
        private_metadata=json.dumps({"proposal": 424242, "version": 1}),
        user_id=PROPOSER,
    )
    assert ghost.status_code == 200
    assert "no change #424242" in json.dumps(ghost.json()["errors"])
    garbage_meta = slack.view_submission(
        ids.REJECT_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("why not")}},
        private_metadata="{not json",
        user_id=PROPOSER,
    )
    assert garbage_meta.json()["response_action"] == "errors"
    assert not standin.calls_to("chat.postMessage")
