"""Freezes in the engine: a window is flagged exactly when it shares time with a freeze, and no suggestion does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.domain import evaluate, suggest
from chatops.domain.freezes import overlapping, reason, with_freezes
from chatops.domain.models import Freeze, Region, Window
from chatops.domain.suggest import choose

BASE = datetime(2026, 12, 1, tzinfo=UTC)
REGION = Region(id="de", name="Germany", timezone="Europe/Berlin", peak_hours=["08:00-20:00"])


def _freeze(start_min: int, length_min: int, summary: str = "Freeze") -> Freeze:
    start = BASE + timedelta(minutes=start_min)
    return Freeze(start=start, end=start + timedelta(minutes=length_min), summary=summary, calendar="Ops")


freezes_st = st.lists(
    st.builds(_freeze, st.integers(0, 14 * 24 * 60), st.integers(1, 3 * 24 * 60)), max_size=6
)


@given(freezes=freezes_st, start=st.integers(0, 7 * 24 * 60), length=st.integers(1, 48 * 60))
@settings(max_examples=200, deadline=None)
def test_flagged_exactly_when_some_minute_is_frozen(freezes: list[Freeze], start: int, length: int) -> None:
    window = Window.of(BASE + timedelta(minutes=start), timedelta(minutes=length))
    evaluation = with_freezes(evaluate(window, regions=[REGION]), freezes)
    frozen_minute = any(
        any(f.start <= BASE + timedelta(minutes=m) < f.end for f in freezes)
        for m in range(start, start + length)
    )
    assert evaluation.flagged == frozen_minute
    assert set(evaluation.freezes) == set(overlapping(window, freezes))


@given(freezes=freezes_st, start=st.integers(0, 7 * 24 * 60), length=st.integers(15, 6 * 60))
@settings(max_examples=100, deadline=None)
def test_no_suggestion_touches_a_freeze(freezes: list[Freeze], start: int, length: int) -> None:
    window = Window.of(BASE + timedelta(minutes=start), timedelta(minutes=length))
    found = suggest(window, regions=[REGION], freezes=freezes, count=5, horizon=timedelta(days=3))
    for candidate in found:
        assert overlapping(candidate, freezes) == ()
    # and the first one is the earliest: every earlier grid start overlaps a freeze
    if found:
        step = timedelta(minutes=15)
        t = window.start + (-(window.start - BASE) % step)
        while t < found[0].start:
            assert overlapping(Window.of(t, window.duration), freezes) != ()
            t += step


def test_the_reason_names_the_summary_and_the_calendar() -> None:
    assert reason(_freeze(0, 60, "Year-end freeze")) == "Change freeze: Year-end freeze (Ops)"


@given(freezes=freezes_st, start=st.integers(0, 7 * 24 * 60), length=st.integers(15, 6 * 60))
@settings(max_examples=100, deadline=None)
def test_no_choice_touches_a_freeze(freezes: list[Freeze], start: int, length: int) -> None:
    window = Window.of(BASE + timedelta(minutes=start), timedelta(minutes=length))
    for choice in choose(window, regions=[REGION], freezes=freezes, horizon=timedelta(days=3)):
        assert overlapping(choice.window, freezes) == ()
