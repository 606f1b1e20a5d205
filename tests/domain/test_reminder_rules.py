"""Which reminders an approved change gets, when Slack can take them, the per-channel limit, approval expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.domain.policy import Status
from chatops.domain.reminders import (
    CHANNEL_LIMIT,
    CHANNEL_PERIOD,
    SLACK_MAX_AHEAD,
    Placement,
    ReminderKind,
    approvals_expire_at,
    expired,
    next_slot,
    placement,
    planned,
)

START = 2_000_000_000
END = START + 3600
DAY = 86_400


def test_an_approved_change_gets_three_reminders_before_at_start_and_at_end() -> None:
    reminders = planned(status=Status.APPROVED, start_ts=START, end_ts=END, before_minutes=15)
    assert [(r.kind, r.post_at) for r in reminders] == [
        (ReminderKind.BEFORE, START - 900),
        (ReminderKind.START, START),
        (ReminderKind.END, END),
    ]


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.APPROVED], ids=lambda s: s.value)
def test_any_other_state_has_none(status: Status) -> None:
    assert planned(status=status, start_ts=START, end_ts=END, before_minutes=15) == ()


@pytest.mark.parametrize(
    ("post_at", "expected"),
    [
        (START - 1, Placement.PASSED),
        (START + 59, Placement.PASSED),  # too close: Slack may say time_in_past by the time it arrives
        (START + 60, Placement.NOW),
        (START + SLACK_MAX_AHEAD - 60, Placement.NOW),
        (START + SLACK_MAX_AHEAD, Placement.LATER),  # beyond Slack's 120 days: the sweep schedules it later
    ],
)
def test_placement(post_at: int, expected: Placement) -> None:
    assert placement(post_at, at=START) is expected


def test_the_31st_message_in_five_minutes_waits_for_the_first_to_age_out() -> None:
    sent = [START - 200 + i for i in range(CHANNEL_LIMIT)]
    assert next_slot(sent[:-1], at=START) == START
    assert next_slot(sent, at=START) == START - 200 + CHANNEL_PERIOD
    assert next_slot([START - CHANNEL_PERIOD] * CHANNEL_LIMIT, at=START) == START  # older ones do not count


@given(st.lists(st.integers(min_value=START - 1000, max_value=START), max_size=80))
def test_at_the_slot_given_there_is_room_for_one_more(sent: list[int]) -> None:
    slot = next_slot(sent, at=START)
    assert slot >= START
    assert len([t for t in sent if t > slot - CHANNEL_PERIOD]) < CHANNEL_LIMIT


def test_approvals_expire_when_the_oldest_is_too_old_before_the_start() -> None:
    assert approvals_expire_at([START - 40 * DAY, START - 5 * DAY], start_ts=START, max_age_days=30) == (
        START - 10 * DAY
    )
    assert approvals_expire_at([START - 20 * DAY], start_ts=START, max_age_days=30) is None  # young enough
    assert approvals_expire_at([START - 40 * DAY], start_ts=START, max_age_days=0) is None  # expiry off
    assert approvals_expire_at([], start_ts=START, max_age_days=30) is None


def test_expired_names_only_the_old_approvals() -> None:
    approved = [("UA", START - 31 * DAY), ("UB", START - DAY)]
    assert expired(approved, at=START, max_age_days=30) == ("UA",)
    assert expired(approved, at=START, max_age_days=0) == ()
