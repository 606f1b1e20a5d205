"""day_strip(): a region's local day in 24 hour cells, peak hours and the window marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatops.domain.daystrip import CLASH, PEAK, QUIET, WINDOW, day_strip, peak_ranges
from chatops.domain.models import Window


def strip(zone: str, peak: tuple[str, ...], start: str, minutes: int) -> str:
    window = Window.of(datetime.fromisoformat(start), timedelta(minutes=minutes))
    return day_strip(zone, peak_ranges(peak), window).cells


@pytest.mark.parametrize(
    ("case", "zone", "peak", "start", "minutes", "cells"),
    [
        (
            "2009: 09:30-10:30 in Tehran, peak 08-23",
            "Asia/Tehran",
            ("08:00-23:00",),
            "2009-06-16T05:00Z",
            60,
            "········=XX============·",
        ),
        (
            "the 2009 move: 01:30 in Tehran",
            "Asia/Tehran",
            ("08:00-23:00",),
            "2009-06-16T21:00Z",
            60,
            "·##·····===============·",
        ),
        (
            "a range that wraps midnight shows on the next morning",
            "UTC",
            ("22:00-02:00",),
            "2026-01-15T12:00Z",
            30,
            "==··········#·········==",
        ),
        (
            "weekday peak hours only on their days (a Saturday)",
            "UTC",
            ("mon-fri 09:00-17:00",),
            "2026-01-17T10:00Z",
            60,
            "··········#·············",
        ),
    ],
)
def test_cells(case: str, zone: str, peak: tuple[str, ...], start: str, minutes: int, cells: str) -> None:
    assert strip(zone, peak, start, minutes) == cells, case


def test_a_window_past_midnight_says_it_goes_on() -> None:
    window = Window.of(datetime(2026, 1, 15, 23, 0, tzinfo=UTC), timedelta(hours=3))
    result = day_strip("UTC", peak_ranges(("09:00-17:00",)), window)
    assert result.cells.endswith(WINDOW) and result.continues and result.day.isoformat() == "2026-01-15"


def test_a_dst_day_still_has_24_cells_and_no_surprise() -> None:
    # 2026-03-08, Los Angeles springs forward at 02:00: the wall clock has no 02:xx hour.
    window = Window.of(datetime(2026, 3, 8, 10, 0, tzinfo=UTC), timedelta(hours=2))  # 03:00-05:00 PDT
    cells = day_strip("America/Los_Angeles", peak_ranges(("07:00-23:00",)), window).cells
    assert len(cells) == 24 and cells[3:5] == WINDOW * 2 and cells[2] == QUIET
    assert set(cells) <= {QUIET, PEAK, WINDOW, CLASH}
