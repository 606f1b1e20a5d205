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

from collections.abc import Sequence
from datetime import timedelta

from chatops.domain import timeline
from chatops.domain.models import Region, Team, Window
from chatops.domain.timeline import Interval

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


def team_starts(team: Team, *, start: int, end: int, length: int) -> list[Interval]:
    """Window starts in ``[start, end)`` whose whole window lies inside the team's working hours."""
    segs = timeline.segments(team.zone, start, end + length)
    return _starts_inside(timeline.in_wall_hours(segs, team.working_hours), length)


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
) -> list[Window]:
    """Up to ``count`` earliest unflagged windows of the same length, starting at or after ``window.start``.

    Starts lie on a grid of ``step`` aligned to the hour in UTC and no later than ``window.start + horizon``.
    When ``team`` names working hours, each suggestion lies wholly inside them.
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
