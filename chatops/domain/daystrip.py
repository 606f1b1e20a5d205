"""A picture of one region's local day: 24 hour cells, its peak hours and the window marked.

``day_strip`` answers "where in that region's day does the window fall?" at a glance, in plain characters that
keep their width on a phone (Slack shows them in a code span)::

    00    06    12    18
    ········##XX==========··   Iran, Tue 16 Jun (Asia/Tehran)

An hour cell is *in the window* when any part of the window falls in that local hour, and *peak* when any part of
that hour is inside the region's peak hours (on that weekday; a range that wraps midnight counts on the next
morning too). Wall-clock hours are used throughout, so a DST change shows no missing or doubled cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from chatops.domain import timeline
from chatops.domain.models import HoursRange, Window, zone_of

QUIET = "·"
PEAK = "="
WINDOW = "#"
CLASH = "X"
LEGEND = f"`{WINDOW}` window  `{CLASH}` window in peak hours  `{PEAK}` peak hours  `{QUIET}` quiet"
RULER = "00    06    12    18    "
HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class DayStrip:
    """The cells of one local day (``cells[h]`` is local hour ``h``) and what the window does beyond it."""

    day: date
    cells: str
    continues: bool  # the window goes on past this local midnight

    @property
    def clash_hours(self) -> int:
        return self.cells.count(CLASH)


def _overlaps(intervals: list[timeline.Interval], lo: int, hi: int) -> bool:
    return any(a < hi and b > lo for a, b in intervals)


def peak_ranges(labels: Sequence[str]) -> tuple[HoursRange, ...]:
    """Peak hours written as text (``"mon-fri 07:00-23:00"``, as an evaluation records them), parsed back."""
    return tuple(HoursRange.parse(label) for label in labels)


def day_strip(timezone: str, peak_hours: Sequence[HoursRange], window: Window) -> DayStrip:
    """The local day (in IANA zone ``timezone``) on which ``window`` starts, hour by hour."""
    start, end = timeline.to_ts(window.start), timeline.to_ts(window.end)
    segs = timeline.segments(zone_of(timezone), start, end)
    # The window in the region's wall clock (wall seconds since 1970-01-01 local).
    wall_window = timeline.merge((a + off, b + off) for a, b, off in segs)
    day_start = (wall_window[0][0] // DAY) * DAY
    day_end = day_start + DAY
    peak = timeline.merge(timeline.wall_hours(peak_hours, day_start, day_end))
    cells = []
    for hour in range(24):
        lo = day_start + hour * HOUR
        hi = lo + HOUR
        in_window = _overlaps(wall_window, lo, hi)
        in_peak = _overlaps(peak, lo, hi)
        cells.append(CLASH if in_window and in_peak else WINDOW if in_window else PEAK if in_peak else QUIET)
    first_day = date.fromordinal(date(1970, 1, 1).toordinal() + day_start // DAY)
    return DayStrip(day=first_day, cells="".join(cells), continues=wall_window[-1][1] > day_end)


def caption(strip: DayStrip, *, name: str, timezone: str) -> str:
    """What a strip shows: the region, its local date and zone, and whether the window runs past midnight."""
    more = "; the window goes on into the next day" if strip.continues else ""
    return f"{name}, {strip.day:%a %d %b} ({timezone}){more}"
