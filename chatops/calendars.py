"""Calendars from the world, read at the edge and handed to the engine as plain values.

- **Public holidays** (the ``holidays`` package): a region's holidays become sensitive periods whose reason names
  the holiday (in English and in the country's own language, when they differ); the team's become days off.
- **Freeze calendars** (iCalendar files or ``https://`` URLs): fetched with timeouts and conditional requests
  (ETag / If-Modified-Since); the last good copy is kept on disk and used, with its age, when a fetch fails.
  Recurring events are expanded (``recurring-ical-events``) in the events' own time zones; each occurrence is a
  :class:`~chatops.domain.models.Freeze`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatops.domain.models import (
    CalendarRef,
    Freeze,
    HolidaySource,
    Region,
    RegionsConfig,
    SensitivePeriod,
    Team,
    zone_of,
)
from chatops.errors import ConfigError

if TYPE_CHECKING:
    import httpx
    import icalendar

# holidays, httpx, icalendar and recurring_ical_events are imported where they are used: together they cost
# about 90 ms, and a ``chatops check`` of a regions file without holidays or calendars needs none of them.

logger = logging.getLogger(__name__)

Location = tuple[int | str, ...]
FETCH_TIMEOUT = {"timeout": 10.0, "connect": 5.0}  # seconds: httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "chatops (freeze calendar reader)"
MAX_CALENDAR_BYTES = 5_000_000
DEFAULT_CACHE = Path.home() / ".cache" / "chatops" / "calendars"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# -- public holidays ------------------------------------------------------------------------------------------


def _lookup(source: HolidaySource, year: int, language: str | None) -> Any:
    import holidays as holidays_lib

    with warnings.catch_warnings():
        # The package warns when asked about a year outside the span it knows; such a year has no holidays.
        warnings.simplefilter("ignore", UserWarning)
        return holidays_lib.country_holidays(
            source.country,
            subdiv=source.subdivision,
            years=year,
            language=language,
            categories=source.categories,
            observed=source.observed,
        )


@functools.lru_cache(maxsize=4096)
def holidays_in(source: HolidaySource, year: int) -> tuple[tuple[date, str], ...]:
    """The holidays of ``source`` in ``year``, by date, each named ``English (native)`` when the names differ."""
    native = _lookup(source, year, None)
    default = getattr(native, "default_language", None)
    local = _lookup(source, year, default) if default else native
    english = _lookup(source, year, "en_US") if "en_US" in (native.supported_languages or ()) else local
    named: list[tuple[date, str]] = []
    for day in sorted(local.keys()):
        # Each language lists a day's names in its own alphabetical order, so two names on one day cannot be
        # paired across languages: the English names come first, then the local ones.
        there = "; ".join(local.get_list(day))
        here = "; ".join(english.get_list(day)) if day in english else there
        named.append((day, there if here == there else f"{here} ({there})"))
    return tuple(named)


def holiday_problem(source: HolidaySource) -> str | None:
    """Why ``source`` names no holidays the package knows (unknown country, subdivision or category)."""
    import holidays as holidays_lib

    try:
        _lookup(source, 2026, None)
    except NotImplementedError:
        if source.country not in holidays_lib.list_supported_countries():
            return f"no public holidays are known for country {source.country!r} (use an ISO 3166 code)"
        subdivisions = holidays_lib.list_supported_countries()[source.country]
        return (
            f"country {source.country!r} has no subdivision {source.subdivision!r}"
            f" (known: {', '.join(subdivisions[:12])}{'…' if len(subdivisions) > 12 else ''})"
        )
    except ValueError as exc:
        return f"{exc} (known categories for {source.country}: {_categories(source.country)})"
    return None


def _categories(country: str) -> str:
    import holidays as holidays_lib

    cls = holidays_lib.country_holidays(country).__class__
    return ", ".join(getattr(cls, "supported_categories", ("public",)))


def holiday_problems(config: RegionsConfig) -> list[tuple[Location, str]]:
    """Each holiday source in ``config`` that names nothing known, with its location in the file."""
    found: list[tuple[Location, str]] = []
    for index, region in enumerate(config.regions):
        if region.holidays is not None:
            problem = holiday_problem(region.holidays)
            if problem:
                where = f"region {region.id!r} (regions[{index}]), field holidays"
                found.append((("regions", index, "holidays"), f"{where}: {problem}"))
    if config.team is not None and config.team.holidays is not None:
        problem = holiday_problem(config.team.holidays)
        if problem:
            found.append((("team", "holidays"), f"team, field holidays: {problem}"))
    return found


def holidays_between(source: HolidaySource, first: date, last: date) -> list[tuple[date, str]]:
    """The holidays of ``source`` from ``first`` to ``last`` (inclusive)."""
    return [
        (day, name)
        for year in range(first.year, last.year + 1)
        for day, name in holidays_in(source, year)
        if first <= day <= last
    ]


def _reason(name: str) -> str:
    text = f"Public holiday: {name}"
    return text if len(text) <= 300 else text[:299] + "…"


def with_holidays(region: Region, first: date, last: date) -> Region:
    """``region`` with its public holidays from ``first`` to ``last`` added as sensitive periods."""
    if region.holidays is None:
        return region
    found = holidays_between(region.holidays, first, last)
    if not found:
        return region
    periods = tuple(SensitivePeriod(start=day, end=day, reason=_reason(name)) for day, name in found)
    return region.model_copy(update={"sensitive_periods": (*region.sensitive_periods, *periods)})


def team_with_holidays(team: Team, first: date, last: date) -> Team:
    """``team`` with its public holidays from ``first`` to ``last`` added to its days off."""
    if team.holidays is None:
        return team
    days = tuple(day for day, _ in holidays_between(team.holidays, first, last))
    return team.model_copy(update={"days_off": tuple(sorted({*team.days_off, *days}))}) if days else team


# -- freeze calendars -----------------------------------------------------------------------------------------


class CalendarError(Exception):
    """A calendar could not be read and no good copy of it is kept."""


@dataclass(frozen=True)
class Fetched:
    """A calendar's text, when it was last known good, and why a fresh copy could not be had (if so)."""

    body: bytes
    good_at: datetime
    problem: str | None = None

    def age(self, now: datetime) -> timedelta:
        return now - self.good_at


def parse_calendar(body: bytes) -> icalendar.Calendar:
    """The calendar in ``body``; ValueError when it is not iCalendar."""
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(body)
    except Exception as exc:  # icalendar raises ValueError and friends for every kind of garbage
        raise ValueError(f"not an iCalendar file ({exc.__class__.__name__})") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise ValueError("not an iCalendar file (no VCALENDAR)")
    return calendar


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CalendarFetcher:
    """Fetches ``https://`` calendars with timeouts and conditional requests, keeping the last good copy in
    ``cache_dir`` (one ``.ics`` and one ``.json`` of validators per URL)."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self._client = client
        self.clock = clock

    @property
    def client(self) -> httpx.Client:
        """The HTTP client, made when the first calendar is fetched."""
        if self._client is None:
            import httpx

            timeout = httpx.Timeout(FETCH_TIMEOUT["timeout"], connect=FETCH_TIMEOUT["connect"])
            self._client = httpx.Client(
                timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
            )
        return self._client

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        return self.cache_dir / f"{key}.ics", self.cache_dir / f"{key}.json"

    def cached(self, url: str) -> tuple[bytes, dict[str, Any]] | None:
        body_path, meta_path = self._paths(url)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            return body_path.read_bytes(), meta
        except (OSError, ValueError):
            return None

    def _store(self, url: str, body: bytes | None, meta: dict[str, Any]) -> None:
        """Keep the copy; a cache that cannot be written costs the fallback, not the fresh copy."""
        body_path, meta_path = self._paths(url)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            if body is not None:
                _atomic_write(body_path, body)
            _atomic_write(meta_path, json.dumps(meta).encode())
        except OSError as exc:
            logger.warning(
                "the copy of a calendar cannot be kept in %s (%s); it will not be there if a fetch fails",
                self.cache_dir,
                exc.__class__.__name__,
            )

    def fetch(self, url: str) -> Fetched:
        """The calendar at ``url``: fresh when the server answers, else the kept copy with the reason; a failure
        with no kept copy raises :class:`CalendarError`."""
        import httpx

        kept = self.cached(url)
        headers: dict[str, str] = {}
        if kept is not None:
            meta = kept[1]
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        problem: str
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                now = self.clock()
                if response.status_code == 304 and kept is not None:
                    meta = {**kept[1], "good_at": now.isoformat()}
                    self._store(url, None, meta)
                    return Fetched(kept[0], now)
                if response.status_code == 200:
                    body = _read_capped(response)
                    parse_calendar(body)
                    meta = {
                        "url": url,
                        "etag": response.headers.get("ETag"),
                        "last_modified": response.headers.get("Last-Modified"),
                        "good_at": now.isoformat(),
                    }
                    self._store(url, body, meta)
                    return Fetched(body, now)
            problem = f"the server answered {response.status_code}"
        except httpx.TimeoutException:
            problem = "timed out"
        except httpx.HTTPError as exc:
            problem = f"cannot be fetched ({exc.__class__.__name__})"
        except ValueError as exc:
            problem = str(exc)
        if kept is None:
            raise CalendarError(f"{problem}, and no earlier copy is kept")
        good_at = datetime.fromisoformat(kept[1]["good_at"])
        return Fetched(kept[0], good_at, problem=problem)


def _read_capped(response: httpx.Response) -> bytes:
    """The body, refused (ValueError) past ``MAX_CALENDAR_BYTES``: a calendar is not worth any amount of memory."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_CALENDAR_BYTES:
            raise ValueError(f"larger than {MAX_CALENDAR_BYTES // 1_000_000} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def describe_age(age: timedelta) -> str:
    """``5 min``, ``3 h``, ``2 days``."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86_400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} days"


def _instant(value: date | datetime, zone_name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=zone_of(zone_name)).astimezone(UTC)
        return value.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone_of(zone_name)).astimezone(UTC)


def freezes_between(
    calendar: icalendar.Calendar, ref: CalendarRef, start: datetime, end: datetime
) -> list[Freeze]:
    """Each occurrence of each event of ``calendar`` that overlaps ``[start, end)``, as a freeze."""
    import recurring_ical_events

    found: list[Freeze] = []
    for event in recurring_ical_events.of(calendar).between(start, end):
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        begin = event.get("DTSTART")
        if begin is None:
            continue
        finish = event.get("DTEND")
        first = _instant(begin.dt, ref.timezone)
        if finish is not None:
            last = _instant(finish.dt, ref.timezone)
        elif event.get("DURATION") is not None:
            last = first + event["DURATION"].dt
        else:
            last = first + (timedelta(days=1) if not isinstance(begin.dt, datetime) else timedelta(0))
        if last <= first:
            continue
        summary = str(event.get("SUMMARY", "")).strip() or "Change freeze"
        found.append(Freeze(start=first, end=last, summary=summary[:300], calendar=ref.name))
    return found


def _problem(name: str, text: str) -> str:
    return f"calendar {name!r}: {text}"


class Calendars:
    """The world's calendars for one regions file: holidays added to regions and team, freezes from calendars.

    ``refresh()`` (re)reads every freeze calendar; until it is called, none is known. A calendar that cannot be
    read keeps its last good copy, and ``notes`` says why and how old it is.
    """

    def __init__(
        self,
        config: RegionsConfig,
        *,
        base_dir: Path | None = None,
        fetcher: CalendarFetcher | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.config = config
        self.base_dir = base_dir or Path.cwd()
        self._fetcher = fetcher
        self.clock = clock
        self._parsed: dict[str, icalendar.Calendar] = {}
        self.notes: dict[str, str] = {}
        self.missing: set[str] = set()
        """Calendars of which no copy at all could be read."""
        self._copies: dict[tuple[int, date, date], tuple[Region, Region]] = {}

    @property
    def fetcher(self) -> CalendarFetcher:
        if self._fetcher is None:
            self._fetcher = CalendarFetcher(DEFAULT_CACHE, clock=self.clock)
        return self._fetcher

    def warm(self, years: Sequence[int]) -> None:
        """Look up every region's and the team's holidays for ``years`` now, so that no request waits for it."""
        sources = {r.holidays for r in self.config.regions if r.holidays is not None}
        if self.config.team is not None and self.config.team.holidays is not None:
            sources.add(self.config.team.holidays)
        for source in sources:
            for year in years:
                holidays_in(source, year)

    def keep_fresh(self, every: float) -> Callable[[], None]:
        """Refresh the calendars every ``every`` seconds in a daemon thread; returns the function that stops it."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every):
                try:
                    self.refresh()
                except Exception:
                    logger.exception("the freeze calendars could not be refreshed")

        threading.Thread(target=run, name="calendar-refresh", daemon=True).start()
        return stop.set

    def _read(self, ref: CalendarRef) -> tuple[icalendar.Calendar, str | None]:
        if ref.is_url:
            fetched = self.fetcher.fetch(ref.source)
            note = None
            if fetched.problem:
                age = describe_age(fetched.age(self.clock()))
                note = f"{fetched.problem}; using the copy from {age} ago"
            return parse_calendar(fetched.body), note
        path = Path(ref.source)
        path = path if path.is_absolute() else self.base_dir / path
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise CalendarError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
        return parse_calendar(body), None

    def refresh(self) -> list[str]:
        """Read every freeze calendar again; one line per calendar that could not be read fresh."""
        problems: list[str] = []
        for ref in self.config.calendars:
            try:
                calendar, note = self._read(ref)
            except Exception as exc:  # one calendar's trouble must not stop the others, or start-up
                if not isinstance(exc, CalendarError | ValueError):
                    logger.exception("calendar %r could not be read", ref.name)
                    exc = CalendarError(f"cannot be read ({exc.__class__.__name__})")
                problems.append(_problem(ref.name, str(exc)))
                self.notes[ref.name] = str(exc)
                if ref.name not in self._parsed:
                    self.missing.add(ref.name)
                continue
            self.missing.discard(ref.name)
            self._parsed[ref.name] = calendar
            if note:
                problems.append(_problem(ref.name, note))
                self.notes[ref.name] = note
            else:
                self.notes.pop(ref.name, None)
        for line in problems:
            logger.warning("%s", line)
        return problems

    def missing_problems(self) -> list[str]:
        """The lines of :meth:`refresh` for the calendars of which no copy at all could be read."""
        return [
            _problem(ref.name, self.notes[ref.name])
            for ref in self.config.calendars
            if ref.name in self.missing
        ]

    def _events(self, kind: str, start: datetime, end: datetime) -> list[Freeze]:
        found: list[Freeze] = []
        for ref in self.config.calendars:
            calendar = self._parsed.get(ref.name)
            if calendar is not None and ref.kind == kind:
                found.extend(freezes_between(calendar, ref, start, end))
        return sorted(found, key=lambda f: (f.start, f.end, f.summary))

    def freezes(self, start: datetime, end: datetime) -> tuple[Freeze, ...]:
        """Every freeze overlapping ``[start, end)`` from the freeze calendars read so far."""
        return tuple(self._events("freeze", start, end))

    def regions(self, regions: Sequence[Region], start: datetime, end: datetime) -> tuple[Region, ...]:
        """``regions`` with their public holidays and the events of sensitivity calendars on local dates from
        ``start`` to ``end`` added as sensitive periods."""
        first, last = (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date()
        with_days = tuple(self._with_holidays(r, first, last) for r in regions)
        sensitive = [
            ref for ref in self.config.calendars if ref.kind == "sensitive" and ref.name in self._parsed
        ]
        if not sensitive:
            return with_days
        lo, hi = start - timedelta(days=2), end + timedelta(days=2)
        extra: dict[str, list[SensitivePeriod]] = {}
        for ref in sensitive:
            events = freezes_between(self._parsed[ref.name], ref, lo, hi)
            for region in with_days:
                if ref.regions and region.id not in ref.regions:
                    continue
                for event in events:
                    local_first = event.start.astimezone(region.zone).date()
                    local_last = (event.end - timedelta(seconds=1)).astimezone(region.zone).date()
                    reason = f"{event.summary} ({ref.name})"[:300]
                    extra.setdefault(region.id, []).append(
                        SensitivePeriod(start=local_first, end=local_last, reason=reason)
                    )
        return tuple(
            r.model_copy(update={"sensitive_periods": (*r.sensitive_periods, *extra[r.id])})
            if r.id in extra
            else r
            for r in with_days
        )

    def _with_holidays(self, region: Region, first: date, last: date) -> Region:
        # The same copy for the same region and dates: the engine keeps what it derives from a region by the
        # region's identity, so a fresh copy on every call would make it derive everything again.
        if region.holidays is None:
            return region
        key = (id(region), first, last)
        cached = self._copies.get(key)
        if cached is not None and cached[0] is region:
            return cached[1]
        copy = with_holidays(region, first, last)
        if len(self._copies) >= 20_000:
            self._copies.clear()
        self._copies[key] = (region, copy)
        return copy

    def team(self, team: Team | None, start: datetime, end: datetime) -> Team | None:
        if team is None:
            return None
        return team_with_holidays(team, (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date())


def require_holidays_known(config: RegionsConfig, *, source: str) -> None:
    """ConfigError when a holiday source in ``config`` names nothing known."""
    problems = holiday_problems(config)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {problems[0][1]}{more}")
