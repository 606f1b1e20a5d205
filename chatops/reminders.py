"""Reminders in a change's thread, scheduled in Slack with ``chat.scheduleMessage``.

The service queues a ``sync_reminders`` outbox message whenever a change's state or window changes (approved,
postponed, extended, done, rejected, cancelled, approvals expired, re-approval needed); the delivery worker then
calls :func:`sync`, which brings what Slack has scheduled in line with what the change should have:

- an approved change has three reminders in its thread: ``reminder_before_minutes`` before the start, at the
  start, and at the end (asking the proposer to mark it done or extend it); any other state has none;
- reminders no longer wanted (or wanted at another time) are deleted (``chat.deleteScheduledMessage``; one Slack
  already posted or forgot answers ``invalid_scheduled_message_id`` and counts as gone);
- a reminder more than 120 days ahead (Slack's limit) is stored as waiting, and the periodic sweep queues a sync
  when it comes within range; one whose moment has passed is not sent late;
- the app schedules at most 30 messages per 5 minutes per channel (its reading of Slack's limit): past that,
  the sync is deferred (the outbox retries it when a slot frees) rather than refused;
- Slack refuses a 31st message *to post* within 5 minutes in a channel (``restricted_too_many``): that reminder
  waits, like one beyond 120 days, and the sweep asks again every minute until it is scheduled or its moment
  has passed; the change's other reminders are scheduled meanwhile.

A sync is idempotent: run twice, it schedules nothing twice. Each scheduled message id is stored as soon as
Slack answers; a retried sync first looks in ``chat.scheduledMessages.list`` for what an interrupted attempt may
have scheduled, and adopts it.

Done and Extend are buttons on the parent message, not on the reminders: a scheduled message is posted by Slack
at its time and its ``ts`` is never returned to the app, so the app could not update it afterwards and its buttons
would stay live after the change was done or moved. The parent is re-rendered on every event, so its buttons
always match the change's state; the end reminder points at them.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatops.domain.reminders import (
    CHANNEL_PERIOD,
    Placement,
    ReminderKind,
    next_slot,
    placement,
    planned,
)
from chatops.slack import blocks
from chatops.store import ProposalRow, Store

logger = logging.getLogger(__name__)

FULL = "restricted_too_many"
"""What ``chat.scheduleMessage`` answers when 30 messages already post within 5 minutes of ``post_at`` in the
channel."""
GONE = ("invalid_scheduled_message_id",)
"""What ``chat.deleteScheduledMessage`` answers for a message already posted or deleted: nothing to do."""


class Deferred(Exception):
    """Slack's per-channel limit is reached: try again in ``delay`` seconds."""

    def __init__(self, delay: int) -> None:
        super().__init__(f"30 scheduled messages in 5 minutes in this channel; waiting {delay}s for a slot")
        self.delay = delay


def sync(
    store: Store,
    client: WebClient,
    row: ProposalRow,
    *,
    now: int,
    before_minutes: int,
    look_first: bool = False,
) -> None:
    """Schedule and delete the change's reminders so Slack holds exactly what its state calls for.
    ``look_first``: an earlier attempt may have scheduled some already (look in Slack before scheduling)."""
    desired = {
        r.kind.value: r.post_at
        for r in planned(
            status=row.status, start_ts=row.start_ts, end_ts=row.end_ts, before_minutes=before_minutes
        )
    }
    known = {r.kind: r for r in store.reminders(row.id)}
    for kind, reminder in known.items():
        if desired.get(kind) == reminder.post_at and reminder.channel == row.channel:
            continue
        if reminder.scheduled_message_id and reminder.post_at > now:
            _delete(client, reminder.channel, reminder.scheduled_message_id)
        store.drop_reminder(reminder.id)
        logger.info("reminder %s of proposal %s deleted", kind, row.id)

    # What this channel has scheduled in Slack's last period: read once (after the deletions above), then kept up
    # to date with what this sync schedules, instead of read again before every reminder.
    since = now - CHANNEL_PERIOD
    recent: list[int] | None = None

    def save(kind: str, post_at: int, scheduled_message_id: str | None, scheduled_at: int | None) -> None:
        if recent is not None and scheduled_at is not None and scheduled_at >= since:
            recent.append(scheduled_at)
        store.save_reminder(
            row.id,
            kind=kind,
            post_at=post_at,
            channel=row.channel,
            scheduled_message_id=scheduled_message_id,
            scheduled_at=scheduled_at,
        )

    existing: list[dict[str, Any]] | None = None
    for kind, post_at in desired.items():
        where = placement(post_at, at=now)
        kept = known.get(kind)
        if (
            kept is not None
            and kept.post_at == post_at
            and kept.channel == row.channel
            and (kept.scheduled_message_id or where is not Placement.NOW)
        ):
            continue
        if where is Placement.PASSED:
            continue
        if where is Placement.LATER:
            save(kind, post_at, None, None)  # waits for the sweep
            continue
        message = blocks.reminder_message(row, ReminderKind(kind))
        if look_first:
            if existing is None:
                existing = _scheduled_in(client, row.channel)
            found = next(
                (
                    m
                    for m in existing
                    if int(m.get("post_at", 0)) == post_at and m.get("text") == message["text"]
                ),
                None,
            )
            if found is not None:
                save(kind, post_at, str(found["id"]), int(found.get("date_created") or now))
                continue
        if recent is None:
            recent = store.scheduled_since(row.channel, since=since)
        slot = next_slot(recent, at=now)
        if slot > now:
            raise Deferred(slot - now)
        try:
            response = client.chat_scheduleMessage(
                channel=row.channel, post_at=post_at, thread_ts=row.message_ts, **message
            )
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if exc.response.status_code != 200 or error not in ("time_in_past", "time_too_far", FULL):
                raise
            if error == FULL:
                # Thirty messages already post within five minutes of this one in the channel (many changes
                # starting or ending together). It waits, as one beyond 120 days does: the sweep asks again
                # every minute while it can still be sent, and the change's other reminders and later thread
                # messages do not wait behind it.
                again = kept is not None and kept.post_at == post_at and kept.scheduled_message_id is None
                (logger.info if again else logger.warning)(  # said once, not at every sweep's try
                    "Slack refused reminder %s of proposal %s (%s: 30 messages already post within 5 minutes of "
                    "it in %s); asking again at the next sweep",
                    kind,
                    row.id,
                    FULL,
                    row.channel,
                )
                save(kind, post_at, None, None)
                continue
            # Slack's clock and ours disagree: a moment Slack says has passed is not sent late; one it says
            # is too far waits for the sweep, like any reminder beyond 120 days.
            logger.warning("Slack answered %s for reminder %s of proposal %s", error, kind, row.id)
            if error == "time_too_far":
                save(kind, post_at, None, None)
            continue
        save(kind, post_at, str(response["scheduled_message_id"]), now)
        logger.info("reminder %s of proposal %s scheduled for %s", kind, row.id, post_at)


def _delete(client: WebClient, channel: str, scheduled_message_id: str) -> None:
    try:
        client.chat_deleteScheduledMessage(channel=channel, scheduled_message_id=scheduled_message_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if exc.response.status_code == 200 and error in GONE:
            return
        raise


def _scheduled_in(client: WebClient, channel: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10):
        page = client.chat_scheduledMessages_list(channel=channel, limit=100, cursor=cursor)
        found.extend(page.get("scheduled_messages") or [])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            break
    return found
