"""Reject, postpone and cancel through their modals; double clicks and Slack retries record nothing twice."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    OUTSIDER,
    PROPOSER,
    all_text,
    approve_flagged,
    next_week,
    parent_of,
    propose,
    replies,
)
from slackfake import payloads
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.slack import ids


def opened_view(standin: SlackStandIn, callback_id: str) -> dict:
    calls = standin.wait_for(
        lambda c: c.method == "views.open" and c.json("view")["callback_id"] == callback_id
    )
    return calls[-1].json("view")


def test_reject_asks_for_a_reason_and_records_it(slack: SlackClientSim, standin: SlackStandIn) -> None:
    parent = propose(slack, standin)
    slack.block_action(ids.REJECT, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)
    view = opened_view(standin, ids.REJECT_VIEW)

    # An empty reason is refused inside the modal.
    empty = slack.view_submission(
        ids.REJECT_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("  ")}},
        private_metadata=view["private_metadata"],
        user_id=APPROVER_1,
    )
    assert empty.status_code == 200
    assert empty.json()["response_action"] == "errors" and ids.REASON in empty.json()["errors"]

    done = slack.view_submission(
        ids.REJECT_VIEW,
        values={
            ids.REASON: {ids.REASON: payloads.plain_text_input("Clashes with the <!channel> election night")}
        },
        private_metadata=view["private_metadata"],
        user_id=APPROVER_1,
    )
    assert done.status_code == 200 and not done.content  # the modal closes
    standin.wait_until(
        lambda: "Rejected" in all_text(standin.message(CHANNEL, parent.ts)), message="Rejected"
    )
    standin.wait_until(lambda: len(replies(standin, parent)) >= 2, message="the rejection reply")
    text = replies(standin, parent)[1]
    assert f"<@{APPROVER_1}> rejected" in text
    assert "&lt;!channel&gt; election night" in text and "<!channel>" not in text  # escaped: pings nobody

    # A click on a stale copy of the message (buttons still shown) is refused privately and records nothing.
    slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_2)
    standin.wait_until(
        lambda: any("already rejected" in (e.text or "") for e in standin.ephemerals()), message="refusal"
    )
    assert len(replies(standin, parent)) == 2


def test_postpone_is_prefilled_with_the_first_suggestion_and_resets_approvals(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin)
    approve_flagged(slack, standin, parent, APPROVER_1)
    standin.wait_until(lambda: len(replies(standin, parent)) >= 2, message="first approval")

    slack.block_action(ids.POSTPONE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_2)
    view = opened_view(standin, ids.POSTPONE_VIEW)
    start_block = next(b for b in view["blocks"] if b.get("block_id") == ids.START)
    suggested = start_block["element"]["initial_date_time"]
    # The suggested hour lands wholly outside Tehran's 08:00-23:00 peak.
    tehran = datetime.fromtimestamp(suggested, UTC).astimezone(ZoneInfo("Asia/Tehran"))
    assert tehran.hour >= 23 or (tehran + timedelta(hours=1)).time() <= time(8, 0), tehran
    assert "Suggested windows" in json.dumps(view)

    done = slack.view_submission(
        ids.POSTPONE_VIEW,
        values={
            ids.START: {ids.START: payloads.datetimepicker(suggested)},
            ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
            ids.REASON: {ids.REASON: payloads.plain_text_input("Move out of Tehran's daytime")},
        },
        private_metadata=view["private_metadata"],
        user_id=APPROVER_2,
    )
    assert done.status_code == 200 and not done.content, done.text
    standin.wait_until(lambda: len(replies(standin, parent)) >= 3, message="the postponement reply")
    text = replies(standin, parent)[2]
    assert f"<@{APPROVER_2}> postponed" in text
    assert "*from* " in text and "*to* " in text
    assert re.search(r" P[SD]T \(UTC-0[78]:00\) = ", text)  # the window in the proposer's zone, then UTC
    assert f"<!date^{suggested}^" in text
    assert "the new window is clear" in text and "1 earlier approval reset" in text
    standin.wait_until(
        lambda: "0 of 1 approval" in all_text(standin.message(CHANNEL, parent.ts)), message="parent reset"
    )

    # The same form submitted again (a double click) is refused: the change moved on.
    again = slack.view_submission(
        ids.POSTPONE_VIEW,
        values={
            ids.START: {ids.START: payloads.datetimepicker(suggested + 3600)},
            ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
            ids.REASON: {ids.REASON: payloads.plain_text_input("again")},
        },
        private_metadata=view["private_metadata"],
        user_id=APPROVER_2,
    )
    assert again.json()["response_action"] == "errors"
    assert "updated while you were editing" in json.dumps(again.json()["errors"])
    standin.wait_until(lambda: len(replies(standin, parent)) >= 4, message="the approvers asked again")
    assert "needs your decision again" in replies(standin, parent)[3]
    assert len(replies(standin, parent)) == 4


def test_postpone_to_the_past_is_refused_in_the_modal(slack: SlackClientSim, standin: SlackStandIn) -> None:
    parent = propose(slack, standin)
    slack.block_action(ids.POSTPONE, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    view = opened_view(standin, ids.POSTPONE_VIEW)
    answer = slack.view_submission(
        ids.POSTPONE_VIEW,
        values={
            ids.START: {ids.START: payloads.datetimepicker(1_600_000_000)},
            ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
            ids.REASON: {ids.REASON: payloads.plain_text_input("oops")},
        },
        private_metadata=view["private_metadata"],
        user_id=PROPOSER,
    ).json()
    assert answer["response_action"] == "errors" and "past" in answer["errors"][ids.START]


def test_only_the_proposer_cancels(slack: SlackClientSim, standin: SlackStandIn) -> None:
    parent = propose(slack, standin)
    slack.block_action(ids.CANCEL, message=standin.message(CHANNEL, parent.ts), user_id=OUTSIDER)
    standin.wait_until(
        lambda: any("only the proposer" in (e.text or "") for e in standin.ephemerals()), message="refusal"
    )
    assert not standin.calls_to("views.open")
    slack.block_action(ids.CANCEL, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    view = opened_view(standin, ids.CANCEL_VIEW)
    done = slack.view_submission(
        ids.CANCEL_VIEW, values={}, private_metadata=view["private_metadata"], user_id=PROPOSER
    )
    assert done.status_code == 200
    standin.wait_until(
        lambda: "Cancelled" in all_text(standin.message(CHANNEL, parent.ts)), message="Cancelled"
    )
    assert f"<@{PROPOSER}> cancelled" in replies(standin, parent)[1]


def test_double_clicks_and_slack_retries_record_nothing_twice(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    trigger = slack.new_trigger_id()
    text = f"propose {day} 22:00 America/Los_Angeles 1h Core network upgrade"
    slack.command(text, user_id=PROPOSER, trigger_id=trigger)
    slack.command(text, user_id=PROPOSER, trigger_id=trigger, retry_num=1)
    parent = parent_of(standin)
    standin.wait_until(
        lambda: len(standin.ephemerals(user=PROPOSER)) >= 2 or len(standin.ephemerals()) >= 2,
        message="both answers",
    )
    assert any("Already proposed" in (e.text or "") for e in standin.ephemerals())

    # The confirmation of a flagged approval submitted three times (a double click, a retry) counts once.
    first = approve_flagged(slack, standin, parent, APPROVER_1)
    [opened] = standin.wait_for(lambda c: c.method == "views.open")
    again = [
        slack.view_submission(
            ids.APPROVE_VIEW,
            values={ids.JUSTIFICATION: {ids.JUSTIFICATION: payloads.plain_text_input("again")}},
            private_metadata=opened.json("view")["private_metadata"],
            user_id=APPROVER_1,
        ).json()
        for _ in range(2)
    ]
    assert first.status_code == 200 and not first.content
    assert all("already approved" in json.dumps(a["errors"]) for a in again), again
    standin.wait_until(lambda: len(replies(standin, parent)) >= 2, message="one approval")
    top_level = [m for m in standin.messages(CHANNEL).values() if m.thread_ts is None]
    assert len(top_level) == 1
    assert len(replies(standin, parent)) == 2
    assert "1 of 2" in replies(standin, parent)[1]
