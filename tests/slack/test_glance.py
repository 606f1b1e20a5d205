"""Over HTTP against the stand-in: flagged approvals are confirmed with a justification, a clear one is one tap,
a rejected parent says who and why, approvers are mentioned, and the suggestions are real choices."""

from __future__ import annotations

import itertools
import json
from datetime import datetime

from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    GROUP,
    PROPOSER,
    LiveServer,
    all_text,
    approve_flagged,
    next_week,
    propose,
    replies,
)
from slackfake import payloads
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.slack import ids
from chatops.store import open_store


def test_a_flagged_approval_asks_for_confirmation_and_records_the_justification(
    slack: SlackClientSim, standin: SlackStandIn, server: LiveServer
) -> None:
    parent = propose(slack, standin)
    # The approver group is asked on the new proposal, in the message that notifies.
    assert f"<!subteam^{GROUP}>" in all_text(parent)

    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)
    [call] = standin.wait_for(lambda c: c.method == "views.open")
    view = call.json("view")
    assert view["callback_id"] == ids.APPROVE_VIEW
    shown = json.dumps(view, ensure_ascii=False)
    assert "Flagged" in shown and "Iran" in shown and "Election protests" in shown
    assert len(replies(standin, parent)) == 1  # nothing recorded by the tap alone

    empty = slack.view_submission(
        ids.APPROVE_VIEW,
        values={ids.JUSTIFICATION: {ids.JUSTIFICATION: payloads.plain_text_input("   ")}},
        private_metadata=view["private_metadata"],
        user_id=APPROVER_1,
    ).json()
    assert empty["response_action"] == "errors" and ids.JUSTIFICATION in empty["errors"]

    done = approve_flagged(slack, standin, parent, APPROVER_1, why="Agreed with the <!here> Tehran NOC")
    assert done.status_code == 200 and not done.content, done.text
    standin.wait_until(lambda: len(replies(standin, parent)) >= 2, message="the approval reply")
    reply = replies(standin, parent)[1]
    assert f"<@{APPROVER_1}> approved" in reply and "1 of 2" in reply
    assert "Agreed with the &lt;!here&gt; Tehran NOC" in reply and "<!here>" not in reply

    store = open_store(server.database_url)
    try:
        [approved] = [e for e in store.events(1) if e.kind == "approved"]
        assert approved.data["justification"] == "Agreed with the <!here> Tehran NOC"
        assert approved.recomputed_hash() == approved.hash
    finally:
        store.close()


def test_a_clear_window_is_approved_in_one_tap(slack: SlackClientSim, standin: SlackStandIn) -> None:
    parent = propose(slack, standin, clock="14:00")  # 01:30 or 02:30 in Tehran: outside its peak
    assert "*Clear*" in all_text(parent)
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)
    standin.wait_until(lambda: len(replies(standin, parent)) >= 2, message="the approval reply")
    assert "now approved" in replies(standin, parent)[1]
    assert not standin.calls_to("views.open")


def test_a_rejected_parent_says_who_and_why(slack: SlackClientSim, standin: SlackStandIn) -> None:
    parent = propose(slack, standin)
    slack.block_action(ids.REJECT, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_2)
    [call] = standin.wait_for(lambda c: c.method == "views.open")
    slack.view_submission(
        ids.REJECT_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("Clashes with the vote count")}},
        private_metadata=call.json("view")["private_metadata"],
        user_id=APPROVER_2,
    )
    standin.wait_until(
        lambda: "Rejected" in all_text(standin.message(CHANNEL, parent.ts)),
        message="the parent to say Rejected",
    )
    shown = all_text(standin.message(CHANNEL, parent.ts))
    assert f"rejected by <@{APPROVER_2}> on <!date^" in shown
    assert ": Clashes with the vote count" in shown
    assert f"<@{PROPOSER}>" in shown  # the proposer is named on the parent
    assert f"<!subteam^{GROUP}>" not in shown  # nobody is asked any more


def test_the_suggestions_differ_by_at_least_an_hour(
    slack: SlackClientSim, standin: SlackStandIn, server: LiveServer
) -> None:
    parent = propose(slack, standin)
    store = open_store(server.database_url)
    try:
        row = store.get_proposal(1)
    finally:
        store.close()
    assert row is not None
    starts = [datetime.fromisoformat(s["start"]) for s in row.evaluation["suggestions"]]
    assert len(starts) >= 2
    for a, b in itertools.pairwise(starts):
        assert (b - a).total_seconds() >= 3600 or b.date() != a.date()
    shown = all_text(standin.message(CHANNEL, parent.ts))
    assert "Windows that flag nothing" in shown and "The earliest that flags nothing" in shown
    assert "most room on a later day" in shown
    assert "`00    06    12    18    `" in shown  # the day strip, with its ruler


def test_a_postponement_asks_the_approvers_again(slack: SlackClientSim, standin: SlackStandIn) -> None:
    parent = propose(slack, standin)
    slack.block_action(ids.POSTPONE, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    [call] = standin.wait_for(lambda c: c.method == "views.open")
    view = call.json("view")
    start = next(b for b in view["blocks"] if b.get("block_id") == ids.START)["element"]["initial_date_time"]
    slack.view_submission(
        ids.POSTPONE_VIEW,
        values={
            ids.START: {ids.START: payloads.datetimepicker(start)},
            ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
            ids.REASON: {ids.REASON: payloads.plain_text_input("Out of Tehran's daytime")},
        },
        private_metadata=view["private_metadata"],
        user_id=PROPOSER,
    )
    standin.wait_until(lambda: len(replies(standin, parent)) >= 3, message="the postponement and the ping")
    ping = replies(standin, parent)[2]
    assert f"<!subteam^{GROUP}>" in ping and "needs your decision again" in ping and "<!date^" in ping


def test_check_without_a_zone_says_which_zone_it_assumed(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    slack.command(f"check {next_week(0)} 22:00 1h", user_id=PROPOSER)
    shown = json.dumps(standin.wait_for("response_url")[0].params)
    assert "no zone given: times read in America/Los_Angeles, your Slack time zone" in shown
    assert "PST" in shown or "PDT" in shown
