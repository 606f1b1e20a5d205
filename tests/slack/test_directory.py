"""Approver lookups when Slack cannot list a user group (issue case 6): asked again with backoff, not on every
click; one warning without a traceback; the last members seen stop counting after a bounded age, and the person
refused is told why."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import APPROVER_2, GROUP, PROPOSER, next_week, parent_of
from inprocess import in_process
from slack_sdk import WebClient
from slackfake.standin import SlackStandIn

from chatops.slack import ids
from chatops.slack.directory import Directory, Workspace


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def directory(standin: SlackStandIn) -> Iterator[tuple[Directory, Clock]]:
    clock = Clock()
    client = WebClient(token=standin.token, base_url=standin.url)
    yield Directory(client, frozenset({"U0DIRECT", GROUP}), ttl=60, max_age=600, clock=clock), clock


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
