"""Value objects: hour ranges, regions, windows and policy, and the messages they refuse bad input with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from chatops.domain.models import HoursRange, Policy, Region, RegionsConfig, SensitivePeriod, Window, zone_of


@pytest.mark.parametrize(
    ("text", "days", "start", "end", "wraps", "shown"),
    [
        ("08:00-23:00", {0, 1, 2, 3, 4, 5, 6}, 480, 1380, False, "08:00-23:00"),
        ("fri 10:00-24:00", {4}, 600, 1440, False, "fri 10:00-24:00"),
        ("mon-thu 07:00-23:00", {0, 1, 2, 3}, 420, 1380, False, "mon-thu 07:00-23:00"),
        ("sat,sun 22:00-02:00", {5, 6}, 1320, 120, True, "sat-sun 22:00-02:00"),
        ("fri-mon 01:00-02:00", {4, 5, 6, 0}, 60, 120, False, "mon,fri-sun 01:00-02:00"),
        ("Mon 8:00-9:30", {0}, 480, 570, False, "mon 08:00-09:30"),
        ("00:00-24:00", {0, 1, 2, 3, 4, 5, 6}, 0, 1440, False, "00:00-24:00"),
        ("22:00-00:00", {0, 1, 2, 3, 4, 5, 6}, 1320, 0, True, "22:00-00:00"),
        ("mon, wed - thu 09:00 - 17:00", {0, 2, 3}, 540, 1020, False, "mon,wed-thu 09:00-17:00"),
    ],
)
def test_hours_range_parse_reads_days_and_wall_clock_hours(
    text: str, days: set[int], start: int, end: int, wraps: bool, shown: str
) -> None:
    r = HoursRange.parse(text)
    assert (set(r.days), r.start_minute, r.end_minute, r.wraps, str(r)) == (days, start, end, wraps, shown)
    assert HoursRange.parse(str(r)) == r


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("25:00-26:00", "'25:00' is not a time of day (00:00 to 23:59)"),
        ("24:00-02:00", "'24:00' is not a time of day (00:00 to 23:59)"),
        ("08:00-24:30", "'24:30' is not a time of day (00:00 to 24:00)"),
        ("08:60-09:00", "'08:60' is not a time of day"),
        ("8-9", "'8-9' is not an hours range (write e.g. '08:00-23:00' or 'mon-fri 09:00-17:00')"),
        ("funday 08:00-09:00", "is not an hours range"),
        ("fun 08:00-09:00", "'fun' is not a day (use mon, tue, wed, thu, fri, sat, sun)"),
        ("08:00-08:00", "the range is empty; for a whole day write 00:00-24:00"),
        ("", "is not an hours range"),
    ],
)
def test_hours_range_parse_refuses_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(ValueError) as info:
        HoursRange.parse(text)
    assert words in str(info.value)


def test_hours_range_refuses_a_non_string() -> None:
    with pytest.raises(ValueError, match="expected a string like 'mon-fri 09:00-17:00', got 8"):
        HoursRange.parse(8)  # type: ignore[arg-type]


def test_peak_hours_must_be_a_list() -> None:
    with pytest.raises(ValidationError, match=r"expected a list of ranges"):
        Region(id="x", name="X", timezone="UTC", peak_hours="08:00-23:00")  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["Asia/Teheran", "Mars/Olympus", "", " UTC", "../etc/passwd", "UTC "])
def test_zone_of_refuses_what_is_not_an_iana_zone(key: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        zone_of(key)


def test_region_ids_are_unique_and_sensitive_periods_ordered() -> None:
    with pytest.raises(ValidationError, match="region id 'ir' is used twice"):
        RegionsConfig(
            regions=(
                Region(id="ir", name="Iran", timezone="Asia/Tehran"),
                Region(id="ir", name="Iran again", timezone="Asia/Tehran"),
            )
        )
    with pytest.raises(ValidationError, match="end 2009-06-12 is before start 2009-06-30"):
        SensitivePeriod(start=date(2009, 6, 30), end=date(2009, 6, 12), reason="x")
    with pytest.raises(ValidationError, match="expected a date such as 2009-06-12, not a date and time"):
        SensitivePeriod(start=datetime(2009, 6, 12), end=date(2009, 6, 30), reason="x")


def test_models_are_frozen_and_strict() -> None:
    region = Region(id="ir", name="Iran", timezone="Asia/Tehran")
    with pytest.raises(ValidationError):
        region.name = "Persia"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Region(id="ir", name="Iran", timezone="Asia/Tehran", colour="green")  # type: ignore[call-arg]


def test_windows_are_aware_utc_and_end_after_they_start() -> None:
    start = datetime.fromisoformat("2009-06-16T09:30+04:30")
    window = Window.of(start, timedelta(hours=1))
    assert (window.start.isoformat(), window.end.isoformat()) == (
        "2009-06-16T05:00:00+00:00",
        "2009-06-16T06:00:00+00:00",
    )
    assert window.duration == timedelta(hours=1)
    with pytest.raises(ValidationError, match="naive datetime"):
        Window(start=datetime(2009, 6, 16), end=datetime(2009, 6, 16, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="the window must end after it starts"):
        Window.of(start, timedelta(0))


def test_policy_defaults_and_approvals() -> None:
    policy = Policy()
    assert (policy.horizon, policy.max_window) == (timedelta(days=14), timedelta(days=7))
    assert (policy.approvals_for(flagged=False), policy.approvals_for(flagged=True)) == (1, 2)
