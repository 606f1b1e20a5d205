"""Approver lookups: a group past its time to live answers with the members seen last while Slack is asked
again in the background; when Slack cannot list a user group (issue case 6) it is asked again with backoff, not
on every click; one warning without a traceback; the last members seen stop counting after a bounded age, and
the person refused is told why."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import APPROVER_2, GROUP, PROPOSER, next_week, parent_of
from inprocess import in_process
from refreshers import Held, inline
from slack_sdk import WebClient
from slackfake.standin import SlackStandIn

from chatops.errors import InputError
from chatops.slack import ids
from chatops.slack.directory import Directory, Workspace
from chatops.slack.refresh import Refresher


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def directory(standin: SlackStandIn) -> Iterator[tuple[Directory, Clock]]:
    clock = Clock()
    client = WebClient(token=standin.token, base_url=standin.url)
    directory = Directory(
        client, frozenset({"U0DIRECT", GROUP}), ttl=60, max_age=600, clock=clock, refresher=inline()
    )
    yield directory, clock


def lookups(standin: SlackStandIn) -> int:
    return len(standin.calls_to("usergroups.users.list"))


def test_members_are_cached_for_the_ttl(directory: tuple[Directory, Clock], standin: SlackStandIn) -> None:
    d, clock = directory
    assert d.approvers() == {"U0DIRECT", APPROVER_2}
    clock.now += 30
    assert d.approvers() == {"U0DIRECT", APPROVER_2}
    assert lookups(standin) == 1
    clock.now += 31
    d.approvers()
    assert lookups(standin) == 2


def test_past_the_ttl_the_members_seen_answer_while_slack_is_asked_in_the_background(
    standin: SlackStandIn,
) -> None:
    clock, held = Clock(), Held()
    client = WebClient(token=standin.token, base_url=standin.url)
    d = Directory(client, frozenset({GROUP}), ttl=60, max_age=600, clock=clock, refresher=held.refresher)
    assert d.approvers() == {APPROVER_2}  # nothing known: asked while the click waits
    assert lookups(standin) == 1 and held.pending == []

    standin.set_usergroup(GROUP, [APPROVER_2, "U0JOINED"])
    clock.now += 61
    assert d.approvers() == {APPROVER_2}  # answered from what was seen: Slack not asked yet
    assert d.approvers() == {APPROVER_2}
    assert lookups(standin) == 1 and len(held.pending) == 1  # one question in flight, not one a click

    assert held.run() == 1
    assert lookups(standin) == 2
    assert d.approvers() == {APPROVER_2, "U0JOINED"}  # the answer counts from the next lookup
    assert held.pending == []

    # Too old to count (past max_age): asked while the click waits, so a removed member stops at once.
    standin.set_usergroup(GROUP, ["U0JOINED"])
    clock.now += 601
    assert d.approvers() == {"U0JOINED"}
    assert lookups(standin) == 3 and held.pending == []


def test_a_refresh_runs_in_a_thread_of_its_own(standin: SlackStandIn) -> None:
    clock = Clock()
    client = WebClient(token=standin.token, base_url=standin.url)
    refresher = Refresher()
    d = Directory(client, frozenset({GROUP}), ttl=60, clock=clock, refresher=refresher)
    assert d.approvers() == {APPROVER_2}
    standin.set_usergroup(GROUP, ["U0OTHER"])
    clock.now += 61
    asked_from: list[str] = []
    real = client.usergroups_users_list

    def spy(**kwargs: Any) -> Any:
        asked_from.append(threading.current_thread().name)
        return real(**kwargs)

    client.usergroups_users_list = spy  # type: ignore[method-assign]
    assert d.approvers() == {APPROVER_2}
    assert refresher.wait()
    assert asked_from == ["chatops-refresh"]
    assert d.approvers() == {"U0OTHER"}


def test_an_unreadable_group_is_retried_with_backoff_and_its_members_expire(
    directory: tuple[Directory, Clock], standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    d, clock = directory
    assert APPROVER_2 in d.approvers()
    standin.fail_next("usergroups.users.list", 10_000, status=500)
    with caplog.at_level(logging.INFO, logger="chatops.slack.directory"):
        seen_at = [63, 130, 599]
        for t in range(61, 600):  # a click every second for ten minutes
            clock.now = 1000 + t
            members = d.approvers()
            if t in seen_at:
                assert APPROVER_2 in members  # still within the bound
        # Backoff: 5, 10, 20, 40, 80, 160, 300 s… instead of one lookup per click.
        assert lookups(standin) <= 10
        clock.now = 1000 + 601
        assert APPROVER_2 not in d.approvers()  # older than max_age: stops counting
        assert d.approvers() == {"U0DIRECT"}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and GROUP in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    note = d.unreadable_note()
    assert note is not None and GROUP in note

    # Slack answers again: members are read afresh (at the next backoff step), the note goes away.
    standin.clear()
    clock.now += 400
    assert APPROVER_2 in d.approvers()
    assert d.unreadable_note() is None


def test_a_group_never_read_counts_as_empty(
    directory: tuple[Directory, Clock], standin: SlackStandIn
) -> None:
    d, _ = directory
    standin.fail_next("usergroups.users.list", 10, status=500)
    assert d.approvers() == {"U0DIRECT"}
    assert d.unreadable_note() is not None


def test_the_approver_refused_meanwhile_is_told_why(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    with in_process(tmp_path, standin, database_url, chatops_group_cache_max_age=0) as (runtime, slack):
        slack.command(f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Core upgrade", user_id=PROPOSER)
        parent = parent_of(standin)
        standin.wait_until(lambda: len(standin.ephemerals()) == 1, message="confirmation")
        standin.fail_next("usergroups.users.list", 10_000, status=500)
        slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_2)
        standin.wait_until(lambda: len(standin.ephemerals()) == 2, message="the refusal")
        text = standin.ephemerals()[-1].text or ""
        assert "not an approver" in text and GROUP in text
        row = runtime.store.get_proposal(1)
        assert row is not None and runtime.store.approvers(1, round=row.round) == []


def test_the_workspace_comes_from_auth_test_once(standin: SlackStandIn) -> None:
    w = Workspace(WebClient(token=standin.token, base_url=standin.url))
    assert w.refusal(team_id="T0000TEST", enterprise_id=None) is None
    assert w.refusal(team_id="T0OTHER", enterprise_id=None) is not None
    assert w.refusal(team_id="T0000TEST", enterprise_id="E0OTHER") is not None
    assert len(standin.calls_to("auth.test")) == 1


def test_a_configured_team_needs_no_lookup(standin: SlackStandIn) -> None:
    w = Workspace(WebClient(token=standin.token, base_url=standin.url), team_id="T0CONFIGURED")
    assert w.refusal(team_id="T0CONFIGURED", enterprise_id=None) is None
    assert w.refusal(team_id="T0000TEST", enterprise_id=None) is not None
    assert standin.calls_to("auth.test") == []


def test_without_auth_test_nothing_is_let_in(standin: SlackStandIn) -> None:
    standin.fail_next("auth.test", 1, status=500)
    w = Workspace(WebClient(token=standin.token, base_url=standin.url))
    assert w.refusal(team_id="T0000TEST", enterprise_id=None) is not None
    assert w.refusal(team_id="T0000TEST", enterprise_id=None) is None  # asked again, and it answers


def test_a_zone_known_answers_past_its_age_and_when_slack_is_down(standin: SlackStandIn) -> None:
    clock, held = Clock(), Held()
    client = WebClient(token=standin.token, base_url=standin.url, retry_handlers=[])
    d = Directory(client, frozenset(), ttl=60, clock=clock, refresher=held.refresher)
    standin.set_user("U0TRAVEL", tz="Europe/Berlin", name="traveller")
    assert d.user_tz("U0TRAVEL") == "Europe/Berlin"
    standin.set_user("U0TRAVEL", tz="Asia/Tokyo", name="traveller")
    clock.now += 601
    assert d.user_tz("U0TRAVEL") == "Europe/Berlin" and len(held.pending) == 1
    held.run()
    assert d.user_tz("U0TRAVEL") == "Asia/Tokyo"

    clock.now += 601
    standin.fail_next("users.info", 1, status=500)
    assert d.user_tz("U0TRAVEL") == "Asia/Tokyo"
    held.run()  # fails: the zone known still answers
    assert d.user_tz("U0TRAVEL") == "Asia/Tokyo"
    standin.fail_next("users.info", 1, status=500)
    with pytest.raises(InputError, match="time zone could not be read"):
        d.user_tz("U0NEVERSEEN")
