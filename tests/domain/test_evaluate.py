"""evaluate(): peak minutes, sensitivity and flags through every time hazard tzdata holds.

Each case states the expected peak minutes worked out by hand, and also checks the engine against the
minute-by-minute oracle, so a wrong expectation and a wrong engine cannot agree by accident.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import oracle  # tests/oracle.py: pytest puts tests/ on sys.path (it has no __init__.py)
import pytest

from chatops.domain import evaluate
from chatops.domain.evaluate import evaluation_document
from chatops.domain.models import Region, SensitivePeriod, Window

LA, SANTIAGO, HAVANA = "America/Los_Angeles", "America/Santiago", "America/Havana"
LORD_HOWE, APIA = "Australia/Lord_Howe", "Pacific/Apia"


def region(
    zone: str, *peak: str, periods: tuple[tuple[str, str], ...] = (), sensitive: bool = True
) -> Region:
    return Region(
        id="r",
        name="Region",
        timezone=zone,
        peak_hours=peak,
        sensitive=sensitive,
        sensitive_periods=tuple(
            SensitivePeriod(start=date.fromisoformat(a), end=date.fromisoformat(b), reason=f"{a}..{b}")
            for a, b in periods
        ),
    )


def window(start: str, minutes: int) -> Window:
    """``start`` must carry its offset (``Z`` or ``±hh:mm``)."""
    return Window.of(datetime.fromisoformat(start), timedelta(minutes=minutes))


def peak_minutes(start: str, minutes: int, reg: Region) -> int:
    w = window(start, minutes)
    result = evaluate(w, regions=[reg]).regions[0]
    assert result.peak_overlap_minutes == oracle.evaluate_region(w, reg).peak_minutes
    return result.peak_overlap_minutes


@pytest.mark.parametrize(
    ("case", "zone", "peak", "start", "minutes", "expected"),
    [
        # DST fold: America/Los_Angeles 2026-11-01, 02:00 PDT becomes 01:00 PST; 01:00-01:59 happens twice.
        ("fold repeats a short range", LA, "01:00-01:30", "2026-11-01T00:00-07:00", 240, 60),
        ("fold repeats a whole hour", LA, "01:00-02:00", "2026-11-01T00:00-07:00", 240, 120),
        ("fold: only the second 01:xx", LA, "01:00-02:00", "2026-11-01T01:00-08:00", 60, 60),
        ("fold day, range after the fold", LA, "02:00-03:00", "2026-11-01T00:00-07:00", 240, 60),
        # DST gap: 2026-03-08, 02:00 PST becomes 03:00 PDT; 02:00-02:59 never happens.
        ("a range inside the gap", LA, "02:00-03:00", "2026-03-08T00:00-08:00", 1380, 0),
        ("a range inside the gap, partly", LA, "02:15-02:45", "2026-03-08T00:00-08:00", 1380, 0),
        ("a range across the gap", LA, "01:30-03:30", "2026-03-08T00:00-08:00", 1380, 60),
        ("the day after the gap is whole", LA, "02:00-03:00", "2026-03-09T00:00-07:00", 1440, 60),
        # Half- and quarter-hour offsets.
        ("Kolkata +05:30", "Asia/Kolkata", "09:00-17:00", "2026-01-15T03:00Z", 60, 30),
        ("Kathmandu +05:45", "Asia/Kathmandu", "09:00-17:00", "2026-01-15T03:00Z", 60, 45),
        ("Eucla +08:45", "Australia/Eucla", "09:00-17:00", "2026-01-15T00:00Z", 60, 45),
        ("Chatham +13:45 in summer", "Pacific/Chatham", "09:00-17:00", "2026-01-14T19:00Z", 60, 45),
        ("St Johns -03:30", "America/St_Johns", "09:00-17:00", "2026-01-15T12:00Z", 60, 30),
        # Lord Howe: DST is 30 minutes (+10:30 / +11:00).
        ("Lord Howe fold 01:30-02:00 twice", LORD_HOWE, "01:30-02:00", "2026-04-04T13:00Z", 240, 60),
        ("Lord Howe gap 02:00-02:30 never", LORD_HOWE, "02:00-02:30", "2026-10-03T13:00Z", 300, 0),
        ("Lord Howe day of the gap", LORD_HOWE, "00:00-24:00", "2026-10-03T13:30Z", 1410, 1410),
        # DST changes at midnight: the day starts at 01:00, or the previous evening's last hour repeats.
        ("Santiago: no 00:xx on 2026-09-06", SANTIAGO, "sun 00:00-01:00", "2026-09-05T12:00Z", 1440, 0),
        ("Santiago: Saturday's last hour", SANTIAGO, "sat 23:00-24:00", "2026-09-05T12:00Z", 1440, 60),
        ("Santiago: wrapping across the gap", SANTIAGO, "sat 22:00-02:00", "2026-09-05T12:00Z", 1440, 180),
        ("Santiago: 23:xx twice on 2026-04-04", SANTIAGO, "sat 23:00-24:00", "2026-04-04T12:00Z", 1440, 120),
        ("Havana: no 00:xx on 2026-03-08", HAVANA, "00:00-01:00", "2026-03-07T12:00Z", 1440, 0),
        ("Havana: 00:xx on 2026-03-09", HAVANA, "00:00-01:00", "2026-03-08T12:00Z", 1440, 60),
        ("Tehran 2009: no 00:xx on 03-22", "Asia/Tehran", "00:00-01:00", "2009-03-21T18:00Z", 1440, 0),
        ("Tehran 2009: 23:xx twice on 09-21", "Asia/Tehran", "23:00-24:00", "2009-09-21T12:00Z", 720, 120),
        # Ranges that wrap midnight belong to the day they start on.
        ("22:00-02:00 across midnight", "UTC", "22:00-02:00", "2026-01-12T21:00Z", 360, 240),
        ("22:00-02:00 morning part", "UTC", "22:00-02:00", "2026-01-13T00:00Z", 180, 120),
        ("fri 22:00-02:00 runs into Saturday", "UTC", "fri 22:00-02:00", "2026-01-16T20:00Z", 600, 240),
        ("fri 22:00-02:00 on a Saturday morning", "UTC", "fri 22:00-02:00", "2026-01-17T00:00Z", 60, 60),
        ("fri 22:00-02:00 not on Friday morning", "UTC", "fri 22:00-02:00", "2026-01-16T00:00Z", 180, 0),
        ("sun 22:00-02:00 reaches Monday", "UTC", "sun 22:00-02:00", "2026-01-19T00:00Z", 180, 120),
        ("22:00-00:00 is the evening only", "UTC", "22:00-00:00", "2026-01-12T21:00Z", 240, 120),
        # 24:00 ends a range at midnight.
        ("sat 20:00-24:00", "UTC", "sat 20:00-24:00", "2026-01-17T23:00Z", 120, 60),
        ("00:00-24:00 is the whole day", "UTC", "00:00-24:00", "2026-01-17T05:00Z", 1440, 1440),
        # Windows spanning several days.
        ("three days of office hours", "UTC", "09:00-17:00", "2026-01-12T00:00Z", 3 * 1440, 3 * 480),
        ("weekdays only, over a weekend", "UTC", "mon-fri 09:00-17:00", "2026-01-16T00:00Z", 5760, 960),
        ("a week in Tehran", "Asia/Tehran", "08:00-23:00", "2026-01-12T00:00Z", 7 * 1440, 7 * 900),
        # Southern hemisphere: DST in January, not in July.
        ("Sydney in January (+11)", "Australia/Sydney", "10:00-11:00", "2026-01-15T00:00Z", 60, 0),
        ("Sydney in July (+10)", "Australia/Sydney", "10:00-11:00", "2026-07-15T00:00Z", 60, 60),
        ("Sydney fold 02:00-03:00 twice", "Australia/Sydney", "02:00-03:00", "2026-04-04T14:00Z", 300, 120),
        # Negative DST: Europe/Dublin's winter GMT is the "daylight" time in tzdata; only the offsets matter.
        ("Dublin in January (+00)", "Europe/Dublin", "09:00-10:00", "2026-01-15T09:00Z", 60, 60),
        ("Dublin in July (+01)", "Europe/Dublin", "09:00-10:00", "2026-07-15T08:00Z", 60, 60),
        ("Dublin fold 01:00-02:00 twice", "Europe/Dublin", "01:00-02:00", "2026-10-24T23:00Z", 240, 120),
        ("Dublin gap 01:00-02:00 never", "Europe/Dublin", "01:00-02:00", "2026-03-28T23:00Z", 240, 0),
        # Pacific/Apia skipped Friday 2011-12-30 entirely (-10:00 to +14:00).
        ("Apia: no Friday 2011-12-30", APIA, "fri 00:00-24:00", "2011-12-29T00:00Z", 3 * 1440, 0),
        ("Apia: Thursday night ends at 24:00", APIA, "thu 22:00-02:00", "2011-12-29T00:00Z", 2880, 120),
        ("Apia: Saturday is whole", APIA, "sat 00:00-24:00", "2011-12-29T00:00Z", 3 * 1440, 1440),
        # Historical offsets: Moscow was +04:00 from 2011 to 2014, +03:00 since.
        ("Moscow 2012 (+04)", "Europe/Moscow", "09:00-10:00", "2012-06-15T06:00Z", 60, 0),
        ("Moscow 2016 (+03)", "Europe/Moscow", "09:00-10:00", "2016-06-15T06:00Z", 60, 60),
    ],
)
def test_peak_minutes_are_real_elapsed_minutes(
    case: str, zone: str, peak: str, start: str, minutes: int, expected: int
) -> None:
    assert peak_minutes(start, minutes, region(zone, peak)) == expected, case


@pytest.mark.parametrize(
    ("case", "zone", "period", "start", "minutes", "sensitive"),
    [
        # Santiago 2026-09-06 starts at 01:00 (00:00-00:59 is skipped): 04:00Z is that date's first instant.
        ("ends just before the date", SANTIAGO, ("2026-09-06", "2026-09-30"), "2026-09-06T03:00Z", 60, False),
        ("touches its first minute", SANTIAGO, ("2026-09-06", "2026-09-30"), "2026-09-06T03:00Z", 61, True),
        # Santiago 2026-04-04 ends twice: 23:xx repeats, so the date lasts until 04:00Z.
        (
            "the repeated hour is that date",
            SANTIAGO,
            ("2026-01-01", "2026-04-04"),
            "2026-04-05T03:30Z",
            30,
            True,
        ),
        (
            "the next date starts at 04:00Z",
            SANTIAGO,
            ("2026-01-01", "2026-04-04"),
            "2026-04-05T04:00Z",
            60,
            False,
        ),
        # Tehran 2009-03-22 started at 01:00 (+04:30), i.e. at 2009-03-21T20:30Z.
        (
            "Tehran: before 2009-03-22",
            "Asia/Tehran",
            ("2009-03-22", "2009-03-22"),
            "2009-03-21T19:30Z",
            60,
            False,
        ),
        (
            "Tehran: first minute of 03-22",
            "Asia/Tehran",
            ("2009-03-22", "2009-03-22"),
            "2009-03-21T19:30Z",
            61,
            True,
        ),
        (
            "Havana: 2026-03-08 from 05:00Z",
            HAVANA,
            ("2026-03-08", "2026-03-08"),
            "2026-03-08T04:00Z",
            60,
            False,
        ),
        (
            "Havana: 2026-03-08 first minute",
            HAVANA,
            ("2026-03-08", "2026-03-08"),
            "2026-03-08T04:00Z",
            61,
            True,
        ),
        # A date that never happened locally is never touched.
        (
            "Apia: 2011-12-30 never happened",
            APIA,
            ("2011-12-30", "2011-12-30"),
            "2011-12-29T00:00Z",
            2880,
            False,
        ),
        ("Apia: 2011-12-31 did", APIA, ("2011-12-30", "2011-12-31"), "2011-12-30T09:00Z", 61, True),
        # Local dates, not UTC dates: in Tokyo 2026-01-15T15:00Z is already the 16th.
        (
            "Tokyo: the local date counts",
            "Asia/Tokyo",
            ("2026-01-16", "2026-01-16"),
            "2026-01-15T15:00Z",
            1,
            True,
        ),
        (
            "Tokyo: the UTC date does not",
            "Asia/Tokyo",
            ("2026-01-15", "2026-01-15"),
            "2026-01-15T15:00Z",
            60,
            False,
        ),
        ("Inclusive end date", "UTC", ("2026-01-10", "2026-01-15"), "2026-01-15T23:59Z", 1, True),
        ("The day after the end", "UTC", ("2026-01-10", "2026-01-15"), "2026-01-16T00:00Z", 600, False),
    ],
)
def test_sensitive_periods_are_local_dates_inclusive(
    case: str, zone: str, period: tuple[str, str], start: str, minutes: int, sensitive: bool
) -> None:
    reg = region(zone, "00:00-24:00", periods=(period,), sensitive=False)
    w = window(start, minutes)
    result = evaluate(w, regions=[reg]).regions[0]
    assert (result.sensitive, result.flagged) == (sensitive, sensitive), case
    assert result.reasons == ((f"{period[0]}..{period[1]}",) if sensitive else ())
    assert oracle.evaluate_region(w, reg).sensitive == sensitive


def test_tehran_was_plus_0430_in_june_2009_and_is_plus_0330_since_iran_dropped_dst_in_2022() -> None:
    tehran = region("Asia/Tehran", "08:00-23:00")
    june_2009 = evaluate(window("2009-06-16T05:00Z", 60), regions=[tehran]).regions[0]
    june_2026 = evaluate(window("2026-06-16T05:00Z", 60), regions=[tehran]).regions[0]
    assert june_2009.local_start.isoformat() == "2009-06-16T09:30:00+04:30"
    assert june_2026.local_start.isoformat() == "2026-06-16T08:30:00+03:30"
    # 2009: 09:30-10:30 is all peak. 2026: 08:30-09:30, also all peak; an hour earlier shows the difference.
    assert peak_minutes("2009-06-16T04:00Z", 60, tehran) == 60  # 08:30-09:30 +04:30
    assert peak_minutes("2026-06-16T04:00Z", 60, tehran) == 30  # 07:30-08:30 +03:30


def test_flags_need_sensitivity_and_peak_and_reasons_keep_their_order() -> None:
    always = Region(
        id="a",
        name="Always",
        timezone="UTC",
        peak_hours=("09:00-17:00",),
        sensitive=True,
        sensitive_reason="Ongoing unrest",
        sensitive_periods=(
            SensitivePeriod(start=date(2026, 1, 1), end=date(2026, 1, 31), reason="January"),
            SensitivePeriod(start=date(2026, 2, 1), end=date(2026, 2, 28), reason="February"),
        ),
    )
    quiet = Region(id="q", name="Quiet", timezone="UTC", peak_hours=("09:00-17:00",))
    unsure = Region(id="u", name="No peak", timezone="UTC", sensitive=True)
    evaluation = evaluate(window("2026-01-31T16:00Z", 25 * 60), regions=[always, quiet, unsure])
    by_id = {r.id: r for r in evaluation.regions}
    assert [r.id for r in evaluation.regions] == ["a", "q", "u"]
    assert by_id["a"].reasons == ("Ongoing unrest", "January", "February")
    assert (by_id["a"].flagged, by_id["a"].peak_overlap_minutes) == (True, 60 + 480)
    assert (by_id["q"].sensitive, by_id["q"].flagged, by_id["q"].peak_overlap_minutes) == (False, False, 540)
    assert (by_id["u"].sensitive, by_id["u"].flagged, by_id["u"].reasons) == (
        True,
        False,
        ("Always sensitive",),
    )
    assert evaluation.flagged
    assert [r.id for r in evaluation.flagged_regions] == ["a"]


def test_a_partial_minute_of_peak_counts_as_one_minute_so_flag_and_minutes_agree() -> None:
    reg = region("UTC", "09:00-17:00")
    w = Window(
        start=datetime.fromisoformat("2026-01-15T08:59:30Z"),
        end=datetime.fromisoformat("2026-01-15T09:00:10Z"),
    )
    result = evaluate(w, regions=[reg]).regions[0]
    assert (result.peak_overlap_minutes, result.flagged) == (1, True)


def test_results_carry_local_times_and_the_peak_hours_as_written() -> None:
    reg = region("Asia/Kathmandu", "mon-fri 09:00-17:00", "sat,sun 22:00-02:00")
    result = evaluate(window("2026-01-15T03:00Z", 90), regions=[reg]).regions[0]
    assert result.local_start.isoformat() == "2026-01-15T08:45:00+05:45"
    assert result.local_end.isoformat() == "2026-01-15T10:15:00+05:45"
    assert result.peak_hours == ("mon-fri 09:00-17:00", "sat-sun 22:00-02:00")


@pytest.mark.parametrize(
    ("case", "start", "minutes", "peak", "sensitive_peak", "flagged"),
    [
        # Sensitive on Saturday 2026-03-14 (Berlin, +01:00); peak 20:00-23:00 every day.
        ("Fri 22:00 to Sat 02:00: peak only on the ordinary day", "2026-03-13T21:00Z", 240, 60, 0, False),
        ("Sat 22:00 to Sun 02:00: peak on the sensitive day", "2026-03-14T21:00Z", 240, 60, 60, True),
        (
            "Fri 20:00 to Sun 00:00: only Saturday's evening counts",
            "2026-03-13T19:00Z",
            28 * 60,
            360,
            180,
            True,
        ),
        ("Sat 00:00 to Sat 20:00: the sensitive day, no peak", "2026-03-13T23:00Z", 20 * 60, 0, 0, False),
    ],
)
def test_only_peak_minutes_on_sensitive_local_dates_flag_a_region(
    case: str, start: str, minutes: int, peak: int, sensitive_peak: int, flagged: bool
) -> None:
    reg = region("Europe/Berlin", "20:00-23:00", periods=(("2026-03-14", "2026-03-14"),), sensitive=False)
    w = window(start, minutes)
    result = evaluate(w, regions=[reg]).regions[0]
    expected = oracle.evaluate_region(w, reg)
    assert (result.peak_overlap_minutes, result.sensitive_peak_minutes, result.flagged) == (
        peak,
        sensitive_peak,
        flagged,
    ), case
    assert (expected.peak_minutes, expected.sensitive_peak_minutes, expected.flagged) == (
        peak,
        sensitive_peak,
        flagged,
    ), case
    assert result.sensitive and result.reasons == ("2026-03-14..2026-03-14",)


def test_a_range_past_midnight_counts_on_the_date_each_minute_falls_on() -> None:
    # "fri 23:00-01:00" is Friday's range, but its minute after midnight is Saturday's, the sensitive date.
    reg = region("UTC", "fri 23:00-01:00", periods=(("2026-03-14", "2026-03-14"),), sensitive=False)
    result = evaluate(window("2026-03-13T22:00Z", 4 * 60), regions=[reg]).regions[0]
    assert (result.peak_overlap_minutes, result.sensitive_peak_minutes, result.flagged) == (120, 60, True)


def test_an_always_sensitive_region_counts_every_peak_minute() -> None:
    reg = region("Asia/Kolkata", "09:00-17:00", periods=(("2026-03-14", "2026-03-14"),))
    result = evaluate(window("2026-03-12T03:30Z", 60), regions=[reg]).regions[0]
    assert (result.peak_overlap_minutes, result.sensitive_peak_minutes, result.flagged) == (60, 60, True)


def test_the_json_says_how_many_peak_minutes_were_sensitive() -> None:
    reg = region("Europe/Berlin", "20:00-23:00", periods=(("2026-03-14", "2026-03-14"),), sensitive=False)
    document = evaluation_document(evaluate(window("2026-03-13T19:00Z", 28 * 60), regions=[reg]))
    [entry] = document["regions"]
    assert (entry["peak_overlap_minutes"], entry["sensitive_peak_minutes"], entry["flagged"]) == (
        360,
        180,
        True,
    )
    assert document["flagged"] is True
