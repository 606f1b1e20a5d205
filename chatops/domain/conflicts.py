"""Services a change touches, and conflicts: two open windows that overlap in time on the same service.

Pure: the callers pass the windows (POSIX seconds, half-open ``[start, end)``) and the services named in the
regions file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chatops.domain.models import SERVICE_NAME
from chatops.errors import InputError

_NAME = re.compile(SERVICE_NAME)
MAX_SERVICES = 20


def parse_services(text: str) -> tuple[str, ...]:
    """``"api, db"`` or ``"api db"`` → ``("api", "db")``: lower-cased, each once, in the order given."""
    names: list[str] = []
    for part in text.replace(",", " ").split():
        name = part.strip().lower()
        if not _NAME.match(name):
            shown = name if len(name) <= 40 else name[:39] + "…"
            raise InputError(
                f"{shown!r} is not a service name (letters, digits, '.', '_' and '-', at most 64 characters)"
            )
        if name not in names:
            names.append(name)
    if len(names) > MAX_SERVICES:
        raise InputError(
            f"a change may name {MAX_SERVICES} services at the most; this one names {len(names)}"
        )
    return tuple(names)


def check_services(names: Sequence[str], *, known: Sequence[str]) -> None:
    """Refuse services the regions file does not list, naming the ones it does."""
    unknown = [n for n in names if n not in known]
    if not unknown:
        return
    listed = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
    which = ", ".join(unknown[:5]) + ("…" if len(unknown) > 5 else "")
    if not known:
        raise InputError(
            f"unknown service {which}: the regions file lists no services ([[services]])", field="services"
        )
    word = "service" if len(unknown) == 1 else "services"
    raise InputError(f"unknown {word} {which}; the known services are {listed}", field="services")


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Whether two half-open windows share at least one second (back-to-back windows do not overlap)."""
    return a_start < b_end and b_start < a_end


@dataclass(frozen=True)
class Booking:
    """A change's window and the services it touches."""

    id: int
    start: int
    end: int
    services: tuple[str, ...]


@dataclass(frozen=True)
class Conflict:
    """Another change whose window overlaps this one on ``services``."""

    other: int
    services: tuple[str, ...]


def conflicts_with(booking: Booking, others: Iterable[Booking]) -> list[Conflict]:
    """The other bookings that overlap ``booking`` in time and share a service with it, by id."""
    found = []
    for other in others:
        if other.id == booking.id or not overlaps(booking.start, booking.end, other.start, other.end):
            continue
        shared = tuple(s for s in booking.services if s in other.services)
        if shared:
            found.append(Conflict(other=other.id, services=shared))
    return sorted(found, key=lambda c: c.other)


def all_conflicts(bookings: Sequence[Booking]) -> dict[int, list[Conflict]]:
    """For each booking with at least one conflict among ``bookings``: its conflicts (the same as
    :func:`conflicts_with` for each, in the order of ``bookings``).

    A sweep by start time: each booking is compared only with those that start before it ends, and bookings
    without services not at all, so a list of 50 windows costs about 50 comparisons, not 2,500."""
    ordered = sorted((b for b in bookings if b.services), key=lambda b: b.start)
    pairs: dict[int, list[Conflict]] = {}
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start >= a.end:
                break  # every later one starts later still
            if a.id == b.id or not overlaps(a.start, a.end, b.start, b.end):
                continue
            shared = tuple(s for s in a.services if s in b.services)
            if shared:
                pairs.setdefault(a.id, []).append(Conflict(other=b.id, services=shared))
                back = tuple(s for s in b.services if s in a.services)
                pairs.setdefault(b.id, []).append(Conflict(other=a.id, services=back))
    found: dict[int, list[Conflict]] = {}
    for booking in bookings:
        if booking.id in pairs and booking.id not in found:
            found[booking.id] = sorted(pairs[booking.id], key=lambda c: c.other)
    return found
