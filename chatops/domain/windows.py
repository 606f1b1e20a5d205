"""Reading what people type: durations, dates and times in a zone, with DST gaps and folds refused clearly."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chatops.domain import timeline
from chatops.domain.models import zone_of
from chatops.errors import AmbiguousTimeError, NonexistentTimeError, TimeInputError

_DURATION_RE = re.compile(
    r"^(?:(?P<d>\d{1,4})\s*d)?\s*(?:(?P<h>\d{1,5})\s*h)?\s*(?:(?P<m>\d{1,6})\s*m(?:in)?)?$"
)
DURATION_HELP = "write it like 90m, 1h, 1h30m or 2d"

MIN_YEAR, MAX_YEAR = 1000, 9000
"""Years a start may have: far enough from datetime's limits (1 and 9999) for any zone's offset, the longest
window and the suggestion horizon to stay representable."""


def parse_duration(text: str) -> timedelta:
    """``"90m"``, ``"1h"``, ``"1h30m"``, ``"2d"``, ``"1d 12h"`` → a positive timedelta."""
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    match = _DURATION_RE.match(cleaned)
    if not cleaned or not match or not any(match.groupdict().values()):
        raise TimeInputError(f"{text!r} is not a duration; {DURATION_HELP}")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    duration = timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0))
    if duration <= timedelta(0):
        raise TimeInputError(f"{text!r} is not a duration: it must be longer than zero")
    return duration


def format_duration(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n)
    return text or "0m"


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name`` (``UTC`` included), or a TimeInputError saying so."""
    try:
        return zone_of(name)
    except ValueError as exc:
        raise TimeInputError(str(exc)) from None


def _offset_label(moment: datetime) -> str:
    text = moment.strftime("%z")
    label = f"UTC{text[:3]}:{text[3:5]}"
    abbr = moment.tzname()
    return f"{label} {abbr}" if abbr and not abbr.startswith(("+", "-")) else label


def resolve_local(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a wall-clock time, refusing one that does not exist or happens twice."""
    if naive.tzinfo is not None:
        raise ValueError("resolve_local takes a naive datetime")
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    shown = naive.strftime("%Y-%m-%d %H:%M")
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        # In a gap, fold=1 reads the time with the offset after the change, fold=0 with the one before.
        lo, hi = sorted((timeline.to_ts(second), timeline.to_ts(first)))
        change = timeline.segments(tz, lo, hi + 1)[-1][0]
        before = timeline.from_ts(change - 1).astimezone(tz)
        after = timeline.from_ts(change).astimezone(tz)
        jump_start = before + timedelta(seconds=1)
        # A jump across a date (Pacific/Apia skipped all of 2011-12-30) names the dates, not just the times.
        same_day = jump_start.date() == after.date()
        clock = "%H:%M" if same_day else "%Y-%m-%d %H:%M"
        raise NonexistentTimeError(
            f"{shown} does not exist in {tz.key}: clocks jump from {jump_start:{clock}} to {after:{clock}}"
            f"{' that day' if same_day else ''} ({_offset_label(before)} to {_offset_label(after)}); "
            "pick a time outside that gap"
        )
    early, late = sorted((first, second), key=lambda d: d.astimezone(UTC))
    raise AmbiguousTimeError(
        f"{shown} happens twice in {tz.key}: first at {_offset_label(early)}, then at {_offset_label(late)}; "
        f"give the offset to choose, e.g. {early.isoformat(timespec='minutes')} or "
        f"{late.isoformat(timespec='minutes')}"
    )


def _check_year(year: int, text: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise TimeInputError(f"{text!r} is out of range; give a year from {MIN_YEAR} to {MAX_YEAR}")


def parse_start(text: str, *, tz: str = "UTC") -> datetime:
    """An ISO 8601 date and time; without an offset it is local to ``tz``. Returns an aware UTC datetime."""
    raw = text.strip() if isinstance(text, str) else ""
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "T", 1)) if raw else None
    except ValueError:
        parsed = None
    if parsed is None or "T" not in raw.replace(" ", "T", 1):
        raise TimeInputError(
            f"{text!r} is not a date and time; write e.g. 2009-06-15T22:00, 2009-06-16T05:00Z "
            "or 2026-11-01T01:30-08:00"
        )
    _check_year(parsed.year, text)
    if parsed.tzinfo is None:
        parsed = resolve_local(parsed, zone(tz))
    return parsed.astimezone(UTC)


def parse_date_time(day: str, clock: str, *, tz: str) -> datetime:
    """``"2026-12-07"`` and ``"22:00"`` read in ``tz`` → an aware UTC datetime."""
    try:
        the_date = date.fromisoformat(day.strip())
    except ValueError:
        raise TimeInputError(f"{day!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-12-07") from None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", clock.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise TimeInputError(f"{clock!r} is not a time of day; write it as HH:MM in 24-hour form, e.g. 22:00")
    _check_year(the_date.year, day)
    naive = datetime.combine(the_date, time(int(match[1]), int(match[2])))
    return resolve_local(naive, zone(tz)).astimezone(UTC)
