"""Exactly once, as far as Slack allows (issue cases 2 and 3): a slow Slack or a crash in the middle of a Slack
call never doubles a message or leaves an orphan parent with live buttons."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slackfake.standin import SlackStandIn
from test_delivery import CONFIG, Clock, drain, propose

from chatops.delivery import METADATA_EVENT_TYPE, DeliveryWorker, outbox_metadata
from chatops.errors import UnavailableError
from chatops.service import Service
from chatops.slack.http import PooledWebClient
from chatops.store import OutboxRow
from chatops.store.sql import SqlStore


def service_for(store: SqlStore, clock: Clock) -> Service:
    from datetime import UTC, datetime

    return Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA", "UB"}),
        clock=lambda: datetime.fromtimestamp(clock.now, UTC),
    )


def worker_for(
    store: SqlStore, standin: SlackStandIn, clock: Clock, timeout: float = 5, **kw: object
) -> DeliveryWorker:
    return DeliveryWorker(
        store=store,
        # The client the app gives its worker: kept-alive connections, slack_sdk's default retry handlers.
        client=PooledWebClient(token=standin.token, base_url=standin.url, timeout=timeout),
        give_up_after=3600,
        retry_cap=1,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'chatops.db'}")
    yield store
    store.close()


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def an_attempt_that_died(store: SqlStore, clock: Clock) -> None:
    """Propose a change whose parent an attempt claimed and never finished, and let that attempt's lease run out."""
    propose(service_for(store, clock))
    store.claim_outbox(now=int(clock.now), limit=1)
    clock.now += 120


def top_level(standin: SlackStandIn) -> list:
    return [m for m in standin.messages("C1").values() if m.thread_ts is None]


def test_every_post_carries_metadata_naming_the_outbox_message_and_the_event(
    store: SqlStore, standin: SlackStandIn
) -> None:
    clock = Clock()
    pid = propose(service_for(store, clock))
    drain(worker_for(store, standin, clock))
    posts = standin.calls_to("chat.postMessage")
    assert len(posts) == 2
    parent, reply = (p.json("metadata") for p in posts)
    assert parent["event_type"] == METADATA_EVENT_TYPE
    assert parent["event_payload"]["kind"] == "post_parent"
    # A reply carries its audit event's metadata (kind, sequence, hash) and the outbox message id.
    assert reply["event_type"] == "chatops_audit_event"
    assert reply["event_payload"]["kind"] == "proposed" and reply["event_payload"]["seq"] == 1
    for metadata in (parent, reply):
        assert metadata["event_payload"]["proposal_id"] == pid
        assert isinstance(metadata["event_payload"]["outbox_id"], int)


def test_outbox_metadata_is_one_small_flat_dict() -> None:
    row = OutboxRow(
        id=7,
        proposal_id=3,
        kind="post_parent",
        payload={},
        created_at=0,
        attempts=0,
        next_attempt_at=0,
        delivered_at=None,
        last_error=None,
    )
    assert outbox_metadata(row) == {
        "event_type": "chatops_outbox",
        "event_payload": {"outbox_id": 7, "proposal_id": 3, "kind": "post_parent"},
    }


def test_a_parent_posted_by_an_attempt_that_never_heard_back_is_adopted_not_posted_again(
    store: SqlStore, standin: SlackStandIn
) -> None:
    """The first attempt's chat.postMessage reaches Slack but its answer never comes back (the client gives up;
    it could as well have died): the retry finds the parent by its metadata and keeps it."""
    clock = Clock()
    service = service_for(store, clock)
    pid = propose(service)
    standin.slow_next("chat.postMessage", 1, delay=2.0)
    impatient = worker_for(store, standin, clock, timeout=0.5)
    impatient.run_once(batch=1)  # times out: the parent exists in Slack, the app does not know it
    assert len(top_level(standin)) == 1
    clock.now += 5
    drain(worker_for(store, standin, clock))
    assert len(top_level(standin)) == 1  # adopted, not posted again
    row = store.get_proposal(pid)
    assert row is not None and row.message_ts == top_level(standin)[0].ts
    assert len(standin.thread("C1", row.message_ts)) == 1  # the "proposed" reply, under it
    assert standin.calls_to("conversations.history")


@pytest.mark.parametrize("kind", ["post_parent", "reply"])
def test_a_post_whose_answer_was_lost_with_the_connection_is_adopted_not_posted_again(
    store: SqlStore, standin: SlackStandIn, kind: str
) -> None:
    """Slack posts the message, then the connection resets before the answer. The client does not send it again
    (slack_sdk's connection-error handler would have); the worker records a failure, and its next attempt finds
    the message by its metadata."""
    clock = Clock()
    service = service_for(store, clock)
    pid = propose(service)
    worker = worker_for(store, standin, clock)
    if kind == "reply":
        drain(worker)
        service.approve(pid, actor="UA")
    standin.hang_up_next("chat.postMessage")
    worker.run_once(batch=1)
    assert len(standin.calls_to("chat.postMessage")) == (1 if kind == "post_parent" else 3)
    clock.now += 5
    drain(worker)
    row = store.get_proposal(pid)
    assert row is not None and row.message_ts
    assert [m.ts for m in top_level(standin)] == [row.message_ts]
    texts = [m.text or "" for m in standin.thread("C1", row.message_ts)]
    assert len(texts) == (1 if kind == "post_parent" else 2)
    assert standin.calls_to("conversations.history" if kind == "post_parent" else "conversations.replies")


def test_a_reply_posted_by_an_attempt_that_never_heard_back_is_not_posted_again(
    store: SqlStore, standin: SlackStandIn
) -> None:
    clock = Clock()
    service = service_for(store, clock)
    pid = propose(service)
    drain(worker_for(store, standin, clock))
    service.approve(pid, actor="UA")
    standin.slow_next("chat.postMessage", 1, delay=2.0)
    impatient = worker_for(store, standin, clock, timeout=0.5)
    impatient.run_once(batch=1)
    clock.now += 5
    drain(worker_for(store, standin, clock))
    row = store.get_proposal(pid)
    assert row is not None and row.message_ts
    texts = [m.text or "" for m in standin.thread("C1", row.message_ts)]
    assert len(texts) == 2 and "approved" in texts[1]
    assert standin.calls_to("conversations.replies")


def test_a_parent_posted_whose_delivery_mark_failed_is_adopted_not_posted_again(
    store: SqlStore, standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's ts is stored with the delivery mark, in one transaction: when that transaction fails, neither
    is stored, the message stays leased, and the next attempt finds the parent in Slack and adopts it."""
    clock = Clock()
    pid = propose(service_for(store, clock))
    record, claim = store.record, store.claim_outbox

    def database_gone(*args: object, **kw: object) -> None:
        raise UnavailableError("the database did not answer")

    def claim_then_gone(**kw: Any) -> Any:  # the claim works; recording with the next claim does not
        if kw.get("first") is not None:
            database_gone()
        return claim(**kw)

    monkeypatch.setattr(store, "record", database_gone)
    monkeypatch.setattr(store, "claim_outbox", claim_then_gone)
    with pytest.raises(UnavailableError):
        worker_for(store, standin, clock).run_once(batch=5)
    [posted] = top_level(standin)
    row = store.get_proposal(pid)
    assert row is not None and row.message_ts is None
    monkeypatch.setattr(store, "record", record)
    monkeypatch.setattr(store, "claim_outbox", claim)
    clock.now += 120  # the lease runs out
    drain(worker_for(store, standin, clock))
    assert [m.ts for m in top_level(standin)] == [posted.ts]
    row = store.get_proposal(pid)
    assert row is not None and row.message_ts == posted.ts
    assert standin.calls_to("conversations.history")
    assert len(standin.thread("C1", posted.ts)) == 1


def test_duplicate_parents_found_later_are_deleted_and_the_oldest_kept(
    store: SqlStore, standin: SlackStandIn
) -> None:
    """Two attempts both reached Slack (say, a lookup Slack answered before its index caught up): the next
    attempt keeps the oldest parent and deletes the orphan, so no second message keeps live buttons."""
    clock = Clock()
    pid = propose(service_for(store, clock))
    [message] = store.claim_outbox(now=int(clock.now), limit=1)
    client = WebClient(token=standin.token, base_url=standin.url)
    for _ in range(2):
        client.chat_postMessage(channel="C1", text="CHG", metadata=outbox_metadata(message))
    clock.now += 120  # the lease ran out: the message was claimed before
    drain(worker_for(store, standin, clock))
    [kept] = top_level(standin)
    assert len(standin.calls_to("chat.delete")) == 1
    row = store.get_proposal(pid)
    assert row is not None and row.message_ts == kept.ts


def test_a_lookup_that_fails_waits_rather_than_posting_blindly(
    store: SqlStore, standin: SlackStandIn
) -> None:
    clock = Clock()
    an_attempt_that_died(store, clock)
    standin.fail_next("conversations.history", 1, status=500)
    worker = worker_for(store, standin, clock)
    worker.run_once(batch=1)
    assert standin.calls_to("chat.postMessage") == []
    clock.now += 5
    drain(worker)
    assert len(top_level(standin)) == 1


def test_two_workers_with_a_slow_slack_send_nothing_twice(store: SqlStore, standin: SlackStandIn) -> None:
    """Case 3: Slack takes longer than a lease to get through a batch. Each message is claimed on its own lease
    (and looked for if an earlier lease ran out), so two workers never send the same message."""
    clock = Clock()
    clock.now = time.time()
    service = service_for(store, clock)
    for _ in range(6):
        propose(service)
    standin.slow_next(None, 10_000, delay=0.4)  # 6 parents take 2.4 s: longer than a lease
    workers = [
        DeliveryWorker(
            store=store,
            client=WebClient(token=standin.token, base_url=standin.url, timeout=5),
            lease_seconds=2,
            clock=time.time,
        )
        for _ in range(2)
    ]
    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    posts = standin.calls_to("chat.postMessage")
    assert len(posts) == 12  # 6 parents and 6 "proposed" replies, each once
    assert len(top_level(standin)) == 6
    ids = [p.json("metadata")["event_payload"]["outbox_id"] for p in posts]
    assert len(set(ids)) == len(ids)


def test_a_lookup_never_outlasts_half_the_lease(store: SqlStore, standin: SlackStandIn) -> None:
    clock = Clock()
    an_attempt_that_died(store, clock)
    hasty = worker_for(store, standin, clock, lease_seconds=0)  # no time at all to look
    hasty.run_once(batch=1)
    assert standin.calls_to("chat.postMessage") == []  # not posted blindly either
    assert standin.calls_to("conversations.history") == []
    clock.now += 5
    drain(worker_for(store, standin, clock))
    assert len(top_level(standin)) == 1
