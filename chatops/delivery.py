"""The outbox worker: delivers thread replies and parent-message updates to Slack, in order, with retries.

Messages are written by the service in the same transaction as the state they describe, so nothing is lost when
Slack is down or the process dies; the worker leases them from the store (several workers, in one process or in
several instances, never send the same message at once), and sends each proposal's messages strictly in order.

Threads: a worker runs ``threads`` delivery threads, each claiming and sending one message at a time (a Slack call
takes 100-300 ms, so one thread alone delivers only a few a second). The claim never hands out a message while an
earlier one of the same proposal is undelivered, so order per proposal holds across threads, processes and
instances. A commit wakes one idle thread (:meth:`DeliveryWorker.wake`); a thread that found a message wakes one
more, so a backlog is shared out; thread 0 also polls (for messages that came due, or that another process wrote)
and runs the sweep.

Reminders: bringing a change's reminders in line (``sync_reminders``: up to three ``chat.scheduleMessage`` calls)
holds a thread three times as long as a reply, and is never what a person is waiting for. At most
``reminder_threads`` of a worker's threads (one by default) sync reminders at a time; the others leave those
messages for it, so a burst of approvals cannot take every thread while the thread replies people wait for queue
behind it. Syncing one at a time also keeps this worker's count of the channel's recently scheduled messages
(``chatops.reminders`` keeps to 30 per 5 minutes, its reading of Slack's limit) true while it schedules.

Retries: HTTP 429 waits for ``Retry-After``; 5xx, connection errors and timeouts back off exponentially up to
``retry_cap`` seconds; after ``give_up_after`` seconds a message is abandoned and the log says so loudly.

Exactly once, as far as Slack allows:

- One message per lease: the worker claims a message, sends it and marks it before claiming the next (the mark
  and the next claim share one transaction), so a lease (60 s) always covers the one Slack call in hand (10 s
  client timeout), however slow Slack is.
- Every message posted carries Slack message ``metadata`` (:func:`outbox_metadata`: the outbox message id, the
  change and the event). A message an earlier attempt took (it failed or its lease ran out: a crash or a slow
  Slack) may have reached Slack, so before posting it again the worker looks for it (``conversations.history``
  for a parent, ``conversations.replies`` for a thread reply) and adopts what it finds. A parent found twice
  keeps the oldest; the others are deleted, so no orphan keeps live buttons. If the lookup itself fails, the
  worker waits and tries again rather than post blindly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from chatops import reminders
from chatops.audit import EVENT_METADATA_TYPE
from chatops.domain.policy import Status
from chatops.domain.records import OutboxKind
from chatops.errors import UnavailableError
from chatops.observability import log_context
from chatops.slack import blocks
from chatops.store import EventRow, OutboxRow, Outcome, ProposalRow, Store

logger = logging.getLogger(__name__)

FOLLOW = 5
"""How many of a change's messages queued after a claimed one may go with it in the same claim: a proposal
queues its parent and a thread reply, an approval the parent's update, a reply and the reminders' sync."""


class DeliveryWorker:
    def __init__(
        self,
        *,
        store: Store,
        client: WebClient,
        give_up_after: int = 86_400,
        retry_cap: int = 300,
        lease_seconds: int = 60,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        mention: Sequence[str] = (),
        owners_of: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None,
        oncall_mention: Sequence[str] = (),
        reminder_before_minutes: int = 15,
        sweep: Callable[[], object] | None = None,
        sweep_interval: float = 60.0,
        threads: int = 1,
        reminder_threads: int = 1,
    ) -> None:
        """``mention``: approver users and groups to mention while a change waits for them; ``owners_of``: the
        owners of some services (from the regions file), named on a change that touches them.
        ``reminder_before_minutes``: when the first reminder of an approved window is posted (see
        :mod:`chatops.reminders`). ``sweep``: called every ``sweep_interval`` seconds by the running worker
        (the service's sweep: approval expiry, reminders coming within Slack's range, parent refreshes).
        ``threads``: how many delivery threads :meth:`start` runs, each sending one message at a time;
        ``reminder_threads``: how many of them may sync reminders at once."""
        self.store = store
        self.reminder_before_minutes = reminder_before_minutes
        self.sweeper = sweep
        self.sweep_interval = sweep_interval
        self._swept_at = 0.0
        self.mention = tuple(mention)
        self.owners_of = owners_of or (lambda names: ())
        self.oncall_mention = tuple(oncall_mention)
        """Whom to ask about an emergency (CHATOPS_ONCALL); the approvers when empty."""
        self.client = client
        self.give_up_after = give_up_after
        self.retry_cap = max(1, retry_cap)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self._clock = clock
        self.threads = max(0, threads)
        self._idle = threading.Condition()
        self._wakes = 0  # commits' wakes not yet taken by a thread (at most one per thread)
        self._handed = 0  # wakes from a thread that found work, not yet taken
        self._idling = 0  # threads waiting for work
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reminder_threads = max(1, reminder_threads)
        self._syncing = 0  # threads holding a turn to sync reminders
        self._turns = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after each committed change): one idle thread wakes;
        with none idle, the next thread to finish its pass looks again before it waits."""
        with self._idle:
            self._wakes = min(self._wakes + 1, max(1, self.threads))
            self._idle.notify()

    def start(self) -> None:
        """Start ``threads`` delivery threads (none when it is 0: another process delivers)."""
        if not self._threads:
            for index in range(self.threads):
                thread = threading.Thread(
                    target=self._run, args=(index,), name=f"chatops-delivery-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the messages in hand and stop; what is left stays in the outbox for the next start."""
        self._stop.set()
        with self._idle:
            self._idle.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            logger.warning("the delivery worker did not stop within %ss; its lease will run out", timeout)
        self._threads = []

    def _run(self, index: int) -> None:
        """One delivery thread. Thread 0 also runs the sweep and polls every ``poll_interval`` (for messages
        that come due, or that another process wrote); the others wait to be woken, by a commit (:meth:`wake`)
        or by a thread that found work it was not woken for (which wakes one more, so a backlog is shared out)."""
        spread = True  # a backlog may be waiting at start
        while not self._stop.is_set():
            due = time.monotonic() - self._swept_at >= self.sweep_interval
            if index == 0 and self.sweeper is not None and due:
                self._swept_at = time.monotonic()
                try:
                    self.sweeper()
                except Exception:
                    logger.exception("the sweep failed; trying again at the next one")
            try:
                handled = self.run_once(spread=spread)
            except UnavailableError as exc:  # a busy or unreachable database: nothing was claimed or marked
                logger.warning("the delivery worker could not reach the database (%s); retrying shortly", exc)
                handled = 0
            except Exception:
                logger.exception("the delivery worker failed; retrying shortly")
                handled = 0
            if not handled:
                spread = self._wait_for_work(self.poll_interval if index == 0 else None)

    def _wait_for_work(self, timeout: float | None) -> bool:
        """Wait until woken (or ``timeout``), unless a wake came since this thread last looked: a wake is
        counted, not a flag that a thread might clear after another thread's pass had already begun. True when
        what the next pass finds should be shared out (woken by a poll or by another thread's find, not by a
        commit, which wakes a thread of its own)."""
        with self._idle:
            if not (self._wakes or self._handed) and not self._stop.is_set():
                self._idling += 1
                try:
                    self._idle.wait(timeout)
                finally:
                    self._idling -= 1
            if self._wakes:
                self._wakes -= 1
                return False
            if self._handed:
                self._handed -= 1
            return True

    def _hand_on(self) -> None:
        """A thread found a message it was not woken for: wake one more idle thread, if one is idle and not
        already woken, to look for the next."""
        with self._idle:
            if self._idling > self._wakes + self._handed:
                self._handed += 1
                self._idle.notify()

    # -- one pass --------------------------------------------------------------------------------------------

    def run_once(self, batch: int = 20, *, spread: bool = False) -> int:
        """Deliver what is due now, up to about ``batch`` messages, each on its own lease; return how many were
        tried. ``spread``: wake another idle thread for each claim that found something (a backlog found by
        polling). A claim takes the oldest deliverable message and the ones queued after it for the same change
        that can go now (``FOLLOW``), delivered in order; once one of them is not delivered, the rest are given
        back untried. What became of them is recorded in the transaction that claims the next (one transaction
        a claim), the last ones' on their own."""
        tried = 0
        outcomes: list[Outcome] = []
        untried: list[OutboxRow] = []
        while tried < batch and not self._stop.is_set():
            now = int(self._clock())
            # Handed over to the claim: if that transaction fails, the messages stay leased and the next attempt
            # finds them in Slack (as after any lost mark); they are not written again here.
            pending, release = outcomes, untried
            outcomes, untried = [], []
            turn = self._take_sync_turn()
            try:
                claimed = self.store.claim_outbox(
                    now=now,
                    limit=1,
                    lease_seconds=self.lease_seconds,
                    first=pending or None,
                    release=release,
                    except_kind="" if turn else OutboxKind.SYNC_REMINDERS.value,
                    follow=FOLLOW,
                )
                if turn and not any(m.kind == OutboxKind.SYNC_REMINDERS for m in claimed):
                    self._end_sync_turn()  # not needed for these messages: given back at once
                    turn = False
                if not claimed:
                    break
                if spread:
                    self._hand_on()
                outcomes, untried = self._attempt_in_order(claimed)
            finally:
                if turn:
                    self._end_sync_turn()
            tried += len(claimed) - len(untried)
        if outcomes or untried:  # the batch is done or the worker stops: record the last ones on their own
            self.store.record(*outcomes, release=untried)
        return tried

    def _attempt_in_order(self, claimed: list[OutboxRow]) -> tuple[list[Outcome], list[OutboxRow]]:
        """Send claimed messages in order until one is not delivered or the worker stops; return what became of
        those tried and those left untried. A parent posted (or found) by one of a change's messages
        is the one its next messages thread under and update: its ts is stored only with the marks."""
        outcomes: list[Outcome] = []
        parents: dict[int, str] = {}
        for i, message in enumerate(claimed):
            if self._stop.is_set() and outcomes:
                return outcomes, claimed[i:]
            row = message.proposal
            if row is not None and not row.message_ts and message.proposal_id in parents:
                posted = row.model_copy(update={"message_ts": parents[message.proposal_id]})
                message = message.model_copy(update={"proposal": posted})
            with log_context(proposal_id=message.proposal_id):
                outcome = self._attempt(message)
            outcomes.append(outcome)
            if outcome.message_ts:
                parents[message.proposal_id] = outcome.message_ts
            if outcome.delivered_at is None:
                # To retry, or abandoned: what follows it waits for another claim.
                return outcomes, claimed[i + 1 :]
        return outcomes, []

    def _take_sync_turn(self) -> bool:
        """A turn to sync reminders, if fewer than ``reminder_threads`` threads hold one; taken before the claim
        so that two threads cannot both claim a sync past the limit."""
        with self._turns:
            if self._syncing >= self.reminder_threads:
                return False
            self._syncing += 1
            return True

    def _end_sync_turn(self) -> None:
        with self._turns:
            self._syncing -= 1

    def _attempt(self, message: OutboxRow) -> Outcome:
        """Send one message; return what became of it, for the caller to record."""
        try:
            parent_ts = self.deliver(message)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if status == 429:
                retry_after = _retry_after(exc.response.headers)
                return self._retry(
                    message, f"rate limited (429), retry after {retry_after}s", delay=retry_after
                )
            return self._retry(
                message, f"Slack answered {status} {error or ''}".strip(), log_error=status < 500
            )
        except (SlackClientError, OSError) as exc:
            return self._retry(message, f"{exc.__class__.__name__}: {exc}")
        except reminders.Deferred as exc:
            return Outcome(message_id=message.id, error=str(exc), retry_at=int(self._clock()) + exc.delay)
        except LookupError as exc:
            return self._retry(message, str(exc), log_error=True)
        return Outcome(message_id=message.id, delivered_at=int(self._clock()), message_ts=parent_ts)

    def _retry(
        self, message: OutboxRow, error: str, *, delay: int | None = None, log_error: bool = False
    ) -> Outcome:
        now = int(self._clock())
        if now - message.created_at >= self.give_up_after:
            logger.error(
                "gave up delivering outbox message %s (%s) of proposal %s after %s attempts over %ss: %s",
                message.id,
                message.kind,
                message.proposal_id,
                message.attempts + 1,
                now - message.created_at,
                error,
            )
            return Outcome(message_id=message.id, error=error, abandoned_at=now)
        backoff = delay if delay is not None else min(self.retry_cap, 2 ** min(message.attempts, 16))
        log = logger.error if log_error else logger.warning
        log(
            "delivery of outbox message %s of proposal %s failed (%s); retrying in %ss",
            message.id,
            message.proposal_id,
            error,
            backoff,
        )
        return Outcome(message_id=message.id, error=error, retry_at=now + max(1, backoff))

    def deliver(self, message: OutboxRow) -> str | None:
        """Send one message to Slack; raises on failure. Returns the ts of the parent message it posted or found
        (a ``post_parent``), for the caller to store with the delivery mark in one transaction: the message
        stays leased until then, and a retry after a crash in between finds the parent by its metadata."""
        row = message.proposal
        if row is None:
            row = self.store.get_proposal(message.proposal_id)
        if row is None:
            raise LookupError(
                f"outbox message {message.id} names proposal {message.proposal_id}, which is gone"
            )
        metadata = outbox_metadata(message)
        if message.kind == "post_parent":
            if row.message_ts:
                # Already stored (by hand, or by a version that stored it before the delivery mark).
                return None
            if message.claimed_before:
                found = self._find_parent(row.channel, message)
                if found is not None:
                    logger.info("outbox message %s was posted by an earlier attempt; adopting it", message.id)
                    return found
            response = self.client.chat_postMessage(
                channel=row.channel,
                unfurl_links=False,
                unfurl_media=False,
                metadata=metadata,
                **self._parent(row),
            )
            return str(response["ts"])
        if not row.message_ts:
            raise LookupError(f"proposal {row.id} has no parent message yet")
        if message.kind == "update_parent":
            self.client.chat_update(channel=row.channel, ts=row.message_ts, **self._parent(row))
        elif message.kind == "reply":
            if message.claimed_before and self._find_reply(row.channel, row.message_ts, message):
                logger.info("outbox message %s was posted by an earlier attempt; not again", message.id)
                return None
            event = self._event_of(message)
            self.client.chat_postMessage(
                channel=row.channel,
                thread_ts=row.message_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata=outbox_metadata(message, event),
                **blocks.thread_reply(row, event),
            )
        elif message.kind == "notify":
            mention = self._mention_for(row)
            if mention and row.status.is_open:
                if message.claimed_before and self._find_reply(row.channel, row.message_ts, message):
                    return None
                self.client.chat_postMessage(
                    channel=row.channel,
                    thread_ts=row.message_ts,
                    metadata=metadata,
                    **blocks.approver_ping(row, mention, why=str(message.payload.get("why", ""))),
                )
        elif message.kind == "sync_reminders":
            reminders.sync(
                self.store,
                self.client,
                row,
                now=int(self._clock()),
                before_minutes=self.reminder_before_minutes,
                look_first=message.claimed_before,
            )
        else:
            raise LookupError(f"outbox message {message.id} has an unknown kind {message.kind!r}")
        return None

    def _parent(self, row: ProposalRow) -> dict[str, Any]:
        """The parent message for the proposal's state: approvers asked while pending, who closed it and why."""
        closing: EventRow | None = None
        with self.store.reading():  # its reads in one transaction
            if row.status in (Status.REJECTED, Status.CANCELLED, Status.DONE):
                kind = "completed" if row.status is Status.DONE else row.status.value
                closing = next((e for e in reversed(self.store.events(row.id)) if e.kind == kind), None)
            approvals = self.store.approvers(row.id, round=row.round)
            conflicts = self._conflicts(row)
        return blocks.proposal_message(
            row,
            approvals,
            mention=self._mention_for(row),
            closing=closing,
            conflicts=conflicts,
            owners=self.owners_of(row.services),
            at=int(self._clock()),
        )

    def _mention_for(self, row: ProposalRow) -> tuple[str, ...]:
        return self.oncall_mention if row.emergency and self.oncall_mention else self.mention

    def _conflicts(self, row: ProposalRow) -> list[ProposalRow]:
        """Other open changes overlapping this one on a service, while it is open and not ended."""
        holding = (Status.PENDING, Status.NEEDS_REAPPROVAL, Status.APPROVED)
        if not row.services or row.status not in holding or row.end_ts <= int(self._clock()):
            return []
        return self.store.overlapping(
            start_ts=row.start_ts, end_ts=row.end_ts, services=row.services, statuses=holding, exclude=row.id
        )

    def _event_of(self, message: OutboxRow) -> EventRow:
        """The audit event a reply is about: the outbox names it (older rows carried a copy of it)."""
        if "event_id" in message.payload:
            event = self.store.event(int(message.payload["event_id"]))
            if event is None:
                raise LookupError(
                    f"outbox message {message.id} names event {message.payload['event_id']}, gone"
                )
            return event
        return EventRow.model_validate({"gseq": 0, **message.payload["event"]})

    # -- looking for what an earlier attempt may have posted ------------------------------------------------

    def _find_parent(self, channel: str, message: OutboxRow) -> str | None:
        """The ts of the parent an earlier attempt posted for ``message`` (the oldest, if several: the others
        are deleted), or None. Raises if Slack cannot be asked."""
        # Newest first, and a parent is posted soon after its outbox row: the first page usually has it.
        # (No ``oldest`` bound: this host's clock and Slack's need not agree.)
        pages = self._pages(message, self.client.conversations_history, channel=channel)
        found: list[str] = [m["ts"] for page in pages for m in page if _is_ours(m, message)]
        if not found:
            return None
        keep, *orphans = sorted(found, key=float)
        for ts in orphans:
            logger.warning("deleting a duplicate parent message %s of proposal %s", ts, message.proposal_id)
            self.client.chat_delete(channel=channel, ts=ts)
        return keep

    def _find_reply(self, channel: str, thread_ts: str, message: OutboxRow) -> bool:
        pages = self._pages(message, self.client.conversations_replies, channel=channel, ts=thread_ts)
        return any(_is_ours(m, message) for page in pages for m in page)

    def _pages(self, message: OutboxRow, method: Callable[..., Any], **params: Any) -> Iterator[list[Any]]:
        """The messages of ``method`` (conversations.history or .replies), a page at a time, at most
        LOOKUP_PAGES pages. A lookup may not eat the lease it runs under: past half of it, it gives up (raises)
        and the message is tried again later."""
        cursor = None
        deadline = time.monotonic() + self.lease_seconds / 2
        for _ in range(LOOKUP_PAGES):
            if time.monotonic() > deadline:
                raise LookupError(
                    f"looking for outbox message {message.id} in Slack took too long; trying later"
                )
            page = method(include_all_metadata=True, limit=200, cursor=cursor, **params)
            yield page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return


LOOKUP_PAGES = 10  # at most 2,000 messages are read back looking for an earlier attempt
METADATA_EVENT_TYPE = "chatops_outbox"


def outbox_metadata(message: OutboxRow, event: EventRow | None = None) -> dict[str, Any]:
    """The Slack message metadata posted with an outbox message, read back to recognise a message an earlier
    attempt posted: a thread reply carries its audit event's (:func:`event_metadata`) with the outbox message id
    added; a parent or a notice says which outbox message of which change it is."""
    if event is not None:
        metadata = event_metadata(event)
        metadata["event_payload"]["outbox_id"] = message.id
        return metadata
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {
            "outbox_id": message.id,
            "proposal_id": message.proposal_id,
            "kind": message.kind.value,
        },
    }


def _is_ours(found: Any, message: OutboxRow) -> bool:
    metadata = found.get("metadata") if isinstance(found, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") not in (
        METADATA_EVENT_TYPE,
        EVENT_METADATA_TYPE,
    ):
        return False
    payload = metadata.get("event_payload")
    return (
        isinstance(payload, dict)
        and payload.get("outbox_id") == message.id
        and payload.get("proposal_id") == message.proposal_id
    )


def event_metadata(event: EventRow) -> dict[str, Any]:
    """Slack message metadata carried by a thread reply: which audit event it tells, and that event's hash, so
    ``chatops audit verify --slack`` can compare the database with what Slack holds."""
    return {
        "event_type": EVENT_METADATA_TYPE,
        "event_payload": {
            "proposal_id": event.proposal_id,
            "seq": event.seq,
            "gseq": event.gseq,
            "kind": event.kind,
            "hash": event.hash,
        },
    }


def _retry_after(headers: Any) -> int:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(1, int(float(raw)))
            except ValueError:
                break
    return 1
