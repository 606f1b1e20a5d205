"""The assumption chatops/domain/timeline.py is built on, checked against every zone, and its primitives."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# The pure-Python implementation is private API; it is used here, and only here, because it exposes a zone's
# transition table (``_trans_utc``, ``_ttinfos``) and its POSIX-rule tail (``_tz_after``). The public API can
# only answer "what offset at this instant", which cannot list every transition of ~600 zones quickly.
from zoneinfo._zoneinfo import ZoneInfo as PyZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.domain import timeline
from chatops.domain.models import HoursRange

ZONES = sorted(zoneinfo.available_timezones())
MIN_GAP = 2 * timeline.DAY
TAIL_YEARS = range(2037, 2046)


def _offset_changes(key: str) -> list[tuple[int, int]]:
    """(instant, new UTC offset in seconds) for every transition of ``key`` that changes the UTC offset,
    from the compiled table and then from the POSIX rule for the years after it."""
    zone = PyZoneInfo.no_cache(key)
    changes: list[tuple[int, int]] = []
    previous = int(zone._tti_before.utcoff.total_seconds()) if zone._tti_before else None
    for when, info in zip(zone._trans_utc, zone._ttinfos, strict=True):
        offset = int(info.utcoff.total_seconds())
        if offset != previous:
            changes.append((when, offset))
        previous = offset
    last_listed = zone._trans_utc[-1] if zone._trans_utc else None
    tail = zone._tz_after
    if hasattr(tail, "dst"):  # a rule with DST: two changes a year, given in local standard/daylight time
        std, dst = int(tail.std.utcoff.total_seconds()), int(tail.dst.utcoff.total_seconds())
        for year in TAIL_YEARS:
            start, end = tail.transitions(year)
            for when, offset in ((start - std, dst), (end - dst, std)):
                if last_listed is None or when > last_listed:  # the rule takes over after the table
                    changes.append((when, offset))
    return sorted(changes)


def test_no_zone_changes_its_utc_offset_twice_within_two_days() -> None:
    too_close = []
    for key in ZONES:
        changes = _offset_changes(key)
        for (a, _), (b, _) in itertools.pairwise(changes):
            if b - a < MIN_GAP:
                too_close.append((key, datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)))
    assert too_close == []


def test_the_transition_table_helper_sees_known_changes() -> None:
    # Guards the test above against reading the private tables wrongly (and so checking nothing).
    apia = dict(_offset_changes("Pacific/Apia"))
    assert apia[int(datetime(2011, 12, 30, 10, tzinfo=UTC).timestamp())] == 14 * 3600
    la = [datetime.fromtimestamp(when, UTC) for when, _ in _offset_changes("America/Los_Angeles")]
    assert datetime(2037, 3, 8, 10, tzinfo=UTC) in la
    assert [t for t in la if t.year == TAIL_YEARS[-1]] == [
        datetime(2045, 3, 12, 10, tzinfo=UTC),
        datetime(2045, 11, 5, 9, tzinfo=UTC),
    ]
    assert len(la) == len(set(la))


@pytest.mark.parametrize(
    "key", ["America/Santiago", "Australia/Lord_Howe", "Europe/Dublin", "America/Havana", "Pacific/Chatham"]
)
def test_segments_find_every_change_an_hourly_walk_finds_in_the_posix_rule_years(key: str) -> None:
    zone = ZoneInfo(key)
    start = int(datetime(2038, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2040, 1, 1, tzinfo=UTC).timestamp())
    hourly = []
    previous = timeline.offset_at(zone, start)
    for ts in range(start, end, 3600):
        offset = timeline.offset_at(zone, ts)
        if offset != previous:
            hourly.append((ts, offset))  # the first whole hour after the change
        previous = offset
    segs = timeline.segments(zone, start, end)
    assert len(segs) == len(hourly) + 1 == 5
    for (seg_start, _, offset), (hour, hourly_offset) in zip(segs[1:], hourly, strict=True):
        assert hour - 3600 < seg_start <= hour
        assert offset == hourly_offset
        assert timeline.offset_at(zone, seg_start - 1) != offset == timeline.offset_at(zone, seg_start)


def test_segments_cover_the_span_without_gaps() -> None:
    zone = ZoneInfo("Pacific/Apia")
    start = int(datetime(2011, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2013, 1, 1, tzinfo=UTC).timestamp())
    segs = timeline.segments(zone, start, end)
    assert segs[0][0] == start and segs[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segs))
    assert [off // 3600 for _, _, off in segs] == [-10, -11, -10, 14, 13, 14]
    assert timeline.segments(zone, end, end) == []


def test_interval_helpers() -> None:
    assert timeline.merge([(5, 7), (1, 3), (3, 4), (6, 9), (10, 10)]) == [(1, 4), (5, 9)]
    assert timeline.intersect([(0, 5), (8, 12)], [(3, 9), (11, 20)]) == [(3, 5), (8, 9), (11, 12)]
    assert timeline.total([(0, 5), (8, 12)]) == 9
    assert timeline.to_ts(datetime(1970, 1, 2, tzinfo=UTC) + timedelta(microseconds=999_999)) == 86_400


ZONE_KEYS = st.sampled_from(ZONES)
BLOCK_EDGES = st.integers(-300, 600).map(lambda n: n * timeline.BLOCK)  # 1917 to 2075


@settings(max_examples=150, deadline=None)
@given(
    ZONE_KEYS,
    st.one_of(
        st.integers(-1_700_000_000, 3_300_000_000),
        st.tuples(BLOCK_EDGES, st.integers(-2 * timeline.DAY, 2 * timeline.DAY)).map(sum),
    ),
    st.integers(0, 40 * timeline.DAY),
)
def test_segments_from_the_kept_tables_equal_a_fresh_scan(key: str, start: int, length: int) -> None:
    zone = ZoneInfo(key)
    segs = timeline.segments(zone, start, start + length)
    assert segs == timeline.scan(zone, start, start + length)
    assert all(a[2] != b[2] for a, b in itertools.pairwise(segs))  # a block edge is not a change


def test_segments_join_blocks_without_losing_a_change() -> None:
    # Los Angeles, 2026: changes on 03-08 10:00Z and 11-01 09:00Z, a span over several 64-day blocks.
    zone = ZoneInfo("America/Los_Angeles")
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    assert (end - start) // timeline.BLOCK >= 5
    segs = timeline.segments(zone, start, end)
    assert [(datetime.fromtimestamp(a, UTC), off // 3600) for a, _, off in segs] == [
        (datetime(2026, 1, 1, tzinfo=UTC), -8),
        (datetime(2026, 3, 8, 10, tzinfo=UTC), -7),
        (datetime(2026, 11, 1, 9, tzinfo=UTC), -8),
    ]


@st.composite
def hours_ranges(draw: st.DrawFn) -> HoursRange:
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(0, 1440).filter(lambda e: e != start))
    days = draw(st.one_of(st.just(frozenset(range(7))), st.frozensets(st.integers(0, 6), min_size=1)))
    return HoursRange(days=days, start_minute=start, end_minute=end)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(hours_ranges(), max_size=4),
    st.integers(-3_000_000_000, 3_000_000_000),
    st.integers(0, 3 * timeline.WEEK),
)
def test_the_week_table_counts_the_seconds_wall_hours_lists(
    ranges: list[HoursRange], wall_start: int, length: int
) -> None:
    wall_end = wall_start + length
    listed = timeline.intersect(
        timeline.merge(timeline.wall_hours(ranges, wall_start, wall_end)), [(wall_start, wall_end)]
    )
    table = timeline.WeekTable(ranges)
    assert table.between(wall_start, wall_end) == timeline.total(listed)
    assert table.before(wall_end) - table.before(wall_start) == timeline.total(listed)
