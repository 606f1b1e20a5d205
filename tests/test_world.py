"""``chatops regions generate``: a world of regions from offline data; the bundled file is generated and current."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

import pytest

from chatops.cli import main
from chatops.config import parse_regions
from chatops.world import generate, peak_hours, render, signature


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out, err=out), out.getvalue()


def test_the_bundled_regions_file_is_the_generated_one() -> None:
    bundled = resources.files("chatops.data").joinpath("regions.toml").read_text(encoding="utf-8")
    expected = render(generate(), holidays="commented")
    assert bundled == expected, (
        "regenerate: chatops regions generate --holidays commented -o chatops/data/regions.toml"
    )
    assert '\n# holidays = "IR"\n' in bundled


def test_a_country_on_one_clock_is_one_region_with_its_weekend_and_holidays() -> None:
    (iran,) = generate(["IR"])
    assert (iran.id, iran.name, iran.timezone, iran.holidays) == ("ir", "Iran", "Asia/Tehran", "IR")
    assert iran.peak_hours == ("mon-thu,sat-sun 07:00-23:00", "fri 09:00-24:00")  # Friday is the weekend
    (saudi,) = generate(["SA"])
    assert saudi.peak_hours == ("mon-thu,sun 07:00-23:00", "fri-sat 09:00-24:00")


def test_a_country_across_zones_is_grouped_by_clock_and_ordered_by_people() -> None:
    us = generate(["US"])
    zones = {r.timezone for r in us}
    assert {"America/New_York", "America/Chicago", "America/Los_Angeles", "America/Phoenix"} <= zones
    assert us[0].timezone == "America/New_York"  # the most people
    assert all(r.id.startswith("us-") for r in us)
    eastern = us[0]
    assert "America/Detroit" in eastern.zones and "America/Indiana/Indianapolis" in eastern.zones
    # Phoenix keeps no DST, Denver does: the same offset in winter, different groups.
    assert signature("America/Phoenix", year=2026) != signature("America/Denver", year=2026)
    shares = [r.share for r in us if r.share is not None]
    assert abs(sum(shares) - 1) < 1e-9 and shares == sorted(shares, reverse=True)


def test_population_weights_choose_the_regions_name() -> None:
    # With made-up populations, the group is named after its most populous zone.
    people = {("US", "America/Detroit"): 10_000_000, ("US", "America/New_York"): 1}
    eastern = generate(["US"], population=people)
    assert len(eastern) == 1  # the groups nobody lives in are left out, so the country is one region
    assert (eastern[0].timezone, eastern[0].id, eastern[0].name) == ("America/Detroit", "us", "United States")
    people[("US", "America/Los_Angeles")] = 5
    assert [r.id for r in generate(["US"], population=people)] == ["us-detroit", "us-los-angeles"]


def test_peak_hours_follow_the_weekend() -> None:
    assert peak_hours(frozenset({5, 6})) == ("mon-fri 07:00-23:00", "sat-sun 09:00-24:00")
    assert peak_hours(frozenset({4})) == ("mon-thu,sat-sun 07:00-23:00", "fri 09:00-24:00")


def test_the_command_writes_a_file_chatops_loads(tmp_path: Path) -> None:
    target = tmp_path / "regions.toml"
    assert run("regions", "generate", "IR", "de,us", "-o", str(target))[0] == 0
    config = parse_regions(target.read_text(encoding="utf-8"), source=str(target))
    assert [r.id for r in config.regions][:2] == ["de", "ir"]
    assert all(r.holidays is not None for r in config.regions)
    status, text = run("regions", "generate", "IR", "--holidays", "off")
    assert status == 0 and "holidays =" not in text
    status, text = run("regions", "generate", "IR", "--holidays", "commented")
    config = parse_regions(text, source="generated")
    assert status == 0 and '\n# holidays = "IR"\n' in text and config.regions[0].holidays is None


@pytest.mark.parametrize(("args", "message"), [(["XX"], "'XX'"), (["IR", "--year", "1900"], "1900")])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    status, text = run("regions", "generate", *args)
    assert status == 2 and message in text and len(text.strip().splitlines()) == 1
