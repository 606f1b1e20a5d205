"""The calendar feed: approved and pending windows as iCalendar, read back by two independent parsers
(icalendar and vobject), served at /calendar.ics only with the right token, and by ``chatops calendar export``."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject
from dbs import BACKENDS, copy_migrated_sqlite, fresh_url

from chatops.cli import main
from chatops.config import Settings, parse_regions
from chatops.feed import build_feed, feed_rows
from chatops.service import ProposalRequest, Service
from chatops.store.sql import SqlStore
from chatops.web import Runtime, WsgiApp, build_runtime

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CONFIG = parse_regions(
    """
[policy]
approvals_required = 1

[[regions]]
id = "de"
name = "Germany"
timezone = "Europe/Berlin"
peak_hours = ["08:00-20:00"]
""",
    source="test.toml",
)
TITLE = "Core <network> & DNS — Überholung"


def _propose(service: Service, key: str, start: datetime, title: str = TITLE) -> int:
    outcome = service.propose(
        ProposalRequest(
            idempotency_key=key,
            proposer="UP",
            title=title,
            start=start,
            duration=timedelta(minutes=90),
            input_tz="Europe/Berlin",
        )
    )
    return outcome.proposal.id


def _fill(service: Service) -> tuple[int, int, int]:
    pending = _propose(service, "a", NOW + timedelta(days=2))
    approved = _propose(service, "b", NOW + timedelta(days=3), title="Database failover drill")
    cancelled = _propose(service, "c", NOW + timedelta(days=4), title="Never mind")
    service.store.set_message_ts(pending, "1764666000.001200")
    service.approve(approved, actor="UA")
    service.cancel(cancelled, actor="UP")
    return pending, approved, cancelled


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with fresh_url(request.param, tmp_path) as url:
        copy_migrated_sqlite(url)
        opened = SqlStore.open(url)
        yield opened
        opened.close()


def test_the_feed_reads_back_the_same_in_two_independent_parsers(store: SqlStore) -> None:
    service = Service(
        store=store, config=CONFIG, channel="C1", approvers=lambda: frozenset({"UA"}), clock=lambda: NOW
    )
    pending, approved, _ = _fill(service)
    body = build_feed(feed_rows(store, now=NOW), slack_url="https://acme.slack.com", now=NOW)

    parsed = vobject.readOne(body.decode("utf-8"))
    events = parsed.vevent_list
    assert [e.uid.value for e in events] == [f"chg-{pending}@chatops", f"chg-{approved}@chatops"]
    first, second = events
    assert first.dtstart.value == NOW + timedelta(days=2)
    assert first.dtstart.value.utcoffset() == timedelta(0)
    assert first.dtend.value - first.dtstart.value == timedelta(minutes=90)
    assert first.summary.value == f"CHG-{pending} {TITLE} (pending approval)"
    link = "https://acme.slack.com/archives/C1/p1764666000001200"
    assert f"Slack thread: {link}" in first.description.value
    assert first.url.value == link
    assert first.status.value == "TENTATIVE"
    assert second.summary.value == f"CHG-{approved} Database failover drill (approved)"
    assert second.status.value == "CONFIRMED"
    assert "not posted yet" in second.description.value

    calendar = icalendar.Calendar.from_ical(body)
    again = list(calendar.walk("VEVENT"))
    assert [str(e["UID"]) for e in again] == [e.uid.value for e in events]
    assert [e.decoded("DTSTART") for e in again] == [e.dtstart.value for e in events]
    assert [str(e["SUMMARY"]) for e in again] == [e.summary.value for e in events]
    assert b"DTSTART:20261204T090000Z" in body  # UTC, no zone to resolve


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        slack_bot_token="xoxb-not-used",
        slack_signing_secret="not-used",
        slack_api_url="http://127.0.0.1:9/api/",
        chatops_channel="C0CHANGES",
        chatops_approvers="U0APPROVER",
        chatops_database_url=f"sqlite:///{tmp_path / 'ops.db'}",
        chatops_calendar_token="s3cret-feed-token",
        chatops_slack_url="https://acme.slack.com/",
    )
    running = build_runtime(settings, start_worker=False)
    yield running
    running.close()


def _get(app: WsgiApp, query: str) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {
        "PATH_INFO": "/calendar.ics",
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(b""),
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(app(environ, start_response))
    return int(answer["status"].split()[0]), answer["headers"], body


def test_the_feed_is_served_only_with_the_right_token(runtime: Runtime) -> None:
    _propose(runtime.service, "a", datetime.now(UTC) + timedelta(days=2))
    app = WsgiApp(runtime)
    for query in ("", "token=", "token=wrong", "token=s3cret-feed-tokenX", "other=s3cret-feed-token"):
        status, _, body = _get(app, query)
        assert (status, body) == (404, b"not found\n"), query
    status, headers, body = _get(app, "token=s3cret-feed-token")
    assert status == 200 and headers["Content-Type"].startswith("text/calendar")
    (event,) = vobject.readOne(body.decode()).vevent_list
    assert event.summary.value.startswith("CHG-1 ")


def test_without_a_token_setting_there_is_no_feed(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"chatops_calendar_token": None})
    assert _get(WsgiApp(runtime), "token=")[0] == 404
    assert _get(WsgiApp(runtime), "token=None")[0] == 404


def test_calendar_export_writes_the_feed(runtime: Runtime, tmp_path: Path) -> None:
    _propose(runtime.service, "a", datetime.now(UTC) + timedelta(days=2))
    out = io.StringIO()
    url = runtime.settings.chatops_database_url
    assert main(["calendar", "export", "--database-url", url], out=out, err=out) == 0
    (event,) = vobject.readOne(out.getvalue()).vevent_list
    assert "(pending approval" in event.summary.value
    target = tmp_path / "out.ics"
    assert main(["calendar", "export", "--database-url", url, "--output", str(target)], out=out, err=out) == 0
    assert icalendar.Calendar.from_ical(target.read_bytes()).walk("VEVENT")[0]["UID"] == "chg-1@chatops"
    assert os.path.getsize(target) > 0


def test_a_change_marked_done_stays_in_the_feed_as_done(store: SqlStore) -> None:
    service = Service(
        store=store, config=CONFIG, channel="C1", approvers=lambda: frozenset({"UA"}), clock=lambda: NOW
    )
    _, approved, _ = _fill(service)
    service.complete(approved, actor="UP")
    body = build_feed(feed_rows(store, now=NOW), slack_url="https://acme.slack.com", now=NOW)
    done = [
        e
        for e in vobject.readOne(body.decode("utf-8")).vevent_list
        if e.uid.value == f"chg-{approved}@chatops"
    ]
    assert [e.summary.value for e in done] == [f"CHG-{approved} Database failover drill (done)"]
    assert done[0].status.value == "CONFIRMED"
