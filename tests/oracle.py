"""A brute-force reference for the engine: minute by minute, straight from the definitions.

Nothing here is clever on purpose. A window is walked one whole minute at a time from its start; each instant
is converted to local time with :mod:`zoneinfo`, and the rules in the README are applied to that local time:

- the minute is *peak* when its local time of day falls in a peak range that applies to its local weekday; a
  range that wraps midnight (``22:00-02:00``) is the starting day's, so its part after midnight applies when
  the *previous* local date is one of the range's days; ``24:00`` ends a range at midnight;
- the region is *sensitive* when it always is, or when the local date of any minute falls in a sensitive
  period (both ends inclusive);
- a minute is *sensitive peak* when it is peak and the region is always sensitive or the minute's own local
  date falls in a sensitive period (peak time on an ordinary date does not count, even when the window also
  touches a sensitive date);
- the region is *flagged* when at least one minute is sensitive peak.

The suggestion oracle walks the 15-minute UTC grid from the first grid point at or after the start to
``start + horizon`` (inclusive), evaluates each candidate with the same rules, requires (when the team names
working hours) every minute of the candidate to be inside working hours in the team's zone, and returns the
first ``count`` candidates that pass. The only shortcut is a per-minute memo, so a minute shared by
overlapping candidates is classified once; the classification itself is the same function.

Used by the tests (``tests/domain``) and by the engine benchmark (``benchmarks/engine.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from chatops.domain.models import HoursRange, Region, Team, Window

MINUTE = timedelta(minutes=1)
GRID = timedelta(minutes=15)


@dataclass(frozen=True)
class OracleResult:
    id: str
    peak_minutes: int
    sensitive_peak_minutes: int
    sensitive: bool
    flagged: bool
    reasons: tuple[str, ...]


def in_ranges(local: datetime, ranges: Sequence[HoursRange]) -> bool:
    """Whether the local wall-clock time ``local`` falls in any of ``ranges`` (by the definition)."""
    second_of_day = local.hour * 3600 + local.minute * 60 + local.second
    weekday = local.weekday()
    previous_weekday = (local.date() - timedelta(days=1)).weekday()
    for r in ranges:
        start, end = r.start_minute * 60, r.end_minute * 60
        if r.end_minute > r.start_minute:  # an ordinary range, end possibly 24:00 (= 86400 s)
            if weekday in r.days and start <= second_of_day < end:
                return True
        else:  # wraps midnight: the evening part is today's, the morning part yesterday's
            if weekday in r.days and second_of_day >= start:
                return True
            if previous_weekday in r.days and second_of_day < end:
                return True
    return False


def minutes_of(window: Window) -> list[datetime]:
    """The whole-minute instants ``start + k min`` for ``k`` in ``range(duration in minutes)``."""
    count = int(window.duration.total_seconds() // 60)
    return [window.start + k * MINUTE for k in range(count)]


def classify(region: Region, instant: datetime) -> tuple[bool, date]:
    """(is this minute peak in ``region``, the local date of the minute)."""
    local = instant.astimezone(ZoneInfo(region.timezone))
    return in_ranges(local, region.peak_hours), local.date()


def sensitive_on(region: Region, day: date) -> bool:
    """Whether ``region`` is sensitive on its local date ``day``."""
    return region.sensitive or any(p.start <= day <= p.end for p in region.sensitive_periods)


def _result(region: Region, facts: Sequence[tuple[bool, date]]) -> OracleResult:
    peak = sum(1 for is_peak, _ in facts if is_peak)
    sensitive_peak = sum(1 for is_peak, day in facts if is_peak and sensitive_on(region, day))
    local_dates = {d for _, d in facts}
    reasons: list[str] = []
    if region.sensitive:
        reasons.append(region.sensitive_reason or "Always sensitive")
    for period in region.sensitive_periods:
        if any(period.start <= d <= period.end for d in local_dates):
            reasons.append(period.reason)
    return OracleResult(
        id=region.id,
        peak_minutes=peak,
        sensitive_peak_minutes=sensitive_peak,
        sensitive=bool(reasons),
        flagged=sensitive_peak > 0,
        reasons=tuple(reasons),
    )


def evaluate_region(window: Window, region: Region) -> OracleResult:
    return _result(region, [classify(region, t) for t in minutes_of(window)])


def evaluate(window: Window, regions: Sequence[Region]) -> list[OracleResult]:
    return [evaluate_region(window, r) for r in regions]


def flagged(window: Window, regions: Sequence[Region]) -> bool:
    return any(r.flagged for r in evaluate(window, regions))


def in_team_hours(window: Window, team: Team | None) -> bool:
    """Every minute of the window lies inside the team's working hours (always true without working hours)."""
    if team is None or not team.working_hours:
        return True
    tz = ZoneInfo(team.timezone)
    return all(in_ranges(t.astimezone(tz), team.working_hours) for t in minutes_of(window))


def first_grid_point(at: datetime, step: timedelta = GRID) -> datetime:
    """The first instant at or after ``at`` on the UTC grid of ``step`` (aligned to 1970-01-01T00:00Z)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = -(-(at - epoch) // step)
    return epoch + steps * step


def suggest(
    window: Window,
    *,
    regions: Sequence[Region],
    team: Team | None = None,
    horizon: timedelta = timedelta(days=14),
    count: int = 3,
    step: timedelta = GRID,
) -> list[Window]:
    """The first ``count`` candidates on the grid from ``window.start`` to ``window.start + horizon``
    that are not flagged and lie inside team hours."""
    memo: dict[tuple[int, datetime], tuple[bool, date]] = {}

    def facts(index: int, instant: datetime) -> tuple[bool, date]:
        key = (index, instant)
        if key not in memo:
            memo[key] = classify(regions[index], instant)
        return memo[key]

    found: list[Window] = []
    candidate = first_grid_point(window.start, step)
    last = window.start + horizon
    while candidate <= last and len(found) < count:
        option = Window(start=candidate, end=candidate + window.duration)
        instants = minutes_of(option)
        is_flagged = any(
            _result(region, [facts(i, t) for t in instants]).flagged for i, region in enumerate(regions)
        )
        if not is_flagged and in_team_hours(option, team):
            found.append(option)
        candidate += step
    return found
