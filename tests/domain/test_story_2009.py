"""June 2009, both ways: the window planned for Monday 22:00 Pacific, and the one it was moved to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import oracle  # tests/oracle.py: pytest puts tests/ on sys.path (it has no __init__.py)
import pytest

from chatops.config import load_regions
from chatops.domain import evaluate, suggest
from chatops.domain.models import RegionsConfig, Window
from chatops.domain.windows import parse_start

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iran-2009.toml"


@pytest.fixture(scope="module")
def config() -> RegionsConfig:
    return load_regions(EXAMPLE)


def pacific(text: str) -> Window:
    return Window.of(parse_start(text, tz="America/Los_Angeles"), timedelta(hours=1))


def test_monday_2200_pacific_lands_at_0930_in_tehran_during_the_protests(config: RegionsConfig) -> None:
    window = pacific("2009-06-15T22:00")
    assert window.start == datetime(2009, 6, 16, 5, 0, tzinfo=UTC)
    evaluation = evaluate(window, regions=config.regions)
    iran = evaluation.regions[0]
    assert iran.id == "ir"
    assert iran.local_start.isoformat() == "2009-06-16T09:30:00+04:30"
    assert iran.local_end.isoformat() == "2009-06-16T10:30:00+04:30"
    assert (iran.sensitive, iran.peak_overlap_minutes, iran.flagged) == (True, 60, True)
    assert iran.reasons == ("Presidential election protests",)
    assert evaluation.flagged
    assert [r.id for r in evaluation.flagged_regions] == ["ir"]
    assert [r.flagged for r in oracle.evaluate(window, config.regions)] == [True, False]


def test_the_first_suggestion_is_1830z_the_first_slot_both_clear_and_in_pacific_office_hours(
    config: RegionsConfig,
) -> None:
    window = pacific("2009-06-15T22:00")
    options = suggest(
        window, regions=config.regions, team=config.team, horizon=config.policy.horizon, count=3
    )
    # 18:30Z is 11:30 PDT (team hours) and 23:00 in Tehran, when its peak (08:00-23:00) is over.
    assert [o.start.isoformat() for o in options] == [
        "2009-06-16T18:30:00+00:00",
        "2009-06-16T18:45:00+00:00",
        "2009-06-16T19:00:00+00:00",
    ]
    assert options == oracle.suggest(
        window, regions=config.regions, team=config.team, horizon=config.policy.horizon, count=3
    )


def test_tuesday_1400_pacific_is_0130_in_tehran_and_clear(config: RegionsConfig) -> None:
    window = pacific("2009-06-16T14:00")
    evaluation = evaluate(window, regions=config.regions)
    iran = evaluation.regions[0]
    assert iran.local_start.isoformat() == "2009-06-17T01:30:00+04:30"
    assert (iran.sensitive, iran.peak_overlap_minutes, iran.flagged) == (True, 0, False)
    assert not evaluation.flagged


def test_the_same_wall_time_in_2026_is_an_hour_earlier_in_tehran_without_dst() -> None:
    # Iran abolished DST in 2022: Tehran is +03:30 all year now, so 22:00 PDT is 08:30 there, not 09:30.
    config = load_regions(EXAMPLE)
    window = pacific("2026-06-15T22:00")
    iran = evaluate(window, regions=config.regions).regions[0]
    assert iran.local_start.isoformat() == "2026-06-16T08:30:00+03:30"
    assert (iran.sensitive, iran.peak_overlap_minutes, iran.flagged) == (False, 60, False)
