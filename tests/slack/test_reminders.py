"""Over HTTP against the stand-in: approving schedules three reminders in the thread; postponing deletes them and
approving again schedules new ones; cancelling deletes them; Done and Extend work from the approved parent; the
parent says where the window stands; expired approvals reopen the change. Time is passed in, never slept."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from conftest import (
    APPROVER_1,
    CHANNEL,
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
from slackfake.standin import Message, SlackStandIn
from sqlalchemy import func, select

from chatops.audit import verify
from chatops.domain.policy import Status
from chatops.slack import ids
from chatops.store.schema import outbox


def assert_audit_intact(server: LiveServer) -> None:
    """``chatops audit verify``: the chain holds and re-deriving every change from its events matches the table."""
    report = verify(server.runtime.store)
    assert report.intact, report.problems


def settled(condition: Callable[[], bool], message: str = "condition") -> None:
    """Wait for a condition on the database (the stand-in's waits are woken by Slack calls only)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"waited 10 s for {message}"
        time.sleep(0.01)


def approve(slack: SlackClientSim, standin: SlackStandIn, parent: Message) -> None:
    slack.block_action(ids.APPROVE, message=standin.message(CHANNEL, parent.ts), user_id=APPROVER_1)


def scheduled_for(standin: SlackStandIn, count: int) -> list[dict[str, object]]:
    standin.wait_until(lambda: len(standin.scheduled()) == count, message=f"{count} scheduled reminders")
    return sorted(standin.scheduled(), key=lambda m: int(str(m["post_at"])))


def row(server: LiveServer, proposal: int = 1):  # type: ignore[no-untyped-def]
    found = server.runtime.store.get_proposal(proposal)
    assert found is not None
    return found


def in_flight(server: LiveServer) -> int:
    """Outbox messages a delivery thread holds (claimed, what became of them not yet recorded)."""
    held = (
        outbox.c.leased_until.is_not(None) & outbox.c.delivered_at.is_(None) & outbox.c.abandoned_at.is_(None)
    )
    with server.runtime.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox).where(held)).scalar_one())


def at(server: LiveServer, moment: datetime, standin: SlackStandIn | None = None) -> Callable[[], datetime]:
    """Move the present to ``moment`` for the service, the delivery worker and (given) the stand-in, once no
    delivery is in flight: jumping the clock past a lease would hand a message being delivered to another
    thread (a sync sent twice saves its reminders again, and forgets that the parent was refreshed)."""
    deadline = time.monotonic() + 10
    while in_flight(server) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not in_flight(server), "a delivery still in flight after 10 s"
    clock = lambda: moment  # noqa: E731
    server.runtime.service._clock = clock
    server.runtime.worker._clock = moment.timestamp
    if standin is not None:
        standin.clock = moment.timestamp
    return clock


def test_approving_schedules_three_reminders_in_the_thread(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    assert standin.scheduled() == []  # nothing before approval
    approve(slack, standin, parent)
    before, start, end = scheduled_for(standin, 3)
    change = row(server)
    assert [before["post_at"], start["post_at"], end["post_at"]] == [
        change.start_ts - 15 * 60,
        change.start_ts,
        change.end_ts,
    ]
    assert {m["thread_ts"] for m in (before, start, end)} == {parent.ts}
    assert "opens" in str(before["text"]) and "open now" in str(start["text"])
    assert (
        "*Done*" in str(end["text"])
        and "*Extend*" in str(end["text"])
        and f"<@{PROPOSER}>" in str(end["text"])
    )
    settled(
        lambda: (
            all(r.scheduled_message_id for r in server.runtime.store.reminders(1))
            and len(server.runtime.store.reminders(1)) == 3
        ),
        message="the three ids stored",
    )
    stored = server.runtime.store.reminders(1)
    assert sorted(r.scheduled_message_id or "" for r in stored) == sorted(
        str(m["id"]) for m in (before, start, end)
    )
    # The approved parent carries Done and Extend, and says when the window opens.
    standin.wait_until(
        lambda: "opens in" in all_text(standin.message(CHANNEL, parent.ts)), message="state line"
    )
    text = all_text(standin.message(CHANNEL, parent.ts))
    assert ids.DONE in text and ids.EXTEND in text and ids.APPROVE not in text


def test_postponing_an_approved_change_deletes_its_reminders_and_approval_schedules_new_ones(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    first = scheduled_for(standin, 3)
    slack.block_action(ids.POSTPONE, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    [call] = standin.wait_for(lambda c: c.method == "views.open")
    view = call.json("view")
    new_start = row(server).start_ts + 86_400
    slack.view_submission(
        ids.POSTPONE_VIEW,
        values={
            ids.START: {ids.START: payloads.datetimepicker(new_start)},
            ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
            ids.REASON: {ids.REASON: payloads.plain_text_input("A day later")},
        },
        private_metadata=view["private_metadata"],
        user_id=PROPOSER,
    )
    standin.wait_until(lambda: len(standin.deleted_scheduled) == 3, message="the three reminders deleted")
    settled(lambda: server.runtime.store.reminders(1) == [], message="the reminders forgotten")
    assert standin.scheduled() == []
    assert row(server).status is Status.PENDING
    approve(slack, standin, parent)
    second = scheduled_for(standin, 3)
    assert [m["post_at"] for m in second] == [int(str(m["post_at"])) + 86_400 for m in first]
    assert {m["id"] for m in second}.isdisjoint({m["id"] for m in first})


def test_cancelling_an_approved_change_deletes_its_reminders(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    slack.view_submission(
        ids.CANCEL_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("Not needed after all")}},
        private_metadata=f'{{"proposal": 1, "version": {row(server).version}}}',
        user_id=PROPOSER,
    )
    standin.wait_until(lambda: len(standin.deleted_scheduled) == 3, message="the three reminders deleted")
    settled(lambda: server.runtime.store.reminders(1) == [], message="the reminders forgotten")
    assert standin.scheduled() == []
    assert row(server).status is Status.CANCELLED


def test_a_reminder_already_posted_by_slack_is_not_deleted_twice(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    # Slack posts the first reminder; the app still holds its id and learns it is gone when deleting.
    [posted] = standin.post_scheduled(until=row(server).start_ts - 15 * 60)
    assert posted.thread_ts == parent.ts
    slack.view_submission(
        ids.CANCEL_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("")}},
        private_metadata=f'{{"proposal": 1, "version": {row(server).version}}}',
        user_id=PROPOSER,
    )
    settled(lambda: server.runtime.store.reminders(1) == [], message="the reminders forgotten")
    assert standin.scheduled() == []
    assert len(standin.deleted_scheduled) == 2  # the posted one answered invalid_scheduled_message_id
    answers = [c.response for c in standin.calls_to("chat.deleteScheduledMessage")]
    assert [a["error"] for a in answers if not a["ok"]] == ["invalid_scheduled_message_id"]


def test_done_records_completion_and_drops_the_reminders_to_come(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    at(server, datetime.fromtimestamp(row(server).start_ts + 1800, UTC), standin)
    assert len(standin.post_scheduled(until=row(server).start_ts + 1800)) == 2  # Slack posted these two
    response = slack.block_action(ids.DONE, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    assert response.status_code == 200
    assert row(server).status is Status.DONE  # stored before the answer
    # Slack retries the click (our answer was slow, say): recorded once, and the retry says nothing.
    shown = standin.message(CHANNEL, parent.ts)
    retried = slack.block_action(ids.DONE, message=shown, user_id=PROPOSER, retry_num=1)
    assert retried.status_code == 200
    assert len([e for e in server.runtime.store.events(1) if e.kind == "completed"]) == 1
    standin.wait_until(lambda: any("*done*" in r for r in replies(standin, parent)), message="the done reply")
    standin.wait_until(lambda: standin.scheduled() == [], message="the reminders deleted")
    standin.wait_until(lambda: ":checkered_flag: *Done*" in all_text(standin.message(CHANNEL, parent.ts)))
    assert f"marked done by <@{PROPOSER}>" in all_text(standin.message(CHANNEL, parent.ts))
    assert ids.DONE not in all_text(standin.message(CHANNEL, parent.ts))
    assert not [e for e in standin.ephemerals() if "done" in (e.text or "")]
    assert_audit_intact(server)


def test_done_by_an_outsider_is_refused_privately(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    slack.block_action(ids.DONE, message=standin.message(CHANNEL, parent.ts), user_id="U0OUTSIDER")
    standin.wait_for(lambda c: c.method == "response_url" and "only the proposer" in str(c.params))
    assert row(server).status is Status.APPROVED


def extend(slack: SlackClientSim, standin: SlackStandIn, parent: Message, extra: str) -> None:
    before = len(standin.calls_to("views.open"))
    slack.block_action(ids.EXTEND, message=standin.message(CHANNEL, parent.ts), user_id=PROPOSER)
    view = standin.wait_for("views.open", count=before + 1)[-1].json("view")
    assert view["callback_id"] == ids.EXTEND_VIEW
    response = slack.view_submission(
        ids.EXTEND_VIEW,
        values={
            ids.EXTRA: {ids.EXTRA: payloads.plain_text_input(extra)},
            ids.REASON: {ids.REASON: payloads.plain_text_input("The migration is slow")},
        },
        private_metadata=view["private_metadata"],
        user_id=PROPOSER,
    )
    assert response.status_code == 200, response.text


def test_a_clear_extension_applies_at_once_and_moves_the_end_reminder(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")  # 14:00 Pacific: night in Tehran, clear
    approve(slack, standin, parent)
    first = scheduled_for(standin, 3)
    end_before = row(server).end_ts
    extend(slack, standin, parent, "30m")
    change = row(server)
    assert change.status is Status.APPROVED and change.end_ts == end_before + 1800
    standin.wait_until(lambda: len(standin.deleted_scheduled) == 1, message="the old end reminder deleted")
    assert standin.deleted_scheduled[0]["id"] == first[2]["id"]
    now = scheduled_for(standin, 3)
    assert [m["post_at"] for m in now] == [first[0]["post_at"], first[1]["post_at"], end_before + 1800]
    standin.wait_until(lambda: any("extra time is clear" in r for r in replies(standin, parent)))
    assert_audit_intact(server)


def test_a_flagged_extension_needs_approval_again(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="19:00")  # ends 20:00 Pacific = 07:30 in Tehran
    assert "*Clear*" in all_text(parent)
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    extend(slack, standin, parent, "2h")  # to 09:30 in Tehran: inside its peak, a sensitive period
    change = row(server)
    assert change.status is Status.NEEDS_REAPPROVAL and change.round == 2 and change.flagged
    standin.wait_until(lambda: any("needs approval again" in r for r in replies(standin, parent)))
    standin.wait_until(
        lambda: standin.scheduled() == [], message="reminders deleted until it is approved again"
    )
    # Approved again (flagged: two approvers, with a justification), the reminders follow the new end.
    approve_flagged(slack, standin, standin.message(CHANNEL, parent.ts), APPROVER_1)
    approve_flagged(slack, standin, standin.message(CHANNEL, parent.ts), "U0APPROVER2")
    final = scheduled_for(standin, 3)
    assert final[2]["post_at"] == row(server).end_ts
    assert_audit_intact(server)


def test_the_parent_is_refreshed_at_each_reminder_moment(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    change = row(server)
    edits = standin.message(CHANNEL, parent.ts).edits
    at(server, datetime.fromtimestamp(change.start_ts - 15 * 60, UTC), standin)
    result = server.runtime.service.sweep()
    assert result.refreshed == (1,)
    standin.wait_until(lambda: standin.message(CHANNEL, parent.ts).edits > edits, message="a refresh")
    assert "opens in 15 min" in all_text(standin.message(CHANNEL, parent.ts))
    assert server.runtime.service.sweep().refreshed == ()  # once per moment
    at(server, datetime.fromtimestamp(change.end_ts, UTC), standin)
    assert server.runtime.service.sweep().refreshed == (1,)  # the start and the end moments have come
    standin.wait_until(lambda: "ended" in all_text(standin.message(CHANNEL, parent.ts)), message="'ended'")
    assert len(server.runtime.store.reminders(1)) == 3
    at(server, datetime.fromtimestamp(change.end_ts + 86_401, UTC), standin)
    assert server.runtime.service.sweep().refreshed == ()
    assert server.runtime.store.reminders(1) == []  # a day after their moment, past reminders are forgotten


def test_approvals_expire_with_notice_and_the_change_needs_approval_again(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    scheduled_for(standin, 3)
    change = row(server)
    [(_, approved_at)] = server.runtime.store.approvals_at(1, round=1)
    # Expiry is 30 days by default: an approval given now expires 30 days on, after this week's window starts,
    # so nothing happens; pretend the window starts later by moving the approval back instead.
    service = server.runtime.service
    assert service.sweep().expired == ()
    max_age = 30 * 86_400
    with server.runtime.store.transaction() as tx:  # an approval 40 days before the window's start
        tx._conn.exec_driver_sql(  # type: ignore[attr-defined]
            f"UPDATE approvals SET at = {change.start_ts - 40 * 86_400}"
        )
    expires = change.start_ts - 40 * 86_400 + max_age
    at(server, datetime.fromtimestamp(expires - 3600, UTC), standin)
    assert service.sweep().warned == (1,)
    assert service.sweep().warned == ()  # said once
    standin.wait_until(lambda: any("must be renewed" in r for r in replies(standin, parent)))
    at(server, datetime.fromtimestamp(expires + 60, UTC), standin)
    assert service.sweep().expired == (1,)
    after = row(server)
    assert after.status is Status.NEEDS_REAPPROVAL and after.round == 2
    standin.wait_until(
        lambda: any("expired" in r and "needs approval again" in r for r in replies(standin, parent))
    )
    standin.wait_until(lambda: standin.scheduled() == [], message="reminders deleted")
    assert approved_at > 0
    assert_audit_intact(server)


def test_a_window_beyond_slacks_120_days_is_scheduled_when_it_comes_within_range(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    start = datetime(day.year, day.month, day.day, 22, tzinfo=UTC)
    at(server, start - timedelta(days=130), standin)  # the change is approved 130 days ahead
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    settled(lambda: len(server.runtime.store.reminders(1)) == 3, message="three waiting reminders")
    assert all(r.scheduled_message_id is None for r in server.runtime.store.reminders(1))
    assert standin.scheduled() == []
    assert server.runtime.service.sweep().scheduled == ()  # still too far
    # 110 days before the start, the sweep finds them within range and they are scheduled.
    at(server, start - timedelta(days=110), standin)
    assert server.runtime.service.sweep().scheduled == (1,)
    scheduled_for(standin, 3)
    settled(lambda: all(r.scheduled_message_id for r in server.runtime.store.reminders(1)))
    assert server.runtime.service.sweep().scheduled == ()  # nothing left to schedule


def test_reminders_whose_moment_passed_while_they_waited_are_not_synced_again_every_minute(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    start = datetime(day.year, day.month, day.day, 22, tzinfo=UTC)
    at(server, start - timedelta(days=130), standin)
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    settled(lambda: len(server.runtime.store.reminders(1)) == 3, message="three waiting reminders")
    # No sweep ran until the window had opened (the app was down): the reminders before and at the start passed
    # while they waited; the one at the end is still to come.
    at(server, start + timedelta(minutes=5), standin)
    assert server.runtime.service.sweep().scheduled == (1,)
    [end] = scheduled_for(standin, 1)
    assert int(str(end["post_at"])) == int((start + timedelta(hours=1)).timestamp())
    settled(lambda: sum(1 for r in server.runtime.store.reminders(1) if r.scheduled_message_id) == 1)
    # Nothing is left that could be scheduled: no sync is queued for the passed ones, at this sweep or the next.
    assert server.runtime.service.sweep().scheduled == ()
    at(server, start + timedelta(minutes=6), standin)
    assert server.runtime.service.sweep().scheduled == ()


def test_cancelling_a_change_whose_reminders_wait_forgets_them_without_asking_slack(
    server: LiveServer, slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    at(server, datetime(day.year, day.month, day.day, 22, tzinfo=UTC) - timedelta(days=130), standin)
    parent = propose(slack, standin, clock="14:00")
    approve(slack, standin, parent)
    settled(lambda: len(server.runtime.store.reminders(1)) == 3, message="three waiting reminders")
    slack.view_submission(
        ids.CANCEL_VIEW,
        values={ids.REASON: {ids.REASON: payloads.plain_text_input("")}},
        private_metadata=f'{{"proposal": 1, "version": {row(server).version}}}',
        user_id=PROPOSER,
    )
    settled(lambda: server.runtime.store.reminders(1) == [], message="the waiting reminders forgotten")
    assert (
        standin.calls_to("chat.deleteScheduledMessage") == []
        and standin.calls_to("chat.scheduleMessage") == []
    )
