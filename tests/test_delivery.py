"""The outbox worker against the Web API stand-in, with the clock in the test's hands."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slackfake.standin import SlackStandIn
from sqlalchemy import event

from chatops.config import parse_regions
from chatops.delivery import DeliveryWorker
from chatops.domain.records import OutboxKind
from chatops.service import ProposalRequest, Service
from chatops.store import canonical_json
from chatops.store.schema import outbox
from chatops.store.sql import SqlStore

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    '[[regions]]\nid = "de"\nname = "Germany"\ntimezone = "Europe/Berlin"\npeak_hours = ["08:00-22:00"]\n',
    source="test",
)


class Clock:
    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[SlackStandIn, SqlStore, Service, DeliveryWorker, Clock]]:
    clock = Clock()
    with SlackStandIn() as standin:
        standin.clock = clock
        store = SqlStore.open(f"sqlite:///{tmp_path / 'd.db'}")
        service = Service(
            store=store,
            config=CONFIG,
            channel="C1",
            approvers=lambda: frozenset({"UA", "UB"}),
            clock=lambda: datetime.fromtimestamp(clock.now, UTC),
        )
        worker = DeliveryWorker(
            store=store,
            client=WebClient(token=standin.token, base_url=standin.url),
            give_up_after=3600,
            retry_cap=300,
            clock=clock,
        )
        try:
            yield standin, store, service, worker, clock
        finally:
            store.close()


def propose(
    service: Service,
    *,
    start: datetime = T0 + timedelta(days=1),
    duration: timedelta = timedelta(hours=1),
    title: str = "t",
) -> int:
    request = ProposalRequest(
        idempotency_key=None, proposer="UP", title=title, start=start, duration=duration, input_tz="UTC"
    )
    return service.propose(request).proposal.id


def drain(worker: DeliveryWorker) -> None:
    while worker.run_once():
        pass


def test_delivers_in_order_once(setup: tuple) -> None:
    standin, store, service, worker, _ = setup
    pid = propose(service)
    service.approve(pid, actor="UA")
    drain(worker)
    kinds = [c.method for c in standin.calls]
    # The approved change's three reminders are scheduled after its reply and parent update.
    assert kinds == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        *["chat.scheduleMessage"] * 3,
    ]
    parent_ts = standin.calls[0].response["ts"]
    assert [c.params.get("thread_ts") for c in standin.calls[1:3]] == [parent_ts, parent_ts]
    assert store.outbox_stats(now=int(T0.timestamp()))[0] == 0
    drain(worker)
    assert len(standin.calls) == 7  # nothing sent twice


def test_a_changes_messages_go_together_and_what_follows_a_failure_waits_untried(setup: tuple) -> None:
    """An approval's thread reply, parent update and reminders' sync are claimed together and sent in order;
    when the reply fails, the update and the sync are given back untried (no attempt counted, no lease held)
    and follow it once it is delivered."""
    standin, store, service, worker, clock = setup
    pid = propose(service)
    drain(worker)
    service.approve(pid, actor="UA")
    sent = len(standin.calls)
    standin.fail_next("chat.postMessage", 1, status=500)
    assert worker.run_once() == 1  # the reply, tried and failed; the two after it not tried
    assert [c.method for c in standin.calls[sent:]] == ["chat.postMessage"]
    with store.engine.connect() as conn:
        waiting = conn.execute(
            outbox.select()
            .where(outbox.c.proposal_id == pid, outbox.c.delivered_at.is_(None))
            .order_by(outbox.c.id)
        ).all()
    assert [(m.kind, m.attempts, m.leased_until) for m in waiting] == [
        ("reply", 1, None),
        ("update_parent", 0, None),
        ("sync_reminders", 0, None),
    ]
    assert worker.run_once() == 0  # the reply's retry is not due: the others wait behind it
    clock.now += 300
    drain(worker)
    assert [c.method for c in standin.calls[sent:]] == [
        "chat.postMessage",  # failed
        "conversations.replies",  # did the failed attempt reach the thread? (it did not)
        "chat.postMessage",
        "chat.update",
        *["chat.scheduleMessage"] * 3,
    ]
    assert store.outbox_stats(now=int(clock.now))[0] == 0


def test_a_worker_told_to_stop_gives_back_what_it_has_not_tried(
    setup: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping between two messages of one claim: the first is recorded, the ones after it are free again for
    the next worker at once, not held until their lease runs out."""
    standin, store, service, worker, _clock = setup
    pid = propose(service)
    attempt = worker._attempt

    def then_stop(message: object) -> object:
        outcome = attempt(message)
        worker._stop.set()
        return outcome

    monkeypatch.setattr(worker, "_attempt", then_stop)
    assert worker.run_once() == 1
    assert [c.method for c in standin.calls] == ["chat.postMessage"]
    with store.engine.connect() as conn:
        rows = conn.execute(outbox.select().where(outbox.c.proposal_id == pid).order_by(outbox.c.id)).all()
    assert [(m.kind, m.delivered_at is not None, m.leased_until) for m in rows] == [
        ("post_parent", True, None),
        ("reply", False, None),
    ]


def test_honours_retry_after_and_backs_off_on_5xx(setup: tuple) -> None:
    standin, _store, service, worker, clock = setup
    propose(service)
    standin.rate_limit_next("chat.postMessage", 1, retry_after=7)
    worker.run_once()
    assert standin.calls[-1].status == 429
    clock.now += 6
    assert worker.run_once() == 0  # not before Retry-After
    clock.now += 1
    standin.fail_next("chat.postMessage", 1, status=502)
    assert worker.run_once() == 1
    assert standin.calls[-1].status == 502
    clock.now += 1  # second attempt: backoff 2 s
    assert worker.run_once() == 0
    clock.now += 1
    drain(worker)
    assert [c.status for c in standin.calls if c.method == "chat.postMessage"] == [429, 502, 200, 200]
    # Each retry first looked for what the failed attempt may have posted.
    assert [c.method for c in standin.calls].count("conversations.history") == 2


def test_gives_up_after_the_configured_time_and_says_so(
    setup: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    standin, store, service, worker, clock = setup
    propose(service)
    standin.fail_next("chat.postMessage", 10_000, status=500)
    with caplog.at_level(logging.WARNING, logger="chatops.delivery"):
        for _ in range(40):
            worker.run_once()
            clock.now += 300
    assert "gave up delivering outbox message" in caplog.text
    depth, _ = store.outbox_stats(now=int(clock.now))
    assert depth == 0  # abandoned, not pending forever; the reply after it was abandoned too (no parent)
    assert any(r.levelno == logging.ERROR and "gave up" in r.getMessage() for r in caplog.records)


def test_a_reply_names_its_event_and_carries_its_hash(
    setup: tuple[SlackStandIn, SqlStore, Service, DeliveryWorker, Clock],
) -> None:
    standin, store, service, worker, _ = setup
    pid = propose(service)
    worker.run_once()
    worker.run_once()
    [event] = store.events(pid)
    [message] = [m for m in standin.messages("C1").values() if m.thread_ts]
    assert message.metadata is not None
    outbox_id = message.metadata["event_payload"].pop("outbox_id")  # to recognise it if it must be re-sent
    assert isinstance(outbox_id, int)
    assert message.metadata == {
        "event_type": "chatops_audit_event",
        "event_payload": {
            "proposal_id": pid,
            "seq": 1,
            "gseq": event.gseq,
            "kind": "proposed",
            "hash": event.hash,
        },
    }


def test_an_outbox_row_written_before_replies_named_their_event_is_still_delivered(
    setup: tuple[SlackStandIn, SqlStore, Service, DeliveryWorker, Clock],
) -> None:
    """Rows queued by the previous version carry a copy of the event instead of its id."""
    standin, store, service, worker, _ = setup
    pid = propose(service)
    worker.run_once()
    [event] = store.events(pid)
    old_copy = event.model_dump(exclude={"gseq", "actor_name", "hash_version"})
    with store.engine.begin() as conn:
        conn.execute(
            outbox.insert().values(
                proposal_id=pid,
                kind="reply",
                payload=canonical_json({"event": old_copy}),
                created_at=0,
                attempts=0,
                next_attempt_at=0,
            )
        )
    worker.run_once()
    worker.run_once()
    texts = [m.text or "" for m in standin.messages("C1").values() if m.thread_ts]
    assert len(texts) == 2 and texts[0] == texts[1] and "proposed CHG-" in texts[1]


def test_thirty_reminders_per_five_minutes_per_channel_the_rest_wait_for_a_slot(setup: tuple) -> None:
    standin, store, service, worker, clock = setup
    for _ in range(11):  # 11 approved changes: 33 reminders in one channel
        service.approve(propose(service), actor="UA")
    drain(worker)
    assert len(standin.scheduled()) == 30
    with store.engine.connect() as conn:
        waiting = conn.execute(
            outbox.select().where(outbox.c.kind == "sync_reminders", outbox.c.delivered_at.is_(None))
        ).all()
    assert len(waiting) == 1 and "30 scheduled messages in 5 minutes" in (waiting[0].last_error or "")
    assert waiting[0].next_attempt_at == int(T0.timestamp()) + 300  # when the first of the 30 ages out
    clock.now += 299
    drain(worker)
    assert len(standin.scheduled()) == 30
    clock.now += 1
    drain(worker)
    assert len(standin.scheduled()) == 33
    assert len({m["id"] for m in standin.scheduled()}) == 33  # nothing scheduled twice


def test_a_sync_that_reaches_the_channel_limit_half_way_schedules_what_fits_and_waits(setup: tuple) -> None:
    """The sync reads the channel's recent schedulings once and counts its own: with 29 in the channel, the
    10th change's sync schedules one of its three reminders, then waits."""
    standin, store, service, worker, clock = setup
    other = propose(service)
    for kind in ("a", "b"):  # two scheduled in this channel a moment ago (by another change)
        store.save_reminder(
            other,
            kind=kind,
            post_at=int(clock.now) + 86_400,
            channel="C1",
            scheduled_message_id=f"Q{kind}",
            scheduled_at=int(clock.now),
        )
    for _ in range(10):  # 27 reminders fit; the 10th change's three would make 32
        service.approve(propose(service), actor="UA")
    drain(worker)
    assert len(standin.scheduled()) == 28
    assert store.outbox_stats(now=int(clock.now))[0] == 1  # the 10th sync waits for a slot


def test_a_reminder_slack_refuses_as_one_too_many_in_its_five_minutes_waits_and_the_others_are_scheduled(
    setup: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    """Thirty changes start and end together: Slack holds 30 messages to post in each of those five minutes in
    the channel. A 31st change starting then but ending later gets its end reminder; the two Slack refuses
    (``restricted_too_many``) wait, without holding its sync, and the sweep schedules them once a slot frees."""
    standin, store, service, worker, clock = setup
    for _batch in range(3):  # 90 reminders, 30 schedulings per 5 minutes (the app's own limit)
        for _ in range(10):
            service.approve(propose(service), actor="UA")
        drain(worker)
        clock.now += 300
    assert len(standin.scheduled()) == 90
    caplog.set_level(logging.INFO, logger="chatops.reminders")
    pid = propose(service, duration=timedelta(hours=2), title="longer")
    service.approve(pid, actor="UA")
    drain(worker)
    refused = [c for c in standin.calls_to("chat.scheduleMessage") if c.response.get("error")]
    assert [c.response["error"] for c in refused] == ["restricted_too_many"] * 2
    waiting = {r.kind: r.scheduled_message_id for r in store.reminders(pid)}
    assert waiting["before"] is None and waiting["start"] is None and waiting["end"]
    assert store.outbox_stats(now=int(clock.now))[0] == 0  # the sync is done: nothing waits behind it
    warned = [
        r for r in caplog.records if r.levelno == logging.WARNING and "restricted_too_many" in r.message
    ]
    assert len(warned) == 2
    # The sweep asks again every minute (refused again: said once, not again as a warning) ...
    clock.now += 60
    service.sweep()
    drain(worker)
    assert {r.kind for r in store.reminders(pid) if r.scheduled_message_id is None} == {"before", "start"}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    # ... and once one of the thirty is called off, its slots are theirs.
    service.cancel(1, actor="UP", reason="not needed")
    drain(worker)
    clock.now += 60
    assert service.sweep().scheduled == (pid,)
    drain(worker)
    assert all(r.scheduled_message_id for r in store.reminders(pid))
    assert len(standin.scheduled()) == 90  # 3 of the cancelled change's gone, 3 of the 31st's in


def test_while_slack_is_down_the_sweep_queues_one_sync_for_waiting_reminders_not_one_a_minute(
    setup: tuple,
) -> None:
    standin, store, service, worker, clock = setup
    pid = propose(service, start=T0 + timedelta(days=130), title="far")
    service.approve(pid, actor="UA")
    drain(worker)
    assert [r.scheduled_message_id for r in store.reminders(pid)] == [None, None, None]  # beyond 120 days
    clock.now += 20 * 86_400  # within range now
    standin.go_down()
    assert service.sweep().scheduled == (pid,)
    drain(worker)  # the sync fails and waits for its retry
    for _ in range(3):
        clock.now += 60
        assert service.sweep().scheduled == ()  # one is still to be delivered
    standin.come_back()
    clock.now += 300
    drain(worker)
    assert all(r.scheduled_message_id for r in store.reminders(pid)) and len(standin.scheduled()) == 3
    with store.engine.connect() as conn:
        syncs = conn.execute(outbox.select().where(outbox.c.kind == "sync_reminders")).all()
    assert len(syncs) == 2  # the approval's and the sweep's


def test_a_retried_sync_adopts_what_an_interrupted_attempt_scheduled(setup: tuple) -> None:
    standin, store, service, worker, clock = setup
    pid = propose(service)
    service.approve(pid, actor="UA")
    drain(worker)
    assert len(standin.scheduled()) == 3
    # As if the process died after Slack scheduled them and before their ids were stored: the sync runs again.
    for reminder in store.reminders(pid):
        store.drop_reminder(reminder.id)
    with store.transaction() as tx:
        tx.enqueue(pid, kind=OutboxKind.SYNC_REMINDERS, at=int(clock.now))
    with store.transaction() as tx:  # an earlier attempt took it
        tx._conn.execute(outbox.update().where(outbox.c.kind == "sync_reminders").values(attempts=1))
    drain(worker)
    assert len(standin.scheduled()) == 3  # adopted, not scheduled again
    assert sorted(r.scheduled_message_id or "" for r in store.reminders(pid)) == sorted(
        str(m["id"]) for m in standin.scheduled()
    )


def test_a_reminder_slack_says_is_past_is_not_retried_forever(setup: tuple) -> None:
    standin, store, service, worker, clock = setup
    standin.clock = lambda: clock.now + 2 * 86_400  # Slack's clock is two days ahead of ours
    pid = propose(service)  # starts in a day, by our clock
    service.approve(pid, actor="UA")
    drain(worker)
    answers = [c.response.get("error") for c in standin.calls_to("chat.scheduleMessage")]
    assert answers == ["time_in_past"] * 3
    assert standin.scheduled() == [] and store.reminders(pid) == []
    assert store.outbox_stats(now=int(clock.now))[0] == 0  # the sync is done, not waiting to try again


def test_a_changes_messages_cost_one_claim_and_the_last_marks_one(setup: tuple) -> None:
    """A proposal's parent and thread reply are claimed together, with the proposal, in one transaction; a
    parent reads its approvals in one more, a reply its event; the marks of both (the parent's with its new ts)
    go in the transaction of the next claim. Counted, so that a change that adds transactions to every delivery
    shows here."""
    standin, store, service, worker, _clock = setup
    propose(service)
    begun = [0]

    def on_begin(conn: object) -> None:
        begun[0] += 1

    event.listen(store.engine, "begin", on_begin)
    assert worker.run_once() == 2
    # the claim of both, the parent's approvals, the reply's event, both marks and a claim that finds nothing
    # (one claim a message before: 5).
    assert begun == [4]
    assert store.outbox_stats(now=int(_clock.now))[0] == 0  # both recorded as delivered
    assert len(standin.calls_to("chat.postMessage")) == 2
