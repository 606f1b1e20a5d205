"""suggest(): the earliest unflagged windows of the same length, on the 15-minute UTC grid, within horizon."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import oracle  # tests/oracle.py: pytest puts tests/ on sys.path (it has no __init__.py)
import pytest

from chatops.domain import evaluate, suggest
from chatops.domain.models import Region, SensitivePeriod, Team, Window

TEHRAN = Region(
    id="ir",
    name="Iran",
    timezone="Asia/Tehran",
    peak_hours=("08:00-23:00",),
    sensitive_periods=(SensitivePeriod(start=date(2009, 6, 12), end=date(2009, 6, 30), reason="protests"),),
)
ALWAYS_UTC = Region(id="u", name="UTC", timezone="UTC", peak_hours=("09:00-17:00",), sensitive=True)


def window(start: str, minutes: int) -> Window:
    return Window.of(datetime.fromisoformat(start), timedelta(minutes=minutes))


def starts(found: list[Window]) -> list[str]:
    return [w.start.strftime("%Y-%m-%dT%H:%M") for w in found]


@pytest.mark.parametrize(
    ("case", "start", "minutes", "expected"),
    [
        ("the first slot after peak", "2026-01-15T10:00Z", 60, ["2026-01-15T17:00", "2026-01-15T17:15"]),
        ("an off-grid start rounds up", "2026-01-15T17:01Z", 60, ["2026-01-15T17:15", "2026-01-15T17:30"]),
        ("a clear start is its own first", "2026-01-15T18:00Z", 30, ["2026-01-15T18:00", "2026-01-15T18:15"]),
        ("the last slot before peak", "2026-01-15T07:00Z", 120, ["2026-01-15T07:00", "2026-01-15T17:00"]),
        ("too long for any night", "2026-01-15T10:00Z", 17 * 60, []),
        ("exactly one night long", "2026-01-15T10:00Z", 16 * 60, ["2026-01-15T17:00", "2026-01-16T17:00"]),
    ],
)
def test_suggestions_around_an_always_sensitive_office_day(
    case: str, start: str, minutes: int, expected: list[str]
) -> None:
    w = window(start, minutes)
    found = suggest(w, regions=[ALWAYS_UTC], horizon=timedelta(days=1, hours=7), count=2)
    assert starts(found) == expected, case
    assert found == oracle.suggest(w, regions=[ALWAYS_UTC], horizon=timedelta(days=1, hours=7), count=2)


def test_the_horizon_is_inclusive_and_measured_from_the_proposed_start() -> None:
    w = window("2026-01-15T10:00Z", 60)
    assert starts(suggest(w, regions=[ALWAYS_UTC], horizon=timedelta(hours=7), count=3)) == [
        "2026-01-15T17:00"
    ]
    assert suggest(w, regions=[ALWAYS_UTC], horizon=timedelta(hours=6, minutes=59), count=3) == []


def test_team_hours_keep_suggestions_inside_working_time() -> None:
    team = Team(timezone="America/Los_Angeles", working_hours=("mon-fri 09:00-17:00",))
    w = window("2009-06-16T05:00Z", 60)
    found = suggest(w, regions=[TEHRAN], team=team, horizon=timedelta(days=14), count=3)
    # Tehran's peak ends at 23:00 +04:30 = 18:30Z = 11:30 PDT; the team works until 17:00 PDT = 00:00Z.
    assert starts(found) == ["2009-06-16T18:30", "2009-06-16T18:45", "2009-06-16T19:00"]
    late = suggest(
        window("2009-06-16T23:15Z", 60), regions=[TEHRAN], team=team, horizon=timedelta(days=3), count=1
    )
    assert starts(late) == ["2009-06-17T18:30"]  # 23:15Z + 1h ends after 17:00 PDT
    for option in found + late:
        assert oracle.in_team_hours(option, team)
        assert not evaluate(option, regions=[TEHRAN]).flagged


def test_a_weekend_without_team_hours_is_skipped() -> None:
    team = Team(timezone="UTC", working_hours=("mon-fri 18:00-22:00",))
    w = window("2026-01-16T21:30Z", 60)  # a Friday; 21:30 + 1h runs past 22:00
    found = suggest(w, regions=[ALWAYS_UTC], team=team, horizon=timedelta(days=4), count=1)
    assert starts(found) == ["2026-01-19T18:00"]  # Monday


def test_regions_that_can_never_be_flagged_do_not_constrain() -> None:
    quiet = Region(id="q", name="Quiet", timezone="UTC", peak_hours=("00:00-24:00",))
    no_peak = Region(id="n", name="No peak", timezone="UTC", sensitive=True)
    w = window("2026-01-15T10:07Z", 45)
    assert starts(suggest(w, regions=[quiet, no_peak], count=2)) == ["2026-01-15T10:15", "2026-01-15T10:30"]


def test_count_zero_and_an_always_flagged_world_give_nothing() -> None:
    always = Region(id="a", name="A", timezone="UTC", peak_hours=("00:00-24:00",), sensitive=True)
    w = window("2026-01-15T10:00Z", 60)
    assert suggest(w, regions=[ALWAYS_UTC], count=0) == []
    assert suggest(w, regions=[always], horizon=timedelta(days=2)) == []


def test_sensitive_dates_are_avoided_whole_local_days_at_a_time() -> None:
    # Sensitive on 2026-01-15 in Tokyo (+09:00): that local date is 2026-01-14T15:00Z to 2026-01-15T15:00Z.
    tokyo = Region(
        id="jp",
        name="Japan",
        timezone="Asia/Tokyo",
        peak_hours=("00:00-24:00",),
        sensitive_periods=(SensitivePeriod(start=date(2026, 1, 15), end=date(2026, 1, 15), reason="x"),),
    )
    found = suggest(window("2026-01-14T14:30Z", 60), regions=[tokyo], count=2)
    assert starts(found) == ["2026-01-15T15:00", "2026-01-15T15:15"]
    assert starts(suggest(window("2026-01-14T14:15Z", 60), regions=[tokyo], count=1)) == ["2026-01-15T15:00"]
    # Ending exactly when the date starts does not touch it.
    assert starts(suggest(window("2026-01-14T14:00Z", 60), regions=[tokyo], count=1)) == ["2026-01-14T14:00"]


def test_peak_time_on_an_ordinary_date_next_to_a_sensitive_one_does_not_make_a_start_bad() -> None:
    # Sensitive on 2026-01-15 (UTC), peak 20:00-23:00. A window from 21:45 on the 14th to 00:45 on the 15th
    # touches the sensitive date, but its peak minutes are all on the 14th: it is not flagged, so it is its own
    # first suggestion. The same window a day later spends 21:45-23:00 of the 15th at peak: flagged.
    utc = Region(
        id="x",
        name="X",
        timezone="UTC",
        peak_hours=("20:00-23:00",),
        sensitive_periods=(SensitivePeriod(start=date(2026, 1, 15), end=date(2026, 1, 15), reason="x"),),
    )
    assert starts(suggest(window("2026-01-14T21:45Z", 180), regions=[utc], count=1)) == ["2026-01-14T21:45"]
    later = suggest(window("2026-01-15T19:00Z", 180), regions=[utc], count=2)
    # 23:00 on the 15th is the first start clear of its peak; 17:00 would reach 20:00.
    assert starts(later) == ["2026-01-15T23:00", "2026-01-15T23:15"]
    assert all(not evaluate(w, regions=[utc]).flagged for w in later)
