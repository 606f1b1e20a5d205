"""Store, then acknowledge (issue case 1): a 200 to Slack means the decision is committed; a decision that cannot
be stored within the ack budget is answered "not recorded, try again"; a retried click records nothing twice."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from burst import approve_flagged
from conftest import APPROVER_1, PROPOSER, SECRET, next_week, parent_of, start_server
from crash import kill_instance
from dbs import fresh_url
from inprocess import in_process
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from chatops.slack import ids
from chatops.store import open_store


@contextmanager
def row_locked(url: str, proposal_id: int) -> Iterator[None]:
    """Another database connection holds the change's row (PostgreSQL) or the write lock (SQLite)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM proposals WHERE id = :id FOR UPDATE"), {"id": proposal_id})
            yield
    finally:
        engine.dispose()


def approvals(url: str, proposal_id: int) -> list[str]:
    store = open_store(url)
    try:
        row = store.get_proposal(proposal_id)
        assert row is not None
        return store.approvers(proposal_id, round=row.round)
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_click_that_cannot_be_stored_in_time_is_answered_not_recorded(
    tmp_path: Path, standin: SlackStandIn, backend: str
) -> None:
    with fresh_url(backend, tmp_path) as url, in_process(tmp_path, standin, url) as (_, slack):
        slack.command(f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
        parent = parent_of(standin)
        standin.wait_until(lambda: len(standin.ephemerals()) == 1, message="the proposal's confirmation")
        with row_locked(url, 1):
            # Answered while the row is still locked: the wait for the lock is bounded (2 s, inside Slack's
            # 3 s budget; how long it takes is measured in benchmarks, not asserted here).
            answer = slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_1)
        assert answer.status_code == 200
        standin.wait_until(lambda: len(standin.ephemerals()) == 2, message="the private answer")
        note = standin.ephemerals()[-1].text or ""
        assert "not recorded" in note and "try again" in note
        assert approvals(url, 1) == []
        # Once the lock is gone, the same click is recorded.
        assert slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_1).status_code == 200
        assert approvals(url, 1) == [APPROVER_1]


def test_slack_retries_of_a_stored_click_record_once_and_say_nothing_misleading(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        slack.command(f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER)
        parent = parent_of(standin)
        trigger = slack.new_trigger_id()
        first = slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_1, trigger_id=trigger)
        retry = slack.block_action(
            ids.APPROVE, message=parent, user_id=APPROVER_1, trigger_id=trigger, retry_num=1
        )
        assert first.status_code == retry.status_code == 200
        assert approvals(database_url, 1) == [APPROVER_1]
        # The approval's reply and the parent's update go out; no private refusal for the retry.
        standin.wait_until(lambda: len(standin.calls_to("chat.update")) >= 1, message="the update")
        runtime.worker.stop()
        assert not any("already approved" in (e.text or "") for e in standin.ephemerals())


def test_a_proposal_answered_200_is_stored_before_the_answer(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    with in_process(tmp_path, standin, database_url, start_worker=False) as (runtime, slack):
        answer = slack.command(
            f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER
        )
        assert answer.status_code == 200
        row = runtime.store.get_proposal(1)  # no waiting: committed before the 200
        assert row is not None and row.title == "Clear change"


def test_killed_while_a_click_waits_for_a_lock_slack_retries_and_it_is_recorded_once(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    """kill -9 while a click waits on a locked row: Slack never got a 200, so it retries; the retry, after the
    restart, records the approval exactly once. A click that did get its 200 is stored whatever happens next."""
    with fresh_url("postgresql", tmp_path) as url:
        first = start_server(tmp_path, standin, url, name="first")
        try:
            with SlackClientSim(first.events_url, signing_secret=SECRET, standin=standin) as slack:
                slack.command(
                    f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Flagged change", user_id=PROPOSER
                )
                parent_of(standin)
                outcome: list[object] = []

                def click() -> None:  # a flagged window: the justification form, submitted
                    try:
                        outcome.append(approve_flagged(slack, 1, user=APPROVER_1))
                    except httpx.HTTPError as exc:
                        outcome.append(exc)

                with row_locked(url, 1):
                    clicking = threading.Thread(target=click)
                    clicking.start()
                    time.sleep(0.5)  # the click is waiting for the row
                    kill_instance(first)
                    clicking.join(10)
                assert outcome and not isinstance(outcome[0], httpx.Response)  # no 200: Slack will retry
                assert approvals(url, 1) == []
        finally:
            kill_instance(first)

        second = start_server(tmp_path, standin, url, name="second")
        try:
            with SlackClientSim(second.events_url, signing_secret=SECRET, standin=standin) as slack:
                for n in (1, 2):
                    retried = approve_flagged(slack, 1, user=APPROVER_1, retry_num=n)
                    assert retried.status_code == 200 and not retried.content  # the form closes
                assert approvals(url, 1) == [APPROVER_1]
                # A 200 means stored: kill -9 right after it changes nothing.
                other = approve_flagged(slack, 1, user="U0APPROVER2")
                assert other.status_code == 200 and not other.content
                kill_instance(second)
                assert sorted(approvals(url, 1)) == sorted([APPROVER_1, "U0APPROVER2"])
        finally:
            kill_instance(second)


def test_a_retried_form_whose_decision_is_stored_closes_without_a_misleading_error(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    from slackfake import payloads

    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        slack.command(f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Flagged change", user_id=PROPOSER)
        parent = parent_of(standin)
        slack.block_action(ids.REJECT, message=parent, user_id=APPROVER_1)
        [opened] = standin.wait_for("views.open")
        view = opened.json("view")

        def submit(**send: int) -> httpx.Response:
            return slack.view_submission(
                ids.REJECT_VIEW,
                values={ids.REASON: {ids.REASON: payloads.plain_text_input("too risky")}},
                private_metadata=view["private_metadata"],
                user_id=APPROVER_1,
                **send,  # type: ignore[arg-type]
            )

        first = submit()
        assert first.status_code == 200 and not first.content
        retried = submit(retry_num=1)
        assert retried.status_code == 200 and not retried.content  # closes: no "already rejected" error
        again = submit()  # a second submission that is not a retry is refused inside the form
        assert again.json()["response_action"] == "errors"
        assert [e.kind for e in runtime.store.events(1)].count("rejected") == 1


def test_a_proposal_that_cannot_be_stored_in_time_is_answered_not_recorded(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    with in_process(tmp_path, standin, database_url) as (runtime, slack):
        with row_locked(database_url, 1):  # SQLite: the write lock
            answer = slack.command(
                f"propose {next_week(0)} 14:00 America/Los_Angeles 1h Clear change", user_id=PROPOSER
            )
        assert answer.status_code == 200
        standin.wait_until(lambda: len(standin.ephemerals()) == 1, message="the private answer")
        assert "not recorded" in (standin.ephemerals()[0].text or "")
        assert runtime.store.count_proposals() == 0


def test_a_nul_or_bidi_override_in_a_ticket_link_is_cleaned_on_postgresql(
    tmp_path: Path, standin: SlackStandIn
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from slackfake import payloads

    day = next_week(1)
    start = int(
        datetime(day.year, day.month, day.day, 14, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    )
    with fresh_url("postgresql", tmp_path) as url, in_process(tmp_path, standin, url) as (runtime, slack):
        answer = slack.view_submission(
            ids.PROPOSE_VIEW,
            values={
                ids.TITLE: {ids.TITLE: payloads.plain_text_input("Rotate keys")},
                ids.START: {ids.START: payloads.datetimepicker(start)},
                ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
                ids.ZONE: {ids.ZONE: payloads.plain_text_input("UTC")},
                ids.TICKET: {ids.TICKET: payloads.plain_text_input("https://t.example/\x00a\u202eb")},
            },
            user_id=PROPOSER,
        )
        assert answer.status_code == 200 and answer.json()["response_action"] == "update"
        row = runtime.store.get_proposal(1)
        assert row is not None and row.ticket_url == "https://t.example/ab"
