"""Parsing ``services=…`` in a proposal and ``/maintenance emergency …``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatops.domain.conflicts import parse_services
from chatops.errors import InputError
from chatops.slack.commands import Verb, parse_command, take_services


def test_a_proposal_names_its_services_after_the_title() -> None:
    command = parse_command("propose 2026-12-07 22:00 UTC 1h Core upgrade services=api,db")
    assert (command.verb, command.title, command.services) == (Verb.PROPOSE, "Core upgrade", ("api", "db"))
    assert command.window is not None and command.window.zone == "UTC"


def test_services_may_come_anywhere_and_are_lower_cased_once() -> None:
    command = parse_command("propose 2026-12-07 22:00 1h services=API,db,api Core upgrade")
    assert (command.title, command.services) == ("Core upgrade", ("api", "db"))


def test_a_proposal_without_services_names_none() -> None:
    assert parse_command("propose 2026-12-07 22:00 1h Core upgrade").services == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("propose 2026-12-07 22:00 1h Up services=", "names no service"),
        ("propose 2026-12-07 22:00 1h Up services=api services=db", "once"),
        ("propose 2026-12-07 22:00 1h Up services=a/b", "not a service name"),
        ("emergency 30m Fix the disk", "link to its incident"),
        ("emergency 30m https://x.example/1 disk full", "needs a title"),
        ("emergency 30m Fix https://x.example/1", "say why"),
        ("emergency soon Fix https://x.example/1 disk", "duration"),
        ("emergency", "not enough"),
    ],
)
def test_bad_input_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_command(text)


def test_an_emergency_reads_duration_title_link_and_reason() -> None:
    command = parse_command(
        "emergency 45m Grow the disk https://status.example.com/i/42 db-1 is full services=db"
    )
    assert command.verb is Verb.EMERGENCY and command.emergency is not None
    assert command.title == "Grow the disk"
    assert command.emergency.duration == timedelta(minutes=45)
    assert command.emergency.incident_url == "https://status.example.com/i/42"
    assert command.emergency.reason == "db-1 is full"
    assert command.services == ("db",)


def test_an_emergency_link_as_slack_escapes_it() -> None:
    command = parse_command("emergency 1h Fix <https://status.example.com/i/7|INC-7> it is down")
    assert command.emergency is not None
    assert command.emergency.incident_url == "https://status.example.com/i/7"
    assert command.emergency.reason == "it is down"


names = st.lists(st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,10}", fullmatch=True), min_size=1, max_size=6)


@given(names, st.text(alphabet="abc xyz", max_size=20))
def test_services_round_trip(services: list[str], title: str) -> None:
    rest, found = take_services(f"{title} services={','.join(services)}")
    assert found == tuple(dict.fromkeys(services))
    assert rest == title.strip() or "services=" not in rest
    assert parse_services(" ".join(services)) == found
