"""Value objects of the domain: windows, hour ranges, regions, policy and evaluation results.

All models are frozen and refuse unknown fields. Datetimes are aware and kept in UTC; local wall-clock values are
computed from a region's IANA zone when needed, never stored.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_INDEX = {name: i for i, name in enumerate(DAY_NAMES)}
_RANGE_RE = re.compile(
    r"^\s*(?:(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


@functools.lru_cache(maxsize=2048)
def _cached_zone(key: str) -> ZoneInfo:
    # ZoneInfo(key) keeps only 8 zones strongly and the rest weakly, so with more regions than that every
    # evaluation re-read each zone's file from disk (most of the time for 400 regions). A zone never changes
    # while the process runs; keep every one used.
    return ZoneInfo(key)


def forget_zones() -> None:
    """Forget the zones kept so far: the process switched time-zone databases (see ``chatops.tzdb``)."""
    _cached_zone.cache_clear()


def zone_of(key: str) -> ZoneInfo:
    """The IANA zone named ``key``; ValueError with a readable message when there is none."""
    if not isinstance(key, str) or not key or key != key.strip():
        raise ValueError(f"{key!r} is not an IANA time zone name")
    try:
        return _cached_zone(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = repr(key) if len(key) <= 60 else f"{key[:57]!r}…"  # an error message, not an echo
        raise ValueError(
            f"unknown time zone {shown} (use an IANA name such as 'Europe/Berlin' or 'UTC')"
        ) from None


def _parse_clock(text: str, *, allow_24: bool) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"{text!r} is not a time of day (00:00 to {'24:00' if allow_24 else '23:59'})")
    return hours * 60 + minutes


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        bounds = [b.strip() for b in part.split("-")]
        for name in bounds:
            if name not in _DAY_INDEX:
                raise ValueError(f"{name!r} is not a day (use {', '.join(DAY_NAMES)})")
        first = _DAY_INDEX[bounds[0]]
        last = _DAY_INDEX[bounds[-1]]
        span = (last - first) % 7
        days.update((first + i) % 7 for i in range(span + 1))
    return frozenset(days)


class HoursRange(BaseModel):
    """Local wall-clock hours, optionally on some weekdays only.

    ``start_minute``/``end_minute`` count minutes from local midnight; ``end_minute`` may be 1440 (24:00). A range
    whose end is not after its start wraps past midnight (``22:00-02:00``) and belongs to the day it starts on.
    ``days`` holds weekday numbers, Monday = 0.
    """

    model_config = _FROZEN

    days: frozenset[Annotated[int, Field(ge=0, le=6)]] = frozenset(range(7))
    start_minute: int = Field(ge=0, le=1439)
    end_minute: int = Field(ge=0, le=1440)

    @model_validator(mode="after")
    def _not_empty(self) -> HoursRange:
        if self.start_minute == self.end_minute:
            raise ValueError("the range is empty; for a whole day write 00:00-24:00")
        if not self.days:
            raise ValueError("the range names no day")
        return self

    @classmethod
    def parse(cls, text: str) -> HoursRange:
        """Read ``"08:00-23:00"``, ``"fri 10:00-24:00"``, ``"mon-thu 07:00-23:00"``, ``"sat,sun 22:00-02:00"``."""
        if not isinstance(text, str):
            raise ValueError(f"expected a string like 'mon-fri 09:00-17:00', got {text!r}")
        match = _RANGE_RE.match(text.lower())
        if not match:
            raise ValueError(
                f"{text!r} is not an hours range (write e.g. '08:00-23:00' or 'mon-fri 09:00-17:00')"
            )
        days = _parse_days(match["days"]) if match["days"] else frozenset(range(7))
        start = _parse_clock(match["start"], allow_24=False)
        end = _parse_clock(match["end"], allow_24=True)
        if start == end:
            raise ValueError(f"{text!r}: the range is empty; for a whole day write 00:00-24:00")
        return cls(days=days, start_minute=start, end_minute=end)

    @property
    def wraps(self) -> bool:
        return self.end_minute <= self.start_minute

    def __str__(self) -> str:
        def clock(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        hours = f"{clock(self.start_minute)}-{clock(self.end_minute)}"
        if len(self.days) == 7:
            return hours
        return f"{_days_label(self.days)} {hours}"


def _days_label(days: frozenset[int]) -> str:
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs)


def _hours_list(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError('expected a list of ranges, e.g. ["08:00-23:00"]')
    if isinstance(value, list | tuple):
        return tuple(HoursRange.parse(v) if isinstance(v, str) else v for v in value)
    return value


def _known_zone(value: str) -> str:
    zone_of(value)
    return value


ZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA zone name that tzdata knows."""

HoursList = Annotated[tuple[HoursRange, ...], BeforeValidator(_hours_list)]
"""Hour ranges, written in a file as strings like ``"mon-fri 09:00-17:00"``."""


class SensitivePeriod(BaseModel):
    """Local dates, both inclusive, during which a region is sensitive, and why."""

    model_config = _FROZEN

    start: date
    end: date
    reason: str = Field(min_length=1, max_length=300)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            raise ValueError("expected a date such as 2009-06-12, not a date and time")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SensitivePeriod:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


def _holiday_source(value: Any) -> Any:
    if isinstance(value, str):
        country, _, subdivision = value.partition("-")
        return {"country": country, "subdivision": subdivision or None}
    return value


class HolidaySource(BaseModel):
    """Whose public holidays count: a country (ISO 3166 code) and optionally one of its subdivisions.

    Written in a regions file as ``holidays = "IR"``, ``holidays = "US-CA"`` or as a table with ``country``,
    ``subdivision``, ``categories`` (default ``["public"]``) and ``observed`` (default true: a holiday that
    falls on a weekend also counts on the day it is observed). The dates themselves are looked up at the edge.
    """

    model_config = _FROZEN

    country: str = Field(pattern=r"^[A-Z]{2,3}$")
    subdivision: str | None = Field(default=None, min_length=1, max_length=16)
    categories: tuple[str, ...] = Field(default=("public",), min_length=1)
    observed: bool = True

    def __str__(self) -> str:
        return self.country + (f"-{self.subdivision}" if self.subdivision else "")


Holidays = Annotated[HolidaySource | None, BeforeValidator(_holiday_source)]


def _in_utc(value: datetime) -> datetime:
    """An aware datetime in UTC (the start and end of windows and freezes); ValueError when naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a naive datetime has no time zone; give one")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class Freeze(BaseModel):
    """A span of real time during which no change may run (a change freeze), from a freeze calendar."""

    model_config = _FROZEN

    start: UtcDatetime
    end: UtcDatetime
    summary: str = Field(min_length=1)
    calendar: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.end <= self.start:
            raise ValueError("the freeze must end after it starts")
        return self


class CalendarRef(BaseModel):
    """A calendar the regions file names: an iCalendar file (a path, relative to the regions file) or an
    ``https://`` URL. Times without a zone in it (floating times, all-day events) are read in ``timezone``.

    ``kind = "freeze"`` (the default): each event is a change freeze, for every region. ``kind = "sensitive"``:
    each event makes the ``regions`` named (all when none is) sensitive on the local dates it touches.
    """

    model_config = _FROZEN

    name: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=2000)
    timezone: ZoneName = "UTC"
    kind: Literal["freeze", "sensitive"] = "freeze"
    regions: tuple[str, ...] = ()

    @field_validator("source")
    @classmethod
    def _https_or_path(cls, value: str) -> str:
        if "://" in value and not value.startswith("https://"):
            raise ValueError("a calendar is a file path or an https:// URL")
        return value

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("https://", "http://"))


class Region(BaseModel):
    """A place whose people use the service, with its local peak hours and when it is sensitive.

    ``holidays`` names a country (and subdivision) whose public holidays make the region sensitive; the edge
    turns them into sensitive periods before the engine sees the region.
    """

    model_config = _FROZEN

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=100)
    timezone: ZoneName
    peak_hours: HoursList = ()
    sensitive: bool = Field(default=False, strict=True)  # "yes" or 1 is a mistake, not true
    sensitive_reason: str | None = Field(default=None, max_length=300)
    sensitive_periods: tuple[SensitivePeriod, ...] = ()
    holidays: Holidays = None

    @property
    def zone(self) -> ZoneInfo:
        return _cached_zone(self.timezone)

    @cached_property
    def peak_labels(self) -> tuple[str, ...]:
        """The peak hours written back as text (computed once; regions never change)."""
        return tuple(str(r) for r in self.peak_hours)


class Policy(BaseModel):
    """How many distinct approvers a window needs, how far to look for a better one, how long it may be."""

    model_config = _FROZEN

    approvals_required: int = Field(default=1, ge=1, le=20)
    flagged_approvals_required: int = Field(default=2, ge=1, le=20)
    horizon_days: int = Field(default=14, ge=1, le=120)
    max_window_days: float = Field(default=7, gt=0, le=366)
    suggestions: int = Field(default=3, ge=0, le=10)
    reminder_before_minutes: int = Field(default=15, ge=1, le=1440)
    """How long before a window's start the thread is reminded (besides at the start and at the end)."""
    approval_max_age_days: float = Field(default=30, ge=0, le=366)
    """Approvals older than this at the window's start must be renewed; 0 turns expiry off."""
    approval_expiry_notice_hours: float = Field(default=24, ge=0, le=720)
    """How long before approvals expire the thread says so."""
    conflict_extra_approvals: int = Field(default=0, ge=0, le=5)
    """More approvals a change needs while its window overlaps another open change on the same service."""

    @property
    def max_window(self) -> timedelta:
        return timedelta(days=self.max_window_days)

    @property
    def horizon(self) -> timedelta:
        return timedelta(days=self.horizon_days)

    def approvals_for(self, *, flagged: bool, conflicting: bool = False) -> int:
        base = self.flagged_approvals_required if flagged else self.approvals_required
        return base + (self.conflict_extra_approvals if conflicting else 0)


class Team(BaseModel):
    """Where and when the people doing the work are; suggestions stay inside these hours.

    ``days_off`` are local dates on which nobody works (suggestions avoid them); ``holidays`` names a country
    whose public holidays the edge adds to them.
    """

    model_config = _FROZEN

    timezone: ZoneName
    working_hours: HoursList = ()
    holidays: Holidays = None
    days_off: tuple[date, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return _cached_zone(self.timezone)


SERVICE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
OWNER_ID = r"^[USW][A-Z0-9]{2,30}$"


class ServiceConfig(BaseModel):
    """A service a change may touch (``[[services]]`` in the regions file), and who owns it: Slack user
    (``U…``/``W…``) or user-group (``S…``) ids, mentioned when a change on it conflicts with another."""

    model_config = _FROZEN

    name: str = Field(pattern=SERVICE_NAME)
    owners: tuple[Annotated[str, Field(pattern=OWNER_ID)], ...] = ()


class RegionsConfig(BaseModel):
    """The whole regions file."""

    model_config = _FROZEN

    policy: Policy = Policy()
    team: Team | None = None
    regions: tuple[Region, ...] = Field(min_length=1)
    calendars: tuple[CalendarRef, ...] = ()
    services: tuple[ServiceConfig, ...] = ()

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def owners_of(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The owners of these services, each once, in the file's order."""
        found: list[str] = []
        for service in self.services:
            if service.name in names:
                found.extend(o for o in service.owners if o not in found)
        return tuple(found)

    @model_validator(mode="after")
    def _unique_ids(self) -> RegionsConfig:
        seen: set[str] = set()
        for region in self.regions:
            if region.id in seen:
                raise ValueError(f"region id {region.id!r} is used twice")
            seen.add(region.id)
        names: set[str] = set()
        for calendar in self.calendars:
            if calendar.name in names:
                raise ValueError(f"calendar name {calendar.name!r} is used twice")
            names.add(calendar.name)
            unknown = [r for r in calendar.regions if r not in seen]
            if unknown:
                raise ValueError(f"calendar {calendar.name!r} names unknown regions: {', '.join(unknown)}")
        services: set[str] = set()
        for service in self.services:
            if service.name in services:
                raise ValueError(f"service name {service.name!r} is used twice")
            services.add(service.name)
        return self


class Window(BaseModel):
    """A maintenance window: an aware start and end, kept in UTC, end after start."""

    model_config = _FROZEN

    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("the window must end after it starts")
        return self

    @classmethod
    def of(cls, start: datetime, duration: timedelta) -> Window:
        return cls(start=start, end=start + duration)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


class RegionResult(NamedTuple):
    """How one window looks from one region.

    An immutable named tuple, not a pydantic model or a frozen dataclass: the engine builds one per region per
    evaluation from values that are already validated; pydantic's construction was half of the engine's time
    with 400 regions, and a frozen dataclass's (one ``object.__setattr__`` a field) a quarter of what was left.
    """

    id: str
    name: str
    timezone: str
    local_start: datetime
    local_end: datetime
    sensitive: bool
    peak_overlap_minutes: int
    sensitive_peak_minutes: int  # the peak minutes on the region's sensitive local dates; flagged when > 0
    flagged: bool
    reasons: tuple[str, ...]
    peak_hours: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """How one window looks from every region, in the order given; flagged when any region is."""

    window: Window
    regions: tuple[RegionResult, ...]
    freezes: tuple[Freeze, ...] = ()
    """The freezes the window overlaps; any makes the window flagged."""

    @property
    def flagged(self) -> bool:
        return bool(self.freezes) or any(r.flagged for r in self.regions)

    @property
    def flagged_regions(self) -> tuple[RegionResult, ...]:
        return tuple(r for r in self.regions if r.flagged)
