"""Conflicts between windows on the same service: pure, so checked against a brute-force reading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.domain.conflicts import (
    Booking,
    all_conflicts,
    check_services,
    conflicts_with,
    overlaps,
    parse_services,
)
from chatops.errors import InputError

spans = st.tuples(st.integers(0, 40), st.integers(1, 20)).map(lambda t: (t[0], t[0] + t[1]))
names = st.lists(st.sampled_from(["api", "db", "edge"]), max_size=3, unique=True).map(tuple)


@given(spans, spans)
def test_overlap_is_sharing_at_least_one_second(a: tuple[int, int], b: tuple[int, int]) -> None:
    shared = set(range(*a)) & set(range(*b))
    assert overlaps(*a, *b) == bool(shared) == overlaps(*b, *a)


@given(st.lists(st.tuples(spans, names), max_size=8))
def test_conflicts_are_mutual_and_name_the_shared_services(
    items: list[tuple[tuple[int, int], tuple[str, ...]]],
) -> None:
    bookings = [Booking(i, s, e, svc) for i, ((s, e), svc) in enumerate(items)]
    found = all_conflicts(bookings)
    for booking in bookings:
        for conflict in conflicts_with(booking, bookings):
            other = bookings[conflict.other]
            assert conflict.other != booking.id
            assert overlaps(booking.start, booking.end, other.start, other.end)
            assert conflict.services and set(conflict.services) == set(booking.services) & set(other.services)
            assert booking.id in [c.other for c in found[other.id]]  # the other sees it too
    for a in bookings:
        for b in bookings:
            expected = (
                a.id != b.id
                and overlaps(a.start, a.end, b.start, b.end)
                and bool(set(a.services) & set(b.services))
            )
            assert (b.id in [c.other for c in found.get(a.id, [])]) == expected


@given(st.lists(st.tuples(spans, names), max_size=12))
def test_all_conflicts_is_conflicts_with_for_each(
    items: list[tuple[tuple[int, int], tuple[str, ...]]],
) -> None:
    bookings = [Booking(i, s, e, svc) for i, ((s, e), svc) in enumerate(items)]
    expected = {b.id: c for b in bookings if (c := conflicts_with(b, bookings))}
    found = all_conflicts(bookings)
    assert found == expected
    assert list(found) == list(expected)  # in the order of the bookings


def test_parse_services_reads_commas_and_spaces() -> None:
    assert parse_services(" API, db  edge,,db ") == ("api", "db", "edge")
    assert parse_services("") == ()


@pytest.mark.parametrize("text", ["a/b", "-api", "x" * 65, "<!channel>"])
def test_parse_services_refuses_what_is_not_a_name(text: str) -> None:
    with pytest.raises(InputError, match="not a service name"):
        parse_services(text)


def test_at_most_twenty_services() -> None:
    with pytest.raises(InputError, match="20 services at the most"):
        parse_services(",".join(f"s{i}" for i in range(21)))


def test_unknown_services_name_the_known_ones() -> None:
    check_services(("api",), known=("api", "db"))
    with pytest.raises(InputError, match="unknown services x, y; the known services are api, db") as caught:
        check_services(("x", "api", "y"), known=("api", "db"))
    assert caught.value.field == "services"
    with pytest.raises(InputError, match="lists no services"):
        check_services(("api",), known=())
