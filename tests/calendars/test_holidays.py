"""Public holidays: a region's make it sensitive (the reason names the holiday), a team's are days off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from chatops.calendars import Calendars, holidays_between
from chatops.config import parse_regions, regions_file_problems
from chatops.domain import evaluate, suggest
from chatops.domain.models import HolidaySource, Window
from chatops.errors import ConfigError

IRAN = """
[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]
holidays = "IR"
"""


def _assess(text: str, start: datetime, hours: int = 1) -> tuple[bool, tuple[str, ...]]:
    config = parse_regions(text, source="test.toml")
    window = Window.of(start, timedelta(hours=hours))
    regions = Calendars(config, base_dir=Path(".")).regions(config.regions, window.start, window.end)
    result = evaluate(window, regions=regions).regions[0]
    return result.flagged, result.reasons


def test_nowruz_in_tehran_is_a_sensitive_day_named_in_english_and_persian() -> None:
    # 2026-03-21 10:00 in Tehran (UTC+03:30) is Nowruz, inside the peak.
    flagged, reasons = _assess(IRAN, datetime(2026, 3, 21, 6, 30, tzinfo=UTC))
    assert flagged
    (reason,) = reasons
    assert reason.startswith("Public holiday: ")
    assert "Nowruz" in reason and "نوروز" in reason


def test_an_ordinary_day_in_tehran_is_not_sensitive() -> None:
    # 2026-05-12 (a Tuesday) is no public holiday in Iran.
    assert _assess(IRAN, datetime(2026, 5, 12, 6, 30, tzinfo=UTC)) == (False, ())


def test_the_holiday_is_a_local_date() -> None:
    # 23:00 UTC on 2026-03-20 is already 02:30 on 2026-03-21 in Tehran, but outside the peak: sensitive, not
    # flagged; the same UTC date at 06:30 (10:00 on the 20th) is the Oil Nationalization Day.
    flagged, reasons = _assess(IRAN, datetime(2026, 3, 20, 23, 0, tzinfo=UTC))
    assert not flagged and any("Nowruz" in r for r in reasons)
    flagged, reasons = _assess(IRAN, datetime(2026, 3, 20, 6, 30, tzinfo=UTC))
    assert flagged and "Nationalization" in reasons[0]


def test_observed_days_and_subdivisions() -> None:
    california = HolidaySource(country="US", subdivision="CA")
    days = dict(holidays_between(california, date(2027, 12, 20), date(2027, 12, 31)))
    assert days[date(2027, 12, 24)] == "Christmas Day (observed)"
    not_observed = HolidaySource(country="US", subdivision="CA", observed=False)
    assert date(2027, 12, 24) not in dict(
        holidays_between(not_observed, date(2027, 12, 20), date(2027, 12, 31))
    )
    # Cesar Chavez Day is a California state holiday, not a federal one.
    ca_2026 = {name for _, name in holidays_between(california, date(2026, 1, 1), date(2026, 12, 31))}
    us_2026 = {
        name
        for _, name in holidays_between(HolidaySource(country="US"), date(2026, 1, 1), date(2026, 12, 31))
    }
    assert any("Chavez" in n for n in ca_2026) and not any("Chavez" in n for n in us_2026)


TEAM = """
[team]
timezone = "America/Los_Angeles"
working_hours = ["mon-fri 09:00-17:00"]
holidays = { country = "US", subdivision = "CA" }

[[regions]]
id = "us-west"
name = "United States (West)"
timezone = "America/Los_Angeles"
peak_hours = ["thu 00:00-24:00"]
sensitive = true
"""


def test_the_teams_holidays_are_days_off_for_suggestions() -> None:
    config = parse_regions(TEAM, source="test.toml")
    window = Window.of(datetime(2027, 12, 23, 17, 0, tzinfo=UTC), timedelta(hours=1))
    calendars = Calendars(config, base_dir=Path("."))
    reach = window.end + timedelta(days=14)
    without = suggest(window, regions=config.regions, team=config.team, count=1)
    team = calendars.team(config.team, window.start, reach)
    assert team is not None and date(2027, 12, 24) in team.days_off
    with_holidays = suggest(window, regions=config.regions, team=team, count=1)
    # Friday 24 December is Christmas (observed) in California: the first suggestion moves to Monday.
    assert without[0].start.astimezone(config.team.zone).date() == date(2027, 12, 24)
    assert with_holidays[0].start.astimezone(config.team.zone).date() == date(2027, 12, 27)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"XX"', "no public holidays are known for country 'XX'"),
        ('"US-ZZ"', "country 'US' has no subdivision 'ZZ'"),
        ('{ country = "IR", categories = ["nonsense"] }', "nonsense"),
        ('"iran"', "must be an ISO 3166 country code in capitals, such as 'IR' or 'US' (not 'iran')"),
    ],
)
def test_a_holiday_source_that_names_nothing_is_a_config_error_with_its_line(
    value: str, expected: str
) -> None:
    text = IRAN.replace('holidays = "IR"', f"holidays = {value}")
    with pytest.raises(ConfigError, match=r"region 'ir'.*holidays") as caught:
        parse_regions(text, source="test.toml")
    assert expected in str(caught.value)
    _, problems = regions_file_problems(text, source="test.toml")
    assert len(problems) == 1 and problems[0].startswith("test.toml:7: ") and expected in problems[0]
