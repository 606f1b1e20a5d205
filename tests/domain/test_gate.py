"""The gate a pipeline asks: approved and inside the window, at the instant given (never a clock)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.domain.gate import GateExit, GateState, gate, span_text, window_state_text
from chatops.domain.policy import Status

START, END = 1_800_000_000, 1_800_003_600  # a one-hour window


@pytest.mark.parametrize(
    ("status", "at", "state", "exit_status"),
    [
        (Status.APPROVED, START - 1, GateState.NOT_YET_OPEN, GateExit.OUTSIDE_WINDOW),
        (Status.APPROVED, START, GateState.OPEN, GateExit.GO),
        (Status.APPROVED, END - 1, GateState.OPEN, GateExit.GO),
        (Status.APPROVED, END, GateState.CLOSED, GateExit.OUTSIDE_WINDOW),
        (Status.PENDING, START + 60, GateState.NOT_APPROVED, GateExit.NOT_APPROVED),
        (Status.REJECTED, START + 60, GateState.NOT_APPROVED, GateExit.NOT_APPROVED),
        (Status.CANCELLED, START - 60, GateState.NOT_APPROVED, GateExit.NOT_APPROVED),
        ("needs_reapproval", START + 60, GateState.NOT_APPROVED, GateExit.NOT_APPROVED),
    ],
)
def test_go_only_when_approved_and_inside_the_half_open_window(
    status: Status | str, at: int, state: GateState, exit_status: GateExit
) -> None:
    answer = gate(change=12, status=status, start_ts=START, end_ts=END, at=at)
    assert answer.state is state
    assert answer.exit_status is exit_status


def test_seconds_to_open_and_close_count_down_and_stop_at_zero() -> None:
    before = gate(change=1, status=Status.APPROVED, start_ts=START, end_ts=END, at=START - 90)
    assert (before.seconds_to_open, before.seconds_to_close) == (90, 3690)
    during = gate(change=1, status=Status.APPROVED, start_ts=START, end_ts=END, at=START + 600)
    assert (during.seconds_to_open, during.seconds_to_close) == (0, 3000)
    after = gate(change=1, status=Status.APPROVED, start_ts=START, end_ts=END, at=END + 5)
    assert (after.seconds_to_open, after.seconds_to_close) == (0, 0)


@pytest.mark.parametrize(
    ("status", "at", "expected"),
    [
        (Status.APPROVED, START + 2400, "CHG-7 is approved and its window is open, closes in 20 min: go"),
        (
            Status.APPROVED,
            START - 3 * 3600,
            "CHG-7 is approved but its window opens in 3 h: do not start now",
        ),
        (Status.APPROVED, END + 7200, "CHG-7 is approved but its window ended 2 h ago: do not start now"),
        (
            Status.PENDING,
            START + 60,
            "CHG-7 is pending, not approved: do not start (window open, closes in 59 min)",
        ),
    ],
)
def test_the_summary_reads_as_one_plain_line(status: Status, at: int, expected: str) -> None:
    assert gate(change=7, status=status, start_ts=START, end_ts=END, at=at).summary == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (60, "1 min"),
        (61, "2 min"),  # under an hour, a started minute counts: "closes in 2 min" is never late
        (20 * 60, "20 min"),
        (3599, "1 h"),
        (3 * 3600, "3 h"),
        (3 * 3600 + 10 * 60, "3 h 10 min"),
        (11 * 3600 + 10 * 60, "11 h"),
        (86_400, "1 day"),
        (2 * 86_400 + 4 * 3600, "2 days 4 h"),
        (9 * 86_400 + 4 * 3600, "9 days"),
    ],
)
def test_spans_in_plain_words(seconds: int, text: str) -> None:
    assert span_text(seconds) == text


@given(start=st.integers(0, 2**40), length=st.integers(1, 30 * 86_400), offset=st.integers(-(2**31), 2**31))
def test_the_state_text_agrees_with_the_gate(start: int, length: int, offset: int) -> None:
    at = start + offset
    answer = gate(change=1, status=Status.APPROVED, start_ts=start, end_ts=start + length, at=at)
    text = window_state_text(start, start + length, at=at)
    prefix = {
        GateState.NOT_YET_OPEN: "opens in ",
        GateState.OPEN: "open, closes in ",
        GateState.CLOSED: "ended ",
    }
    assert text.startswith(prefix[answer.state])
