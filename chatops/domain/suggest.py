"""The earliest better windows: same length, on a 15-minute grid, not flagged, inside team hours.

Rather than evaluating every candidate, the search computes once, for the whole horizon, the set of *start times*
that would make a window flagged: for each region, the instants that are peak time on a sensitive local date,
and the starts whose window touches one of them. The union over regions is the bad set. With team working hours,
the good starts are those whose whole window fits in one stretch of working time. The grid is then walked,
jumping over bad stretches.

This agrees with :func:`chatops.domain.evaluate.evaluate` by construction (same instants, same rules); the tests
check it against a minute-by-minute oracle.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from chatops.domain import timeline
from chatops.domain.freezes import frozen_starts
from chatops.domain.models import Freeze, Region, Team, Window
from chatops.domain.timeline import Interval
from chatops.domain.windows import format_duration

GRID = timedelta(minutes=15)


def _starts_touching(intervals: Sequence[Interval], length: int) -> list[Interval]:
    """Starts ``s`` whose window ``[s, s + length)`` overlaps some interval: ``s`` in ``[a - length + 1, b)``."""
    return timeline.merge((a - length + 1, b) for a, b in intervals)


def _starts_inside(intervals: Sequence[Interval], length: int) -> list[Interval]:
    """Starts ``s`` whose window fits wholly in one interval: ``s`` in ``[a, b - length + 1)``."""
    return timeline.merge((a, b - length + 1) for a, b in intervals if b - a >= length)


def bad_starts(regions: Sequence[Region], *, start: int, end: int, length: int) -> list[Interval]:
    """Window starts in ``[start, end)`` that would flag some region (POSIX seconds, merged)."""
    span_end = end + length
    bad: list[Interval] = []
    for region in regions:
        if not region.peak_hours or not (region.sensitive or region.sensitive_periods):
            continue  # can never be flagged
        segs = timeline.segments(region.zone, start, span_end)
        if region.sensitive:
            sensitive: list[Interval] = [(start, span_end)]
        else:
            sensitive = timeline.merge(
                iv
                for period in region.sensitive_periods
                for iv in timeline.instants(segs, timeline.wall_dates(period.start, period.end))
            )
        if not sensitive:
            continue
        peak = timeline.in_wall_hours(segs, region.peak_hours)
        bad.extend(_starts_touching(timeline.intersect(sensitive, peak), length))
    return timeline.merge(bad)


def _subtract(xs: Sequence[Interval], ys: Sequence[Interval]) -> list[Interval]:
    """The parts of the merged intervals ``xs`` outside the merged intervals ``ys``."""
    out: list[Interval] = []
    for a, b in xs:
        for c, d in ys:
            if d <= a or c >= b:
                continue
            if c > a:
                out.append((a, c))
            a = max(a, d)
        if a < b:
            out.append((a, b))
    return out


def team_starts(team: Team, *, start: int, end: int, length: int) -> list[Interval]:
    """Window starts in ``[start, end)`` whose whole window lies inside the team's working hours."""
    segs = timeline.segments(team.zone, start, end + length)
    working = timeline.in_wall_hours(segs, team.working_hours)
    if team.days_off:
        off = timeline.instants(segs, (iv for day in team.days_off for iv in timeline.wall_dates(day, day)))
        working = _subtract(working, off)
    return _starts_inside(working, length)


def _first_grid_at_or_after(ts: int, origin: int, step: int) -> int:
    return origin + -(-(ts - origin) // step) * step


def suggest(
    window: Window,
    *,
    regions: Sequence[Region],
    team: Team | None = None,
    horizon: timedelta = timedelta(days=14),
    count: int = 3,
    step: timedelta = GRID,
    freezes: Sequence[Freeze] = (),
) -> list[Window]:
    """Up to ``count`` earliest unflagged windows of the same length, starting at or after ``window.start``.

    Starts lie on a grid of ``step`` aligned to the hour in UTC and no later than ``window.start + horizon``.
    When ``team`` names working hours, each suggestion lies wholly inside them and off its ``days_off``; no
    suggestion overlaps a freeze.
    """
    if count <= 0:
        return []
    length = int(window.duration.total_seconds())
    step_s = int(step.total_seconds())
    begin = timeline.to_ts(window.start)
    first = _first_grid_at_or_after(begin, 0, step_s)
    last = begin + int(horizon.total_seconds())
    if first > last:
        return []
    bad = bad_starts(regions, start=first, end=last + 1, length=length)
    if freezes:
        bad = timeline.merge([*bad, *frozen_starts(freezes, length=length)])
    allowed: list[Interval] = [(first, last + 1)]
    if team is not None and team.working_hours:
        allowed = timeline.intersect(allowed, team_starts(team, start=first, end=last + 1, length=length))

    found: list[Window] = []
    bad_i = 0
    for lo, hi in allowed:
        candidate = _first_grid_at_or_after(lo, 0, step_s)
        while candidate < hi and len(found) < count:
            while bad_i < len(bad) and bad[bad_i][1] <= candidate:
                bad_i += 1
            if bad_i < len(bad) and bad[bad_i][0] <= candidate:
                candidate = _first_grid_at_or_after(bad[bad_i][1], 0, step_s)
                continue
            start_dt = timeline.from_ts(candidate)
            found.append(Window(start=start_dt, end=start_dt + window.duration))
            candidate += step_s
        if len(found) >= count:
            break
    return found


HOUR = 3600
DAY = 24 * HOUR
MARGIN_REACH = 2 * DAY  # how far around the horizon flagged peaks are looked for when measuring margins


class ChoiceKind(StrEnum):
    EARLIEST = "earliest"
    TEAM_HOURS = "team_hours"
    LATER_DAY = "later_day"


@dataclass(frozen=True, slots=True)
class Choice:
    """A suggested window, what kind of choice it is and one line of why."""

    window: Window
    kind: ChoiceKind
    why: str

    @property
    def start(self) -> datetime:
        return self.window.start

    @property
    def end(self) -> datetime:
        return self.window.end


def _margin(candidate: int, bad: Sequence[Interval]) -> int:
    """Seconds between a window starting at ``candidate`` and the nearest flagged peak: the distance from
    ``candidate`` to the nearest start that would be flagged (a window starting ``m`` seconds after the last
    bad start begins ``m`` seconds after that peak ends; one ending ``m`` seconds before the first bad start
    ends ``m`` seconds before that peak begins)."""
    i = bisect_right(bad, (candidate, 2**62))
    best = 2**62
    if i > 0:
        best = min(best, candidate - bad[i - 1][1] + 1)
    if i < len(bad):
        best = min(best, bad[i][0] - 1 - candidate)
    return max(0, best)


def _margin_text(seconds: int) -> str:
    if seconds >= MARGIN_REACH:
        return "no flagged peak hours within two days either side"
    if seconds < 60:
        return "right next to flagged peak hours"
    return f"{format_duration(timedelta(seconds=seconds))} clear of the nearest flagged peak hours"


def _good(candidate: int, bad: Sequence[Interval]) -> bool:
    i = bisect_right(bad, (candidate, 2**62))
    return not (i > 0 and bad[i - 1][0] <= candidate < bad[i - 1][1])


def _grid(lo: int, hi: int, step: int) -> range:
    return range(_first_grid_at_or_after(lo, 0, step), hi, step)


def choose(
    window: Window,
    *,
    regions: Sequence[Region],
    team: Team | None = None,
    horizon: timedelta = timedelta(days=14),
    count: int = 3,
    step: timedelta = GRID,
    freezes: Sequence[Freeze] = (),
) -> list[Choice]:
    """Up to three windows of the same length that flag nothing and are real alternatives to each other:

    1. the earliest, from ``window.start``;
    2. the earliest inside the team's working hours (when ``team`` names them and it is not the first);
    3. the best on a later day than the first: the start with the most margin from any flagged peak hours.

    They start at least an hour apart; when the first two would be within an hour of each other, only the one
    inside team hours is kept. Each comes with one line of why.
    """
    if count <= 0:
        return []
    length = int(window.duration.total_seconds())
    step_s = int(step.total_seconds())
    begin = timeline.to_ts(window.start)
    first = _first_grid_at_or_after(begin, 0, step_s)
    last = begin + int(horizon.total_seconds())
    if first > last:
        return []
    bad = bad_starts(regions, start=first - MARGIN_REACH, end=last + 1 + MARGIN_REACH, length=length)
    if freezes:  # a start whose window touches a freeze is as bad as one that hits a flagged peak
        bad = timeline.merge([*bad, *frozen_starts(freezes, length=length)])
    in_team: list[Interval] = [(first, last + 1)]
    has_team = team is not None and bool(team.working_hours)
    if team is not None and has_team:
        in_team = team_starts(team, start=first, end=last + 1, length=length)

    def window_at(ts: int) -> Window:
        start_dt = timeline.from_ts(ts)
        return Window(start=start_dt, end=start_dt + window.duration)

    def first_good(allowed: Sequence[Interval]) -> int | None:
        for lo, hi in allowed:
            for candidate in _grid(max(lo, first), min(hi, last + 1), step_s):
                if _good(candidate, bad):
                    return candidate
        return None

    chosen: list[tuple[int, ChoiceKind, str]] = []
    earliest = first_good([(first, last + 1)])
    if earliest is None:
        return []
    team_first = first_good(in_team) if has_team else None
    team_label = ""
    if team is not None and has_team:
        hours = ", ".join(str(r) for r in team.working_hours)
        team_label = f"team working hours ({hours}, {team.timezone})"
    if team_first is not None and team_first - earliest < HOUR:
        chosen.append(
            (
                team_first,
                ChoiceKind.TEAM_HOURS,
                f"The earliest that flags nothing, inside {team_label}; "
                f"{_margin_text(_margin(team_first, bad))}.",
            )
        )
    else:
        chosen.append(
            (
                earliest,
                ChoiceKind.EARLIEST,
                f"The earliest that flags nothing; {_margin_text(_margin(earliest, bad))}.",
            )
        )
        if team_first is not None:
            chosen.append(
                (
                    team_first,
                    ChoiceKind.TEAM_HOURS,
                    f"The earliest inside {team_label}; {_margin_text(_margin(team_first, bad))}.",
                )
            )

    # The best on a later day: local days of the team's zone when there is a team, else UTC days.
    zone = team.zone if team is not None else UTC
    day = timeline.from_ts(chosen[0][0]).astimezone(zone).date() + timedelta(days=1)

    def midnight(d: date) -> int:
        return timeline.to_ts(datetime.combine(d, time(), tzinfo=zone))

    while midnight(day) <= last:
        day_start, day_end = midnight(day), midnight(day + timedelta(days=1))
        best: tuple[int, int] | None = None
        for lo, hi in in_team:
            for candidate in _grid(max(lo, day_start, first), min(hi, day_end, last + 1), step_s):
                if not _good(candidate, bad) or any(abs(candidate - c[0]) < HOUR for c in chosen):
                    continue
                margin = _margin(candidate, bad)
                if best is None or margin > best[1]:
                    best = (candidate, margin)
        if best is not None:
            where = ", within team hours" if has_team else ""
            chosen.append(
                (
                    best[0],
                    ChoiceKind.LATER_DAY,
                    f"The most room on a later day ({day:%a %d %b}{where}); {_margin_text(best[1])}.",
                )
            )
            break
        day += timedelta(days=1)

    chosen.sort(key=lambda c: c[0])
    return [Choice(window=window_at(ts), kind=kind, why=why) for ts, kind, why in chosen[:count]]
