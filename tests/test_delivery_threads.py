"""Several delivery threads: each proposal's messages still go out one after another, in order, once; a commit
wakes one idle thread at once; with no threads nothing is delivered here."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbs import fresh_url
from slack_sdk import WebClient
from slackfake.standin import Call, SlackStandIn
from test_delivery import CONFIG

from chatops.delivery import DeliveryWorker
from chatops.errors import UnavailableError
from chatops.service import ProposalRequest, Service
from chatops.store.sql import SqlStore

DELAY = 0.15  # every Slack call is answered this long after it arrives


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def service_for(store: SqlStore, worker: DeliveryWorker | None = None) -> Service:
    return Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA", "UB"}),
        on_enqueue=worker.wake if worker is not None else (lambda: None),
    )


def worker_for(store: SqlStore, standin: SlackStandIn, **kw: Any) -> DeliveryWorker:
    return DeliveryWorker(
        store=store,
        client=WebClient(token=standin.token, base_url=standin.url, timeout=10),
        give_up_after=3600,
        retry_cap=1,
        lease_seconds=60,
        **kw,
    )


def propose(service: Service, n: int) -> int:
    request = ProposalRequest(
        idempotency_key=None,
        proposer="UP",
        title=f"change {n}",
        start=datetime.now(UTC) + timedelta(days=1, hours=n),
        duration=timedelta(hours=1),
        input_tz="UTC",
    )
    return service.propose(request).proposal.id


def proposal_of(call: Call, parents: dict[str, int]) -> int:
    """The proposal a Slack call was about: a parent names it in its metadata; the rest name its parent."""
    if call.method == "chat.postMessage" and not call.params.get("thread_ts"):
        metadata = call.json("metadata")
        return int(metadata["event_payload"]["proposal_id"])
    return parents[str(call.params.get("thread_ts") or call.params.get("ts"))]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_several_threads_and_a_slow_slack_keep_each_proposals_order_and_send_nothing_twice(
    tmp_path: Path, standin: SlackStandIn, backend: str
) -> None:
    with fresh_url(backend, tmp_path) as url:
        store = SqlStore.open(url)
        try:
            service = service_for(store)
            changes = [propose(service, n) for n in range(6)]
            for pid in changes:
                service.approve(pid, actor="UA")
            standin.slow_next(None, 10_000, delay=DELAY)
            # Two workers of four threads each, as two serving processes (or instances) would run them.
            workers = [worker_for(store, standin, threads=4, poll_interval=0.05) for _ in range(2)]
            for worker in workers:
                worker.start()
            try:
                deadline = time.monotonic() + 60
                while store.outbox_stats(now=int(time.time()))[0] and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert store.outbox_stats(now=int(time.time()))[0] == 0
            finally:
                for worker in workers:
                    worker.stop()
        finally:
            store.close()

    calls = [c for c in standin.calls if c.method != "users.info"]
    parents = {
        c.response["ts"]: proposal_of(c, {})
        for c in calls
        if c.method == "chat.postMessage" and not c.params.get("thread_ts")
    }
    assert sorted(parents.values()) == changes  # one parent each, none twice
    by_change: dict[int, list[Call]] = {pid: [] for pid in changes}
    for call in calls:
        by_change[proposal_of(call, parents)].append(call)
    for pid, mine in by_change.items():
        # The order one thread delivers them in (tests/test_delivery.py): parent, "proposed", "approved", the
        # parent updated, three reminders; nothing looked up (no attempt was repeated).
        assert [c.method for c in mine] == [
            "chat.postMessage",
            "chat.postMessage",
            "chat.postMessage",
            "chat.update",
            *["chat.scheduleMessage"] * 3,
        ], pid
        texts = [str(c.params.get("text", "")) for c in mine[1:3]]
        assert "proposed" in texts[0].lower() and "approved" in texts[1].lower(), texts
        # One at a time: each call of a proposal arrived only after the previous one was answered.
        gaps = [b.at - a.at for a, b in itertools.pairwise(mine)]
        assert min(gaps) >= DELAY * 0.9, (pid, gaps)
    # ... while calls for different proposals were in flight together (the threads did work side by side).
    arrivals = sorted(c.at for c in calls)
    overlapping = sum(1 for a, b in itertools.pairwise(arrivals) if b - a < DELAY / 2)
    assert overlapping >= len(changes)


class CountingStore(SqlStore):
    claims = 0

    def claim_outbox(self, **kw: Any) -> Any:
        type(self).claims += 1
        return super().claim_outbox(**kw)


def test_a_commit_wakes_one_idle_thread_at_once(tmp_path: Path, standin: SlackStandIn) -> None:
    store = CountingStore.open(f"sqlite:///{tmp_path / 'w.db'}")
    # Thread 0 polls once a minute: only a wake can deliver within the test.
    worker = worker_for(store, standin, threads=3, poll_interval=60)
    worker.start()
    try:
        until = time.monotonic() + 5
        while worker._idling < 3 and time.monotonic() < until:
            time.sleep(0.01)
        assert worker._idling == 3
        before = CountingStore.claims
        worker.wake()  # nothing to deliver: one thread looks, the others sleep on
        until = time.monotonic() + 5
        while CountingStore.claims == before and time.monotonic() < until:
            time.sleep(0.01)
        time.sleep(0.3)
        assert CountingStore.claims == before + 1

        propose(service_for(store, worker), 0)
        standin.wait_for(
            "chat.postMessage", 2, timeout=5
        )  # the parent and its first reply, well before a poll
    finally:
        worker.stop()
        store.close()


def test_a_wake_while_no_thread_is_idle_is_kept_for_the_next_to_finish(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'b.db'}")
    worker = worker_for(store, standin, threads=1, poll_interval=60)
    try:
        worker.wake()  # committed while the one thread is busy (not started here: nobody is waiting)
        waiting = threading.Thread(target=worker._wait_for_work, args=(30,))
        waiting.start()  # the thread finishes its pass and would wait: it looks again instead
        waiting.join(5)
        assert not waiting.is_alive()
        assert worker._wakes == 0  # taken: the next wait waits
    finally:
        worker.stop()
        store.close()


def test_no_threads_deliver_nothing_here(tmp_path: Path, standin: SlackStandIn) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'n.db'}")
    worker = worker_for(store, standin, threads=0, poll_interval=0.01)
    worker.start()
    try:
        propose(service_for(store, worker), 0)
        time.sleep(0.3)
        assert not standin.calls_to("chat.postMessage")
        assert not worker._threads
        assert store.outbox_stats(now=int(time.time()))[0] > 0
    finally:
        worker.stop()
        store.close()


class BusyOnceStore(SqlStore):
    busy = 1

    def claim_outbox(self, **kw: Any) -> Any:
        if self.busy:
            self.busy -= 1
            raise UnavailableError("not recorded: the database did not answer in time")
        return super().claim_outbox(**kw)


def test_a_busy_database_is_a_warning_and_the_thread_goes_on(
    tmp_path: Path, standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    store = BusyOnceStore.open(f"sqlite:///{tmp_path / 'busy.db'}")
    worker = worker_for(store, standin, threads=1, poll_interval=0.05)
    try:
        propose(service_for(store, worker), 0)
        with caplog.at_level(logging.WARNING, logger="chatops.delivery"):
            worker.start()
            standin.wait_for("chat.postMessage", 2, timeout=10)  # delivered after all
    finally:
        worker.stop()
        store.close()
    busy = [r for r in caplog.records if "could not reach the database" in r.getMessage()]
    assert len(busy) == 1 and busy[0].levelno == logging.WARNING and busy[0].exc_info is None


def test_reminders_are_synced_by_one_thread_at_a_time_and_replies_go_past_them(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    slow = 0.3
    store = SqlStore.open(f"sqlite:///{tmp_path / 'r.db'}")
    worker = worker_for(store, standin, threads=2, poll_interval=0.05)
    service = service_for(store, worker)
    worker.start()
    try:
        changes = [propose(service, n) for n in range(4)]
        standin.wait_for("chat.postMessage", 2 * len(changes), timeout=10)  # parents and "proposed" replies
        standin.slow_next("chat.scheduleMessage", 10_000, delay=slow)
        for pid in changes:
            service.approve(
                pid, actor="UA"
            )  # each: its "approved" reply, the parent updated, a reminder sync
        scheduled = standin.wait_for("chat.scheduleMessage", 3 * len(changes), timeout=30)
    finally:
        worker.stop()
        store.close()
    # One sync at a time: each scheduling call arrived after the one before it was answered.
    arrivals = sorted(c.at for c in scheduled)
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= slow * 0.9
    # Meanwhile the other thread delivered every "approved" reply, not one held behind a sync: all arrived
    # before the first sync's last call (with every thread free to sync, two syncs took both threads first).
    approved = [
        c
        for c in standin.calls_to("chat.postMessage")
        if c.params.get("thread_ts") and "approved" in str(c.params.get("text", "")).lower()
    ]
    assert len(approved) == len(changes)
    assert max(c.at for c in approved) < arrivals[2]


def test_a_burst_of_approvals_schedules_no_more_than_slack_allows_in_the_channel(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'burst.db'}")
    worker = worker_for(store, standin, threads=4, poll_interval=0.05)
    service = service_for(store, worker)
    worker.start()
    try:
        changes = [propose(service, n) for n in range(12)]  # 36 reminders wanted, 30 allowed in 5 minutes
        for pid in changes:
            service.approve(pid, actor="UA")
        deadline = time.monotonic() + 30
        while (
            sum(1 for r in store.reminders() if r.scheduled_message_id) < 30 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.3)  # anything past the limit would be on its way by now
    finally:
        worker.stop()
        store.close()
    # Before syncs took turns, four threads each read the channel's count before the others had scheduled.
    assert len(standin.calls_to("chat.scheduleMessage")) == 30
