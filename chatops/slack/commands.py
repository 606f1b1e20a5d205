"""Reading the text after ``/maintenance``: pure, so the parser is tested (and fuzzed) on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from chatops.domain.conflicts import parse_services
from chatops.domain.windows import parse_duration
from chatops.errors import InputError, TimeInputError

_TOKEN = re.compile(r"\S+")
MAX_TEXT = 4000


class Verb(StrEnum):
    HELP = "help"
    PROPOSE = "propose"
    PROPOSE_FORM = "propose-form"
    CHECK = "check"
    LIST = "list"
    SENSITIVE_LIST = "sensitive-list"
    SENSITIVE_ADD = "sensitive-add"
    SENSITIVE_LIFT = "sensitive-lift"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class WindowArgs:
    """``<date> <time> [zone] <duration>`` as typed; the zone is None when left out."""

    day: str
    clock: str
    zone: str | None
    duration: timedelta


@dataclass(frozen=True)
class SensitiveArgs:
    """``<region> <start date> [<end date>] <reason…>``: local dates of the region, inclusive."""

    region_id: str
    start: date
    end: date
    reason: str


@dataclass(frozen=True)
class EmergencyArgs:
    """``<duration> <title…> <incident link> <reason…>``."""

    duration: timedelta
    incident_url: str
    reason: str


@dataclass(frozen=True)
class Command:
    verb: Verb
    window: WindowArgs | None = None
    title: str = ""
    sensitive: SensitiveArgs | None = None
    number: int | None = None
    services: tuple[str, ...] = ()
    emergency: EmergencyArgs | None = None


SENSITIVE_SHAPE = "/maintenance sensitive add <region> <YYYY-MM-DD> [<YYYY-MM-DD>] <reason…>"
PROPOSE_SHAPE = "/maintenance propose <YYYY-MM-DD> <HH:MM> [zone] <duration> <title…>"
CHECK_SHAPE = "/maintenance check <YYYY-MM-DD> <HH:MM> [zone] <duration>"
EMERGENCY_SHAPE = "/maintenance emergency <duration> <title…> <incident link> <reason…>"
_SERVICES = re.compile(r"(?:^|\s)services=(\S*)", re.IGNORECASE)


def take_services(text: str) -> tuple[str, tuple[str, ...]]:
    """Take ``services=api,db`` (anywhere, once) out of ``text``: the rest, and the services named."""
    found = list(_SERVICES.finditer(text))
    if not found:
        return text, ()
    if len(found) > 1:
        raise InputError("name the services once, as services=api,db")
    match = found[0]
    if not match.group(1):
        raise InputError("services= names no service; write services=api,db")
    rest = (text[: match.start()] + " " + text[match.end() :]).strip()
    return re.sub(r"[ \t]{2,}", " ", rest), parse_services(match.group(1))


def _emergency(rest: str) -> Command:
    rest, services = take_services(rest)
    tokens = list(_TOKEN.finditer(rest))
    if not tokens:
        raise InputError(f"not enough to go on; write {EMERGENCY_SHAPE}")
    duration = parse_duration(tokens[0].group())
    link = next(
        (t for t in tokens[1:] if t.group().lower().lstrip("<").startswith(("https://", "http://"))), None
    )
    if link is None:
        raise InputError(f"an emergency needs the link to its incident; write {EMERGENCY_SHAPE}")
    title = rest[tokens[0].end() : link.start()].strip()
    reason = rest[link.end() :].strip()
    if not title:
        raise InputError(f"the emergency needs a title before the incident link; write {EMERGENCY_SHAPE}")
    if not reason:
        raise InputError(f"say why it cannot wait, after the incident link; write {EMERGENCY_SHAPE}")
    return Command(
        Verb.EMERGENCY,
        title=title,
        services=services,
        emergency=EmergencyArgs(
            duration=duration, incident_url=link.group().strip("<>").split("|")[0], reason=reason
        ),
    )


def _is_duration(token: str) -> bool:
    try:
        parse_duration(token)
    except TimeInputError:
        return False
    return True


def _window(text: str, shape: str) -> tuple[WindowArgs, str]:
    """Read ``<date> <time> [zone] <duration>`` from the start of ``text``; return it and the rest, verbatim."""
    tokens = list(_TOKEN.finditer(text))
    if len(tokens) < 3:
        raise InputError(f"not enough to go on; write {shape}")
    day, clock = tokens[0].group(), tokens[1].group()
    if _is_duration(tokens[2].group()):
        zone, duration_token, rest_at = None, tokens[2], 3
    else:
        if len(tokens) < 4:
            raise InputError(f"{tokens[2].group()!r} is not a duration; write {shape}")
        zone, duration_token, rest_at = tokens[2].group(), tokens[3], 4
    duration = parse_duration(duration_token.group())
    rest = text[tokens[rest_at].start() :].strip() if len(tokens) > rest_at else ""
    return WindowArgs(day=day, clock=clock, zone=zone, duration=duration), rest


def _date(token: str) -> date | None:
    try:
        return date.fromisoformat(token) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", token) else None
    except ValueError:
        raise InputError(f"{token!r} is not a date; write it as YYYY-MM-DD") from None


def _sensitive(rest: str) -> Command:
    sub, _, args = rest.partition(" ")
    sub = sub.lower()
    if sub in ("", "list"):
        return Command(Verb.SENSITIVE_LIST)
    if sub == "lift":
        number = args.strip().lstrip("#")
        if not number.isdigit() or len(number) > 12:
            raise InputError(
                "write /maintenance sensitive lift <number>, with the number /maintenance sensitive shows"
            )
        return Command(Verb.SENSITIVE_LIFT, number=int(number))
    if sub != "add":
        raise InputError(f"unknown sensitive subcommand {sub[:40]!r}; use add, lift or list")
    tokens = list(_TOKEN.finditer(args))
    if len(tokens) < 3:
        raise InputError(f"not enough to go on; write {SENSITIVE_SHAPE}")
    start = _date(tokens[1].group())
    if start is None:
        raise InputError(f"{tokens[1].group()!r} is not a date; write {SENSITIVE_SHAPE}")
    end = _date(tokens[2].group())
    reason_at = 3 if end is not None else 2
    if len(tokens) <= reason_at:
        raise InputError(f"say why the region is sensitive; write {SENSITIVE_SHAPE}")
    reason = args[tokens[reason_at].start() :].strip()
    return Command(
        Verb.SENSITIVE_ADD,
        sensitive=SensitiveArgs(region_id=tokens[0].group(), start=start, end=end or start, reason=reason),
    )


def parse_command(text: str) -> Command:
    """``propose …``, ``propose``, ``check …``, ``list``, ``help`` or nothing. InputError says what is wrong."""
    if len(text) > MAX_TEXT:
        raise InputError(f"that command is {len(text)} characters long; the most is {MAX_TEXT}")
    text = text.replace("\x00", "").strip()
    if not text:
        return Command(Verb.HELP)
    head, _, rest = text.partition(" ")
    verb = head.lower()
    rest = rest.strip()
    if verb == "help":
        return Command(Verb.HELP)
    if verb == "list":
        return Command(Verb.LIST)
    if verb == "propose":
        if not rest:
            return Command(Verb.PROPOSE_FORM)
        rest, services = take_services(rest)
        window, title = _window(rest, PROPOSE_SHAPE)
        if not title:
            raise InputError(f"the change needs a title after the duration; write {PROPOSE_SHAPE}")
        return Command(Verb.PROPOSE, window=window, title=title, services=services)
    if verb == "emergency":
        return _emergency(rest)
    if verb == "sensitive":
        return _sensitive(rest)
    if verb == "check":
        window, extra = _window(rest, CHECK_SHAPE)
        if extra:
            raise InputError(f"unexpected {extra[:40]!r} after the duration; write {CHECK_SHAPE}")
        return Command(Verb.CHECK, window=window)
    raise InputError(f"unknown subcommand {head[:40]!r}")
