"""A serving process asks Slack at start what its first requests would otherwise wait for (which workspace it is
in, the approver groups' members, approvers' names and zones) and builds the engine's tables; Bolt's
authorization and the workspace check share one ``auth.test``; one ``users.info`` gives both a name and a zone."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import pytest
from conftest import APPROVER_1, APPROVER_2, GROUP, PROPOSER, next_week, parent_of
from inprocess import in_process
from slackfake.standin import SlackStandIn

from chatops.domain import timeline
from chatops.slack import ids

evaluate_module = importlib.import_module("chatops.domain.evaluate")  # the package's name is its function

LOOKUPS = frozenset({"auth.test", "usergroups.users.list", "users.info"})


def lookups_since(standin: SlackStandIn, index: int) -> list[str]:
    return [c.method for c in standin.calls[index:] if c.method in LOOKUPS]


def test_a_warmed_up_process_asks_slack_nothing_more_for_its_first_decisions(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        runtime.warm_up()
        assert len(standin.calls_to("auth.test")) == 1  # for Bolt and the workspace check both
        assert [c.params.get("usergroup") for c in standin.calls_to("usergroups.users.list")] == [GROUP]
        # The approvers named (the proposer is one in these settings) and the group's member.
        assert {c.params.get("user") for c in standin.calls_to("users.info")} == {
            PROPOSER,
            APPROVER_1,
            APPROVER_2,
        }

        asked = len(standin.calls)
        slack.command(f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
        parent = parent_of(standin)
        slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_2)  # an approver through the group
        assert runtime.store.approvers(1, round=1) == [APPROVER_2]
        # An approver's zone came with their name: a check without a zone reads times in it, asking nothing.
        assert slack.command(f"check {next_week(0)} 22:00 1h", user_id=APPROVER_1).status_code == 200
        standin.wait_until(lambda: any("your Slack time zone" in str(c.body) for c in standin.calls[asked:]))
        assert lookups_since(standin, asked) == []


def test_one_users_info_gives_a_newcomer_both_their_zone_and_their_name(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    standin.set_user("U0NEWCOMER", tz="Asia/Kolkata", name="Newcomer")
    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        # No zone given: the times are read in the proposer's Slack zone, and the audit record has their name.
        slack.command(f"propose {next_week(0)} 10:00 1h Newcomer's change", user_id="U0NEWCOMER")
        parent_of(standin)
        [event] = [e for e in runtime.store.iter_events() if e.kind == "proposed"]
        assert event.actor_name == "Newcomer"
        assert event.data["window_local"]["start"].endswith("+05:30")
    assert [c.params.get("user") for c in standin.calls_to("users.info")] == ["U0NEWCOMER"]


def test_bolt_and_the_workspace_check_share_one_auth_test(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    with in_process(tmp_path, standin, database_url) as (_, slack):  # not warmed: the first request asks
        assert slack.command("list", user_id=PROPOSER).status_code == 200
        assert slack.command("list", user_id=PROPOSER).status_code == 200
        standin.wait_until(lambda: len(standin.ephemerals()) + len(standin.calls_to("response_url")) >= 2)
    assert len(standin.calls_to("auth.test")) == 1


def test_a_warm_up_slack_does_not_answer_leaves_the_lookups_to_the_requests(
    tmp_path: Path, standin: SlackStandIn, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        standin.go_down()
        with caplog.at_level(logging.WARNING):
            runtime.warm_up()  # returns: each lookup gave up with a warning
        ours = [r for r in caplog.records if r.name.startswith("chatops")]
        assert ours and not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info]
        standin.come_back()
        asked = len(standin.calls)
        slack.command(f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
        parent_of(standin)
        assert "auth.test" in lookups_since(standin, asked)


def test_the_warm_up_builds_the_engine_tables_a_first_proposal_needs(
    tmp_path: Path, standin: SlackStandIn, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tables other tests in this process built would hide what the warm-up does: start from none.
    monkeypatch.setattr(timeline, "_BLOCKS", {})
    monkeypatch.setattr(evaluate_module, "_FIXED", {})
    scans: list[str] = []
    real_scan = timeline.scan
    monkeypatch.setattr(timeline, "scan", lambda zone, *a: scans.append(zone.key) or real_scan(zone, *a))
    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        runtime.warm_up()
        assert {"Asia/Tehran", "America/Los_Angeles"} <= set(scans)
        built, scans[:] = len(evaluate_module._FIXED), []
        slack.command(f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Flagged change", user_id=PROPOSER)
        parent_of(standin)
        assert scans == []  # the window, and the suggestions searched for it, found every table built
        assert len(evaluate_module._FIXED) == built == len(runtime.config.regions)
