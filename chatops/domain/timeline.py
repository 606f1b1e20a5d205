"""Exact mapping between local wall-clock ranges and real instants, DST included.

Times here are whole POSIX seconds (``int``) so that the engine does integer arithmetic, not datetime arithmetic.
A span of real time is cut into *segments* of constant UTC offset; inside a segment the wall clock is the instant
plus the offset, so a wall-clock range maps back to real instants by subtracting it. That one rule handles every
hazard at once: a DST gap (wall times that never happen contribute nothing), a fold (wall times that happen twice
count twice, as they do in real life), half- and quarter-hour offsets, historical offsets, and ranges that wrap
midnight.

Offsets are found by sampling the zone once a day and bisecting where two samples differ. No zone in the IANA
database has two transitions less than two days apart (a test checks every zone), so daily samples miss none.
That is done once per zone and block of time (:data:`BLOCK`), and the table of offset changes is kept for the
process (a zone's rules do not change while it runs), so cutting a span into segments costs a dictionary look-up
and a binary search, whatever the span's length.

Peak seconds are counted without listing them: hour ranges repeat every week of wall-clock time, so a table of
the week's peak intervals with a running sum (:class:`WeekTable`) gives the peak seconds in any wall-clock range
in two binary searches; a segment's share is that of its wall-clock range. An evaluation then costs
O(segments x sensitive periods), not O(days).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from chatops.domain.models import HoursRange, SensitivePeriod

DAY = 86_400
WEEK = 7 * DAY
BLOCK = 64 * DAY
"""The span of time whose offset changes are found and kept at once, per zone."""
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


def scan(zone: ZoneInfo, start: int, end: int) -> list[Segment]:
    """Cut ``[start, end)`` into spans of constant UTC offset by sampling daily and bisecting, without the
    tables :func:`segments` keeps (it builds them with this)."""
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


_Block = tuple[list[int], list[int]]
"""``(starts, offsets)``: from ``starts[i]`` (the block's start, then each change) the offset is ``offsets[i]``."""

_BLOCKS: dict[tuple[ZoneInfo, int], _Block] = {}
_MAX_BLOCKS = 50_000  # about 20 years of 400 zones; a bound, not a size anyone should reach


def _block(zone: ZoneInfo, number: int) -> _Block:
    key = (zone, number)
    table = _BLOCKS.get(key)
    if table is None:
        segs = scan(zone, number * BLOCK, (number + 1) * BLOCK)
        table = ([s for s, _, _ in segs], [off for _, _, off in segs])
        if len(_BLOCKS) >= _MAX_BLOCKS:
            _BLOCKS.clear()
        _BLOCKS[key] = table
    return table


def segments(zone: ZoneInfo, start: int, end: int) -> list[Segment]:
    """Cut ``[start, end)`` into spans of constant UTC offset in ``zone``."""
    if end <= start:
        return []
    number = start // BLOCK
    starts, offsets = _BLOCKS.get((zone, number)) or _block(zone, number)
    i = bisect_right(starts, start) - 1
    block_end = (number + 1) * BLOCK
    if end <= block_end and (i + 1 == len(starts) or starts[i + 1] >= end):
        return [(start, end, offsets[i])]  # the usual case: no change in the span
    result: list[Segment] = []
    seg_start, seg_offset = start, offsets[i]
    while True:
        for j in range(i + 1, len(starts)):
            change = starts[j]
            if change >= end:
                break
            if offsets[j] != seg_offset:
                result.append((seg_start, change, seg_offset))
                seg_start, seg_offset = change, offsets[j]
        if end <= block_end:
            break
        number += 1
        block_end += BLOCK
        starts, offsets = _block(zone, number)
        i = -1  # the next block's first entry is its start, where the offset may or may not change
    result.append((seg_start, end, seg_offset))
    return result


class WeekTable:
    """Peak seconds of hour ranges in any wall-clock range, from one week of merged intervals and their running
    sum. Wall clock is seconds since 1970-01-01T00:00 local (a Thursday); the ranges repeat every :data:`WEEK`."""

    __slots__ = ("cum", "his", "los", "per_week")

    def __init__(self, ranges: Sequence[HoursRange]) -> None:
        pieces: list[Interval] = []
        for lo, hi in wall_hours(ranges, 0, WEEK):  # also yields the wrap from the day before the week
            for shift in (-WEEK, 0, WEEK):
                a, b = max(lo + shift, 0), min(hi + shift, WEEK)
                if a < b:
                    pieces.append((a, b))
        merged = merge(pieces)
        self.los = [a for a, _ in merged]
        self.his = [b for _, b in merged]
        self.cum: list[int] = []  # peak seconds of the week before los[i]
        running = 0
        for a, b in merged:
            self.cum.append(running)
            running += b - a
        self.per_week = running

    def before(self, wall: int) -> int:
        """Peak seconds in wall-clock ``[0, wall)`` (``wall`` may be negative: then minus those in ``[wall, 0)``)."""
        weeks, rest = divmod(wall, WEEK)
        i = bisect_right(self.los, rest) - 1
        if i < 0:
            return weeks * self.per_week
        return weeks * self.per_week + self.cum[i] + min(rest, self.his[i]) - self.los[i]

    def between(self, wall_start: int, wall_end: int) -> int:
        """Peak seconds in wall-clock ``[wall_start, wall_end)``."""
        if wall_end <= wall_start or not self.per_week:
            return 0
        # before(wall_end) - before(wall_start), written out: this is the engine's innermost step.
        los, his, cum = self.los, self.his, self.cum
        weeks, rest = divmod(wall_end, WEEK)
        i = bisect_right(los, rest) - 1
        count = weeks * self.per_week + (cum[i] + min(rest, his[i]) - los[i] if i >= 0 else 0)
        weeks, rest = divmod(wall_start, WEEK)
        i = bisect_right(los, rest) - 1
        return count - weeks * self.per_week - (cum[i] + min(rest, his[i]) - los[i] if i >= 0 else 0)


def period_walls(periods: Sequence[SensitivePeriod]) -> tuple[list[Interval], list[Interval]]:
    """The wall-clock spans of sensitive periods, each from the start of its first local date to the end of its
    last: one per period, in order (for reasons), and merged (for counting)."""
    each = [next(wall_dates(p.start, p.end)) for p in periods]
    return each, merge(each)


def touches(segs: Iterable[Segment], wall: Interval) -> bool:
    """Whether some instant within the segments has its local wall clock in ``wall``."""
    a, b = wall
    return any(seg_start + off < b and a < seg_end + off for seg_start, seg_end, off in segs)


def peak_seconds(segs: Sequence[Segment], table: WeekTable, walls: Sequence[Interval] | None = None) -> int:
    """Seconds within the segments whose local time is peak by ``table``; with ``walls`` (sorted, merged
    wall-clock intervals), only those whose local wall clock is also inside one of them."""
    if not table.per_week:
        return 0
    if walls is None:
        if len(segs) == 1:
            seg_start, seg_end, off = segs[0]
            return table.between(seg_start + off, seg_end + off)
        return sum(table.between(seg_start + off, seg_end + off) for seg_start, seg_end, off in segs)
    count = 0
    for seg_start, seg_end, off in segs:
        lo, hi = seg_start + off, seg_end + off
        for a, b in walls:
            if b <= lo:
                continue
            if a >= hi:
                break
            count += table.between(max(a, lo), min(b, hi))
    return count


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
