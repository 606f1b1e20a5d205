"""Exact mapping between local wall-clock ranges and real instants, DST included.

Times here are whole POSIX seconds (``int``) so that the engine does integer arithmetic, not datetime arithmetic.
A span of real time is cut into *segments* of constant UTC offset; inside a segment the wall clock is the instant
plus the offset, so a wall-clock range maps back to real instants by subtracting it. That one rule handles every
hazard at once: a DST gap (wall times that never happen contribute nothing), a fold (wall times that happen twice
count twice, as they do in real life), half- and quarter-hour offsets, historical offsets, and ranges that wrap
midnight.

Offsets are found by sampling the zone once a day and bisecting where two samples differ. No zone in the IANA
database has two transitions less than two days apart (a test checks every zone), so daily samples miss none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from chatops.domain.models import HoursRange

DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Interval = tuple[int, int]
"""Half-open ``[start, end)`` in POSIX seconds."""

Segment = tuple[int, int, int]
"""``(start, end, utc_offset_seconds)``: a half-open span of real time with one UTC offset."""


def to_ts(moment: datetime) -> int:
    """Whole POSIX seconds of an aware datetime (sub-second parts are dropped)."""
    return int(moment.timestamp() // 1)


def from_ts(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - _EPOCH_ORDINAL


def offset_at(zone: ZoneInfo, ts: int) -> int:
    offset = datetime.fromtimestamp(ts, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def segments(zone: ZoneInfo, start: int, end: int) -> list[Segment]:
    """Cut ``[start, end)`` into spans of constant UTC offset in ``zone``."""
    if end <= start:
        return []
    result: list[Segment] = []
    seg_start = start
    seg_offset = offset_at(zone, start)
    prev_ts, prev_off = start, seg_offset
    probe = start
    last = end - 1
    while probe < last:
        probe = min(probe + DAY, last)
        off = offset_at(zone, probe)
        if off != prev_off:
            lo, hi = prev_ts, probe  # offset(lo) == prev_off != offset(hi): one transition in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(zone, mid) == prev_off:
                    lo = mid
                else:
                    hi = mid
            result.append((seg_start, hi, seg_offset))
            seg_start, seg_offset = hi, off
        prev_ts, prev_off = probe, off
    result.append((seg_start, end, seg_offset))
    return result


def wall_hours(ranges: Sequence[HoursRange], wall_start: int, wall_end: int) -> Iterator[Interval]:
    """Wall-clock intervals of ``ranges`` (in wall seconds) that may touch ``[wall_start, wall_end)``."""
    first_day = wall_start // DAY - 1  # a range that wraps midnight starts the day before
    last_day = (wall_end - 1) // DAY
    for day in range(first_day, last_day + 1):
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        base = day * DAY
        for r in ranges:
            if weekday in r.days:
                lo = base + r.start_minute * 60
                hi = base + r.end_minute * 60 + (DAY if r.wraps else 0)
                yield lo, hi


def wall_dates(first: date, last: date) -> Iterator[Interval]:
    """The wall-clock interval from the start of local date ``first`` to the end of ``last``."""
    yield day_number(first) * DAY, (day_number(last) + 1) * DAY


def instants(segs: Iterable[Segment], wall: Iterable[Interval]) -> list[Interval]:
    """Real instants, within the segments, whose local wall clock falls in the given wall-clock intervals.

    The result is sorted and merged.
    """
    wall_list = sorted(wall)
    out: list[Interval] = []
    for seg_start, seg_end, off in segs:
        w_lo, w_hi = seg_start + off, seg_end + off
        for a, b in wall_list:
            if b <= w_lo:
                continue
            if a >= w_hi:
                break
            out.append((max(a, w_lo) - off, min(b, w_hi) - off))
    return merge(out)


def in_wall_hours(segs: Sequence[Segment], ranges: Sequence[HoursRange]) -> list[Interval]:
    """Instants within the segments whose local time falls within ``ranges``."""
    if not ranges:
        return []
    if len(segs) == 1:  # the usual case (no offset change in the span): instants() already sorts and merges
        seg = segs[0]
        return instants(segs, wall_hours(ranges, seg[0] + seg[2], seg[1] + seg[2]))
    result: list[Interval] = []
    for seg in segs:
        result.extend(instants((seg,), wall_hours(ranges, seg[0] + seg[2], seg[1] + seg[2])))
    return merge(result)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals; drop empty ones."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def intersect(xs: Sequence[Interval], ys: Sequence[Interval]) -> list[Interval]:
    """Intersection of two sorted, merged interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        lo = max(xs[i][0], ys[j][0])
        hi = min(xs[i][1], ys[j][1])
        if lo < hi:
            out.append((lo, hi))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def total(intervals: Iterable[Interval]) -> int:
    return sum(b - a for a, b in intervals)
