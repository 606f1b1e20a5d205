"""Reading what people type: durations, starts, dates and times, with DST gaps and folds refused clearly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatops.domain.windows import (
    format_duration,
    parse_date_time,
    parse_duration,
    parse_start,
    resolve_local,
)
from chatops.errors import AmbiguousTimeError, NonexistentTimeError, TimeInputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("1d12h30m", timedelta(days=1, hours=12, minutes=30)),
        ("45min", timedelta(minutes=45)),
        (" 45m ", timedelta(minutes=45)),
        ("2H", timedelta(hours=2)),
    ],
)
def test_parse_duration_reads_days_hours_and_minutes(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "1", "h", "1.5h", "-1h", "1x", "1h30", "m1", "99999d", "one hour"]
)
def test_parse_duration_refuses_what_it_cannot_read_and_says_how_to_write_it(text: str) -> None:
    with pytest.raises(TimeInputError, match="is not a duration; write it like 90m, 1h, 1h30m or 2d") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["0m", "0h", "0d0h0m"])
def test_parse_duration_refuses_zero(text: str) -> None:
    with pytest.raises(TimeInputError, match="must be longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("minutes", "text"), [(90, "1h30m"), (60, "1h"), (2880, "2d"), (1, "1m"), (1441, "1d1m"), (0, "0m")]
)
def test_format_duration_writes_what_parse_duration_reads(minutes: int, text: str) -> None:
    assert format_duration(timedelta(minutes=minutes)) == text
    if minutes:
        assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2009-06-15T22:00", "America/Los_Angeles", "2009-06-16T05:00:00+00:00"),
        ("2009-06-15 22:00", "America/Los_Angeles", "2009-06-16T05:00:00+00:00"),
        ("2009-06-16T05:00Z", "America/Los_Angeles", "2009-06-16T05:00:00+00:00"),
        ("2009-06-16T09:30+04:30", "UTC", "2009-06-16T05:00:00+00:00"),
        ("2026-11-01T01:30-07:00", "America/Los_Angeles", "2026-11-01T08:30:00+00:00"),
        ("2026-11-01T01:30-08:00", "America/Los_Angeles", "2026-11-01T09:30:00+00:00"),
        ("2026-03-08T02:30-08:00", "America/Los_Angeles", "2026-03-08T10:30:00+00:00"),
        ("2026-01-15T09:00", "UTC", "2026-01-15T09:00:00+00:00"),
        ("2026-01-15T09:00", "Asia/Kathmandu", "2026-01-15T03:15:00+00:00"),
    ],
)
def test_parse_start_reads_local_times_and_explicit_offsets(text: str, tz: str, expected: str) -> None:
    assert parse_start(text, tz=tz).isoformat() == expected


@pytest.mark.parametrize(
    "text", ["", "2009-06-15", "yesterday", "2009-13-01T00:00", "2009-06-15T24:00", "22:00"]
)
def test_parse_start_refuses_what_is_not_a_date_and_time(text: str) -> None:
    with pytest.raises(TimeInputError, match=r"is not a date and time; write e\.g\. 2009-06-15T22:00"):
        parse_start(text)


@pytest.mark.parametrize(
    "text", ["9999-12-31T00:00Z", "9999-12-31T23:59", "0001-01-01T00:00", "0999-06-01T00:00Z"]
)
def test_parse_start_refuses_years_the_engine_cannot_look_around(text: str) -> None:
    with pytest.raises(TimeInputError, match="is out of range; give a year from 1000 to 9000"):
        parse_start(text, tz="America/Los_Angeles")


def test_parse_start_names_an_unknown_zone() -> None:
    with pytest.raises(TimeInputError, match=r"unknown time zone 'Mars/Olympus' \(use an IANA name"):
        parse_start("2026-01-15T09:00", tz="Mars/Olympus")


def test_a_time_in_a_dst_gap_is_refused_with_the_jump() -> None:
    with pytest.raises(NonexistentTimeError) as info:
        parse_start("2026-03-08T02:30", tz="America/Los_Angeles")
    assert str(info.value) == (
        "2026-03-08 02:30 does not exist in America/Los_Angeles: clocks jump from 02:00 to 03:00 that day "
        "(UTC-08:00 PST to UTC-07:00 PDT); pick a time outside that gap"
    )


def test_a_time_in_a_dst_fold_is_refused_with_both_readings() -> None:
    with pytest.raises(AmbiguousTimeError) as info:
        parse_start("2026-11-01T01:30", tz="America/Los_Angeles")
    assert str(info.value) == (
        "2026-11-01 01:30 happens twice in America/Los_Angeles: first at UTC-07:00 PDT, "
        "then at UTC-08:00 PST; give the offset to choose, "
        "e.g. 2026-11-01T01:30-07:00 or 2026-11-01T01:30-08:00"
    )


@pytest.mark.parametrize(
    ("naive", "tz", "error", "words"),
    [
        (
            "2026-09-06T00:30",
            "America/Santiago",
            NonexistentTimeError,
            "clocks jump from 00:00 to 01:00 that day",
        ),
        ("2026-10-04T02:15", "Australia/Lord_Howe", NonexistentTimeError, "from 02:00 to 02:30 that day"),
        (
            "2026-04-05T01:45",
            "Australia/Lord_Howe",
            AmbiguousTimeError,
            "first at UTC+11:00, then at UTC+10:30",
        ),
        ("2009-03-22T00:30", "Asia/Tehran", NonexistentTimeError, "(UTC+03:30 to UTC+04:30)"),
        ("2026-03-29T01:30", "Europe/Dublin", NonexistentTimeError, "(UTC+00:00 GMT to UTC+01:00 IST)"),
        (
            "2026-10-25T01:30",
            "Europe/Dublin",
            AmbiguousTimeError,
            "first at UTC+01:00 IST, then at UTC+00:00 GMT",
        ),
        (
            "2011-12-30T12:00",
            "Pacific/Apia",
            NonexistentTimeError,
            "clocks jump from 2011-12-30 00:00 to 2011-12-31 00:00 (UTC-10:00 to UTC+14:00)",
        ),
    ],
)
def test_gaps_and_folds_everywhere(naive: str, tz: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        parse_start(naive, tz=tz)
    assert words in str(info.value)
    assert type(info.value) is error


@pytest.mark.parametrize(
    ("naive", "tz", "expected"),
    [
        ("2026-03-08T01:59", "America/Los_Angeles", "2026-03-08T09:59:00+00:00"),
        ("2026-03-08T03:00", "America/Los_Angeles", "2026-03-08T10:00:00+00:00"),
        ("2026-11-01T00:59", "America/Los_Angeles", "2026-11-01T07:59:00+00:00"),
        ("2026-11-01T02:00", "America/Los_Angeles", "2026-11-01T10:00:00+00:00"),
        ("2026-09-06T01:00", "America/Santiago", "2026-09-06T04:00:00+00:00"),
    ],
)
def test_times_next_to_a_gap_or_fold_are_accepted(naive: str, tz: str, expected: str) -> None:
    assert parse_start(naive, tz=tz).isoformat() == expected


def test_resolve_local_takes_only_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        resolve_local(datetime(2026, 1, 1, tzinfo=UTC), UTC)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "clock", "tz", "expected"),
    [
        ("2026-12-07", "22:00", "America/Los_Angeles", "2026-12-08T06:00:00+00:00"),
        ("2026-12-07", "7:05", "UTC", "2026-12-07T07:05:00+00:00"),
        (" 2026-06-16 ", " 09:30 ", "Asia/Tehran", "2026-06-16T06:00:00+00:00"),
    ],
)
def test_parse_date_time_reads_a_date_and_a_clock_in_a_zone(
    day: str, clock: str, tz: str, expected: str
) -> None:
    assert parse_date_time(day, clock, tz=tz).isoformat() == expected


@pytest.mark.parametrize(
    ("day", "clock", "error", "words"),
    [
        ("2026-13-07", "22:00", TimeInputError, "'2026-13-07' is not a date; write it as YYYY-MM-DD"),
        ("tomorrow", "22:00", TimeInputError, "'tomorrow' is not a date"),
        (
            "2026-12-07",
            "24:00",
            TimeInputError,
            "'24:00' is not a time of day; write it as HH:MM in 24-hour form",
        ),
        ("2026-12-07", "7pm", TimeInputError, "'7pm' is not a time of day"),
        ("2026-12-07", "12:60", TimeInputError, "'12:60' is not a time of day"),
        ("2026-03-08", "02:30", NonexistentTimeError, "clocks jump from 02:00 to 03:00"),
        ("2026-11-01", "01:30", AmbiguousTimeError, "happens twice in America/Los_Angeles"),
        ("9999-12-31", "23:00", TimeInputError, "out of range"),
    ],
)
def test_parse_date_time_refuses_with_a_message_that_says_what_to_write(
    day: str, clock: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as info:
        parse_date_time(day, clock, tz="America/Los_Angeles")
    assert words in str(info.value)
