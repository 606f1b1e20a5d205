"""Hostile input never escapes as anything but a clear, one-line chatops error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.config import parse_regions
from chatops.domain.models import HoursRange
from chatops.domain.windows import parse_date_time, parse_duration, parse_start
from chatops.errors import ConfigError, TimeInputError

EXAMPLE = (Path(__file__).resolve().parent.parent / "examples" / "iran-2009.toml").read_text()
ZONES = st.sampled_from(["UTC", "Asia/Tehran", "America/Los_Angeles", "Nowhere/Land", "", "../../etc/passwd"])


def one_line(error: Exception) -> None:
    text = str(error)
    # (The input may itself say "Traceback" and be quoted back; a traceback's header may not appear.)
    assert text and "\n" not in text and "Traceback (most recent call last)" not in text


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_durations(text: str) -> None:
    try:
        duration = parse_duration(text)
    except TimeInputError as exc:
        one_line(exc)
    else:
        assert duration > timedelta(0)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40), ZONES)
def test_starts(text: str, tz: str) -> None:
    try:
        start = parse_start(text, tz=tz)
    except TimeInputError as exc:
        one_line(exc)
    else:
        assert start.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.text(max_size=8), ZONES)
def test_dates_and_times(day: str, clock: str, tz: str) -> None:
    try:
        parse_date_time(day, clock, tz=tz)
    except TimeInputError as exc:
        one_line(exc)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"[a-z, -]{0,12}\s?\d{1,2}:\d{2}\s?-\s?\d{1,2}:\d{2}", fullmatch=True)
    | st.text(max_size=30)
)
def test_hour_ranges(text: str) -> None:
    try:
        r = HoursRange.parse(text)
    except ValueError as exc:
        one_line(exc)
    else:
        assert (
            0 <= r.start_minute < 1440
            and 0 <= r.end_minute <= 1440
            and r.start_minute != r.end_minute
            and r.days
        )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(EXAMPLE)), st.integers(0, 20), st.text(max_size=6)), max_size=4))
def test_regions_files_damaged_at_random(edits: list[tuple[int, int, str]]) -> None:
    text = EXAMPLE
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut :]
    try:
        config = parse_regions(text, source="fuzz.toml")
    except ConfigError as exc:
        one_line(exc)
        assert str(exc).startswith("fuzz.toml: ")
    else:
        assert config.regions


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_regions_files_of_any_text(text: str) -> None:
    try:
        parse_regions(text, source="any.toml")
    except ConfigError as exc:
        one_line(exc)
