"""Property-based checks: the engine agrees exactly with the minute-by-minute oracle on random inputs.

Windows are whole minutes between 1980 and 2037, where every zone's offset is a whole number of minutes, so
the engine's ``ceil(seconds / 60)`` peak minutes and the oracle's count of peak minutes are the same number.
"""

from __future__ import annotations

import dataclasses
import itertools
import zoneinfo
from datetime import UTC, datetime, timedelta

import oracle  # tests/oracle.py: pytest puts tests/ on sys.path (it has no __init__.py)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatops.domain import evaluate, suggest
from chatops.domain.models import Freeze, HoursRange, Region, SensitivePeriod, Team, Window
from chatops.domain.records import EvaluationSnapshot
from chatops.domain.suggest import ChoiceKind, choose
from chatops.service import Assessment
from chatops.store import canonical_json

ZONES = sorted(zoneinfo.available_timezones())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_MINUTE = int((datetime(1980, 1, 1, tzinfo=UTC) - EPOCH).total_seconds() // 60)
LAST_MINUTE = int((datetime(2037, 12, 25, tzinfo=UTC) - EPOCH).total_seconds() // 60)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def hours_ranges(draw: st.DrawFn) -> HoursRange:
    """Any non-empty range: ordinary, ending at 24:00, wrapping midnight; every day or some days."""
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(0, 1440).filter(lambda e: e != start))
    days = draw(st.one_of(st.just(frozenset(range(7))), st.frozensets(st.integers(0, 6), min_size=1)))
    return HoursRange(days=days, start_minute=start, end_minute=end)


@st.composite
def windows(draw: st.DrawFn, *, max_minutes: int = 3 * 1440) -> Window:
    start = EPOCH + timedelta(minutes=draw(st.integers(FIRST_MINUTE, LAST_MINUTE)))
    minutes = draw(st.one_of(st.integers(1, 180), st.integers(1, max_minutes)))
    return Window.of(start, timedelta(minutes=minutes))


@st.composite
def regions(draw: st.DrawFn, *, near: Window, index: int = 0) -> Region:
    """A region in a random zone whose sensitive periods (if any) fall near the window, so they matter."""
    base = near.start.date()
    periods = []
    for n in range(draw(st.integers(0, 2))):
        first = base + timedelta(days=draw(st.integers(-3, 5)))
        last = first + timedelta(days=draw(st.integers(0, 2)))
        periods.append(SensitivePeriod(start=first, end=last, reason=f"period {n}"))
    return Region(
        id=f"r{index}",
        name=f"Region {index}",
        timezone=draw(st.sampled_from(ZONES)),
        peak_hours=tuple(draw(st.lists(hours_ranges(), max_size=3))),
        sensitive=draw(st.booleans()),
        sensitive_periods=tuple(periods),
    )


@st.composite
def cases(
    draw: st.DrawFn, *, max_minutes: int = 3 * 1440, max_regions: int = 3
) -> tuple[Window, list[Region]]:
    window = draw(windows(max_minutes=max_minutes))
    count = draw(st.integers(1, max_regions))
    return window, [draw(regions(near=window, index=i)) for i in range(count)]


@SETTINGS
@given(cases())
def test_evaluate_equals_the_oracle_minute_by_minute(case: tuple[Window, list[Region]]) -> None:
    window, regs = case
    fast = evaluate(window, regions=regs)
    slow = oracle.evaluate(window, regs)
    assert [
        (r.id, r.peak_overlap_minutes, r.sensitive_peak_minutes, r.sensitive, r.flagged, r.reasons)
        for r in fast.regions
    ] == [(r.id, r.peak_minutes, r.sensitive_peak_minutes, r.sensitive, r.flagged, r.reasons) for r in slow]
    assert fast.flagged == any(r.flagged for r in slow)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(max_minutes=8 * 1440, max_regions=2))
def test_windows_up_to_the_longest_allowed_agree_with_the_oracle(case: tuple[Window, list[Region]]) -> None:
    # max_window_days is 7 by default; the engine's cost does not grow with the window, its answer must not drift.
    window, regs = case
    fast = evaluate(window, regions=regs)
    slow = oracle.evaluate(window, regs)
    assert [
        (r.peak_overlap_minutes, r.sensitive_peak_minutes, r.flagged, r.reasons) for r in fast.regions
    ] == [(r.peak_minutes, r.sensitive_peak_minutes, r.flagged, r.reasons) for r in slow]


@SETTINGS
@given(cases())
def test_peak_minutes_never_exceed_the_duration_and_a_flag_needs_sensitive_peak_minutes(
    case: tuple[Window, list[Region]],
) -> None:
    window, regs = case
    minutes = int(window.duration.total_seconds() // 60)
    for region, result in zip(regs, evaluate(window, regions=regs).regions, strict=True):
        assert 0 <= result.sensitive_peak_minutes <= result.peak_overlap_minutes <= minutes
        assert result.flagged == (result.sensitive_peak_minutes > 0)
        if result.flagged:
            assert result.sensitive
        if region.sensitive:  # always sensitive: every peak minute counts, as before
            assert result.sensitive_peak_minutes == result.peak_overlap_minutes


@st.composite
def teams(draw: st.DrawFn) -> Team | None:
    if draw(st.booleans()):
        return None
    return Team(
        timezone=draw(st.sampled_from(ZONES)),
        working_hours=tuple(draw(st.lists(hours_ranges(), min_size=1, max_size=2))),
    )


@st.composite
def searches(draw: st.DrawFn) -> tuple[Window, list[Region], Team | None, timedelta]:
    window = draw(windows(max_minutes=240))
    regs = [draw(regions(near=window, index=i)) for i in range(draw(st.integers(1, 2)))]
    horizon = timedelta(hours=draw(st.integers(0, 72)), minutes=draw(st.sampled_from([0, 7, 15, 59])))
    return window, regs, draw(teams()), horizon


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches())
def test_suggestions_equal_the_oracles_and_are_never_flagged(
    search: tuple[Window, list[Region], Team | None, timedelta],
) -> None:
    window, regs, team, horizon = search
    found = suggest(window, regions=regs, team=team, horizon=horizon, count=4)
    assert found == oracle.suggest(window, regions=regs, team=team, horizon=horizon, count=4)
    starts = [s.start for s in found]
    assert starts == sorted(set(starts))
    for option in found:
        assert option.duration == window.duration
        assert window.start <= option.start <= window.start + horizon
        assert option.start.timestamp() % (15 * 60) == 0
        assert not evaluate(option, regions=regs).flagged
        assert not oracle.flagged(option, regs)
        assert oracle.in_team_hours(option, team)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches())
def test_choices_are_unflagged_real_alternatives(
    search: tuple[Window, list[Region], Team | None, timedelta],
) -> None:
    window, regs, team, horizon = search
    found = choose(window, regions=regs, team=team, horizon=horizon)
    earliest = suggest(window, regions=regs, horizon=horizon, count=1)
    assert bool(found) == bool(earliest)  # a choice whenever any unflagged window exists
    starts = [c.start for c in found]
    assert starts == sorted(starts) and len(found) <= 3
    for a, b in itertools.pairwise(starts):
        assert (b - a) >= timedelta(hours=1)  # never neighbours of one slot
    for choice in found:
        assert choice.window.duration == window.duration and choice.why
        assert window.start <= choice.start <= window.start + horizon
        assert not oracle.flagged(choice.window, regs)
        if choice.kind is not ChoiceKind.EARLIEST:
            assert oracle.in_team_hours(choice.window, team)
    kinds = [c.kind for c in found]
    if ChoiceKind.EARLIEST in kinds:
        assert found[0].kind is ChoiceKind.EARLIEST and found[0].window == earliest[0]


@settings(max_examples=40, deadline=None)
@given(windows(max_minutes=2 * 1440), st.sampled_from(ZONES), st.integers(-2, 3))
def test_a_one_day_sensitive_period_is_reported_exactly_when_the_window_touches_that_local_date(
    window: Window, zone: str, days_after_start: int
) -> None:
    day = window.start.date() + timedelta(days=days_after_start)
    region = Region(
        id="x",
        name="X",
        timezone=zone,
        sensitive_periods=(SensitivePeriod(start=day, end=day, reason="that day"),),
    )
    touched = {t.astimezone(zoneinfo.ZoneInfo(zone)).date() for t in oracle.minutes_of(window)}
    assert evaluate(window, regions=[region]).regions[0].sensitive == (day in touched)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(searches(), st.booleans())
def test_an_evaluation_document_is_the_text_its_typed_snapshot_stores(
    search: tuple[Window, list[Region], Team | None, timedelta], frozen: bool
) -> None:
    # A proposal's snapshot is encoded once, from the document, for its row and for its audit event; the event
    # stored the typed snapshot's dump before. Both must be the same text, so events are stored as they were.
    window, regs, team, horizon = search
    evaluation = evaluate(window, regions=regs)
    if frozen:
        freeze = Freeze(start=window.start, end=window.end, summary="Year-end freeze", calendar="ops")
        evaluation = dataclasses.replace(evaluation, freezes=(freeze,))
    document = Assessment(evaluation, choose(window, regions=regs, team=team, horizon=horizon)).document()
    typed = EvaluationSnapshot.model_validate(document)
    assert canonical_json(typed.model_dump(mode="json", exclude_none=True)) == canonical_json(document)
