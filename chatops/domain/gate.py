"""May a change run now? The answer a deploy pipeline asks for, and the window's state in plain words.

Pure: the instant is an argument. ``chatops gate`` and ``GET /api/v1/changes/CHG-12/gate`` are thin shells over
:func:`gate`; the proposal message and ``/maintenance list`` use :func:`window_state_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

from chatops.domain.policy import Status


class GateState(StrEnum):
    OPEN = "open"
    """Approved, and the window is open at that instant: go."""
    NOT_YET_OPEN = "not_yet_open"
    """Approved, but the window has not started."""
    CLOSED = "closed"
    """Approved, but the window has ended."""
    NOT_APPROVED = "not_approved"
    """Pending, rejected, cancelled or anything else but approved: never go, whatever the time."""


class GateExit(IntEnum):
    """The exit statuses of ``chatops gate`` (2 is bad input, as everywhere in the CLI)."""

    GO = 0
    OUTSIDE_WINDOW = 1
    BAD_INPUT = 2
    NOT_APPROVED = 3


@dataclass(frozen=True)
class GateAnswer:
    change: int
    state: GateState
    status: str
    start_ts: int
    end_ts: int
    at: int

    @property
    def exit_status(self) -> GateExit:
        if self.state is GateState.OPEN:
            return GateExit.GO
        if self.state is GateState.NOT_APPROVED:
            return GateExit.NOT_APPROVED
        return GateExit.OUTSIDE_WINDOW

    @property
    def seconds_to_open(self) -> int:
        """Seconds until the window opens (0 once it has opened)."""
        return max(0, self.start_ts - self.at)

    @property
    def seconds_to_close(self) -> int:
        """Seconds until the window closes (0 once it has closed)."""
        return max(0, self.end_ts - self.at)

    def document(self) -> dict[str, object]:
        """The JSON answer of ``chatops gate --json`` and of the HTTP gate (times in UTC, ISO 8601)."""
        return {
            "change": f"CHG-{self.change}",
            "go": self.state is GateState.OPEN,
            "state": self.state.value,
            "status": self.status,
            "exit_status": int(self.exit_status),
            "at": _iso(self.at),
            "window": {"start": _iso(self.start_ts), "end": _iso(self.end_ts)},
            "seconds_to_open": self.seconds_to_open,
            "seconds_to_close": self.seconds_to_close,
            "summary": self.summary,
        }

    @property
    def summary(self) -> str:
        """One line for a person reading a pipeline's log."""
        ref = f"CHG-{self.change}"
        window = window_state_text(self.start_ts, self.end_ts, at=self.at)
        if self.state is GateState.OPEN:
            return f"{ref} is approved and its window is {window}: go"
        if self.state is GateState.NOT_APPROVED:
            return f"{ref} is {self.status.replace('_', ' ')}, not approved: do not start (window {window})"
        return f"{ref} is approved but its window {window}: do not start now"


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def gate(*, change: int, status: Status | str, start_ts: int, end_ts: int, at: int) -> GateAnswer:
    """Whether change ``change`` may run at ``at``: approved, and ``start_ts <= at < end_ts``."""
    status_value = status.value if isinstance(status, Status) else str(status)
    if status_value != Status.APPROVED.value:
        state = GateState.NOT_APPROVED
    elif at < start_ts:
        state = GateState.NOT_YET_OPEN
    elif at < end_ts:
        state = GateState.OPEN
    else:
        state = GateState.CLOSED
    return GateAnswer(
        change=change, state=state, status=status_value, start_ts=start_ts, end_ts=end_ts, at=at
    )


def span_text(seconds: int) -> str:
    """A length of time in plain words, rounded to what a person needs: "45 s", "20 min", "3 h 10 min",
    "2 days 4 h"."""
    seconds = max(0, seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = (seconds + 59) // 60 if seconds < 3600 else seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes and hours < 10 else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours and days < 7 else f"{days} {unit}"


def window_state_text(start_ts: int, end_ts: int, *, at: int) -> str:
    """ "opens in 3 h", "open, closes in 20 min", "ended 2 days ago" — the window's state at ``at``."""
    if at < start_ts:
        return f"opens in {span_text(start_ts - at)}"
    if at < end_ts:
        return f"open, closes in {span_text(end_ts - at)}"
    return f"ended {span_text(at - end_ts)} ago"
