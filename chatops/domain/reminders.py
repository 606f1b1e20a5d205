"""After approval: which reminders a change's thread gets and when, Slack's scheduling limits, and when
approvals expire. Pure: every function takes the present as an argument.

Times are POSIX seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from chatops.domain.policy import Status

SLACK_MAX_AHEAD = 120 * 86_400
"""``chat.scheduleMessage`` refuses a ``post_at`` more than 120 days ahead (``time_too_far``)."""
SCHEDULE_MARGIN = 60
"""A reminder due sooner than this is not scheduled (Slack may answer ``time_in_past`` by the time it arrives)."""
CHANNEL_LIMIT = 30
CHANNEL_PERIOD = 300
"""The app schedules at most 30 messages per 5 minutes per channel: one reading of Slack's limit. The other, at
most 30 messages *to post* within 5 minutes in a channel, Slack enforces (``restricted_too_many``), and
:mod:`chatops.reminders` lets a reminder it refuses wait."""


class ReminderKind(StrEnum):
    BEFORE = "before"
    """Some minutes before the start (``reminder_before_minutes``)."""
    START = "start"
    END = "end"
    """At the end: asks the proposer to mark the change done or extend it."""


class Reminder(BaseModel):
    """A reminder a change should have: what and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReminderKind
    post_at: int


def planned(*, status: Status, start_ts: int, end_ts: int, before_minutes: int) -> tuple[Reminder, ...]:
    """The reminders a change in ``status`` should have: three for an approved change, none otherwise. A
    reminder before the start that would fall before the window was approved is still planned; whether it
    can be scheduled is :func:`placement`'s question."""
    if status is not Status.APPROVED:
        return ()
    return (
        Reminder(kind=ReminderKind.BEFORE, post_at=start_ts - before_minutes * 60),
        Reminder(kind=ReminderKind.START, post_at=start_ts),
        Reminder(kind=ReminderKind.END, post_at=end_ts),
    )


class Placement(StrEnum):
    NOW = "now"
    """Schedule it now."""
    LATER = "later"
    """Beyond Slack's 120 days: schedule it when it comes within range (the sweep does)."""
    PASSED = "passed"
    """Too late to schedule: its moment has come or is about to."""


def placement(post_at: int, *, at: int) -> Placement:
    if post_at < at + SCHEDULE_MARGIN:
        return Placement.PASSED
    if post_at > at + SLACK_MAX_AHEAD - SCHEDULE_MARGIN:
        return Placement.LATER
    return Placement.NOW


def next_slot(
    sent: Sequence[int], *, at: int, limit: int = CHANNEL_LIMIT, period: int = CHANNEL_PERIOD
) -> int:
    """The earliest instant (``at`` or later) at which one more message may be scheduled in a channel that
    had messages scheduled at ``sent`` (POSIX seconds), keeping to ``limit`` per ``period``."""
    recent = sorted(t for t in sent if t > at - period)
    if len(recent) < limit:
        return at
    return recent[len(recent) - limit] + period


def approvals_expire_at(approved_at: Sequence[int], *, start_ts: int, max_age_days: float) -> int | None:
    """When the first of these approvals gets older than ``max_age_days`` before the window starts, or None
    (no approvals, expiry off, or every approval is young enough at the start)."""
    if not approved_at or max_age_days <= 0:
        return None
    expires = min(approved_at) + int(max_age_days * 86_400)
    return expires if expires < start_ts else None


def expired(approved: Sequence[tuple[str, int]], *, at: int, max_age_days: float) -> tuple[str, ...]:
    """Who of ``(approver, approved_at)`` has an approval older than ``max_age_days`` at ``at``."""
    if max_age_days <= 0:
        return ()
    limit = int(max_age_days * 86_400)
    return tuple(who for who, when in approved if at - when >= limit)
