"""Freeze calendars: fetched politely from a loopback server (slow, failing, 304, changed), recurring events
expanded in their own zones, and a window overlapping a freeze flagged with the event's summary."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from dbs import fresh_url

from chatops.calendars import CalendarError, CalendarFetcher, Calendars
from chatops.cli import main
from chatops.config import parse_regions
from chatops.domain import evaluate
from chatops.domain.models import Window
from chatops.errors import ConfigError
from chatops.service import ProposalRequest, Service
from chatops.slack.blocks import evaluation_blocks, risk_line, thread_reply
from chatops.store.sql import SqlStore

FREEZE_V1 = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//freeze//EN
BEGIN:VEVENT
UID:year-end@test
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20261221
DTEND;VALUE=DATE:20270104
SUMMARY:Year-end freeze
END:VEVENT
END:VCALENDAR
"""
FREEZE_V2 = FREEZE_V1.replace(b"Year-end freeze", b"Holiday code freeze")

WEEKLY = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//freeze//EN
BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
TZNAME:EDT
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
TZNAME:EST
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:friday@test
DTSTAMP:20260101T000000Z
DTSTART;TZID=America/New_York:20261016T180000
DTEND;TZID=America/New_York:20261016T235900
RRULE:FREQ=WEEKLY;BYDAY=FR
SUMMARY:Friday evening freeze
END:VEVENT
END:VCALENDAR
"""


class Server:
    """A loopback calendar server whose answers the test sets: body, ETag, delay, status."""

    def __init__(self) -> None:
        self.body = FREEZE_V1
        self.etag = '"v1"'
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(dict(self.headers))
                if outer.delay:
                    time.sleep(outer.delay)
                if outer.status != 200:
                    self.send_response(outer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == outer.etag:
                    self.send_response(304)
                    self.send_header("ETag", outer.etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("ETag", outer.etag)
                self.send_header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/freeze.ics"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    # shutdown() waits for the next poll: 50 ms, not the default 0.5 s per test.
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(0.3)) as c:
        yield c


def test_fetch_keeps_the_last_good_copy_and_asks_conditionally(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    fetcher = CalendarFetcher(tmp_path, client=client, clock=clock)
    first = fetcher.fetch(server.url)
    assert (first.body, first.problem) == (FREEZE_V1, None)
    assert "If-None-Match" not in server.requests[0]

    # Unchanged: the server answers 304 to the validators, and the kept copy is fresh again.
    clock.now += timedelta(hours=1)
    again = fetcher.fetch(server.url)
    assert server.requests[1]["If-None-Match"] == '"v1"'
    assert server.requests[1]["If-Modified-Since"] == "Tue, 01 Dec 2026 10:00:00 GMT"
    assert (again.body, again.good_at, again.problem) == (FREEZE_V1, clock.now, None)

    # Failing: 503, then too slow; the copy from an hour before is used, with its age.
    good_at = clock.now
    clock.now += timedelta(hours=3)
    server.status = 503
    failed = fetcher.fetch(server.url)
    assert (failed.body, failed.good_at, failed.problem) == (FREEZE_V1, good_at, "the server answered 503")
    assert failed.age(clock.now) == timedelta(hours=3)
    server.status, server.delay = 200, 0.6
    slow = fetcher.fetch(server.url)
    assert (slow.body, slow.problem) == (FREEZE_V1, "timed out")

    # Changed: a new ETag and body replace the copy.
    server.delay, server.body, server.etag = 0.0, FREEZE_V2, '"v2"'
    changed = fetcher.fetch(server.url)
    assert (changed.body, changed.problem) == (FREEZE_V2, None)
    assert CalendarFetcher(tmp_path, client=client, clock=clock).cached(server.url)[0] == FREEZE_V2  # type: ignore[index]


def test_a_page_that_is_not_a_calendar_does_not_replace_the_good_copy(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    fetcher = CalendarFetcher(tmp_path, client=client, clock=Clock())
    fetcher.fetch(server.url)
    server.body, server.etag = b"<html>maintenance</html>", '"broken"'
    result = fetcher.fetch(server.url)
    assert result.body == FREEZE_V1 and result.problem is not None and "not an iCalendar" in result.problem


def test_a_huge_answer_is_refused_and_the_good_copy_kept(
    server: Server, client: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetcher = CalendarFetcher(tmp_path, client=client, clock=Clock())
    fetcher.fetch(server.url)
    monkeypatch.setattr("chatops.calendars.MAX_CALENDAR_BYTES", len(FREEZE_V2) - 1)
    server.body, server.etag = FREEZE_V2, '"v2"'
    result = fetcher.fetch(server.url)
    assert (result.body, result.problem) == (FREEZE_V1, "larger than 0 MB")


def test_a_failure_with_no_kept_copy_is_an_error(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    server.status = 500
    with pytest.raises(CalendarError, match="no earlier copy"):
        CalendarFetcher(tmp_path, client=client, clock=Clock()).fetch(server.url)


def test_calendars_show_the_age_of_a_stale_copy(server: Server, client: httpx.Client, tmp_path: Path) -> None:
    config = parse_regions(
        REGIONS + '\n[[calendars]]\nname = "Releases"\nsource = "https://example.invalid/x.ics"\n',
        source="t.toml",
    )
    clock = Clock()
    fetcher = CalendarFetcher(tmp_path, client=client, clock=clock)
    fetcher.fetch(server.url)  # keep a copy under the URL the fetcher is asked for below
    redirect = config.calendars[0].model_copy(update={"source": server.url})
    calendars = Calendars(config.model_copy(update={"calendars": (redirect,)}), fetcher=fetcher, clock=clock)
    server.status = 502
    clock.now += timedelta(days=3)
    assert calendars.refresh() == [
        "calendar 'Releases': the server answered 502; using the copy from 3 days ago"
    ]
    assert calendars.missing == set()
    (freeze,) = calendars.freezes(datetime(2026, 12, 20, tzinfo=UTC), datetime(2026, 12, 22, tzinfo=UTC))
    assert freeze.summary == "Year-end freeze"


REGIONS = """
[[regions]]
id = "de"
name = "Germany"
timezone = "Europe/Berlin"
peak_hours = ["08:00-20:00"]
"""


def test_a_weekly_freeze_keeps_its_wall_clock_across_the_dst_change(tmp_path: Path) -> None:
    (tmp_path / "weekly.ics").write_bytes(WEEKLY)
    config = parse_regions(REGIONS + '\n[[calendars]]\nname = "Ops"\nsource = "weekly.ics"\n', source="t")
    calendars = Calendars(config, base_dir=tmp_path)
    assert calendars.refresh() == []
    found = calendars.freezes(datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 14, tzinfo=UTC))
    # 18:00 in New York is 22:00 UTC under EDT (30 October), 23:00 UTC under EST (6 and 13 November).
    assert [f.start for f in found] == [
        datetime(2026, 10, 30, 22, 0, tzinfo=UTC),
        datetime(2026, 11, 6, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 13, 23, 0, tzinfo=UTC),
    ]
    assert {f.summary for f in found} == {"Friday evening freeze"}
    assert found[1].end - found[1].start == timedelta(hours=5, minutes=59)


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out, err=out), out.getvalue()


def test_check_flags_a_window_in_a_freeze_with_its_summary_and_suggests_after_it(tmp_path: Path) -> None:
    (tmp_path / "freeze.ics").write_bytes(FREEZE_V1)
    regions = tmp_path / "regions.toml"
    regions.write_text(REGIONS + '\n[[calendars]]\nname = "Releases"\nsource = "freeze.ics"\n')
    status, out = _cli(
        "check", "--start", "2026-12-28T03:00Z", "--duration", "1h", "--config", str(regions), "--json"
    )
    document = json.loads(out)
    assert status == 1 and document["flagged"] is True
    assert document["freezes"] == [
        {
            "summary": "Year-end freeze",
            "calendar": "Releases",
            "start": "2026-12-21T00:00:00+00:00",
            "end": "2027-01-04T00:00:00+00:00",
        }
    ]
    assert document["suggestions"][0]["start"] == "2027-01-04T00:00:00+00:00"
    status, text = _cli("check", "--start", "2026-12-28T03:00Z", "--duration", "1h", "--config", str(regions))
    assert status == 1 and "FLAGGED: Change freeze: Year-end freeze (Releases)" in text
    clear, _ = _cli("check", "--start", "2027-01-05T03:00Z", "--duration", "1h", "--config", str(regions))
    assert clear == 0


def test_check_refuses_to_pass_a_window_when_a_calendar_cannot_be_read(tmp_path: Path) -> None:
    regions = tmp_path / "regions.toml"
    regions.write_text(REGIONS + '\n[[calendars]]\nname = "Releases"\nsource = "missing.ics"\n')
    status, err = _cli("check", "--start", "2027-01-05T03:00Z", "--duration", "1h", "--config", str(regions))
    assert status == 2
    assert "calendar 'Releases'" in err and "missing.ics: cannot be read" in err


def test_config_validate_checks_the_calendars(tmp_path: Path) -> None:
    (tmp_path / "bad.ics").write_text("not a calendar")
    regions = tmp_path / "regions.toml"
    regions.write_text(REGIONS + '\n[[calendars]]\nname = "Releases"\nsource = "bad.ics"\n')
    status, err = _cli("config", "validate", str(regions))
    assert status == 2
    assert "calendar 'Releases': not an iCalendar file" in err
    (tmp_path / "bad.ics").write_bytes(FREEZE_V1)
    status, out = _cli("config", "validate", str(regions))
    assert status == 0 and out.startswith("ok:")


def test_config_validate_refuses_an_unreadable_calendar_whatever_its_name(tmp_path: Path) -> None:
    regions = tmp_path / "regions.toml"
    regions.write_text(REGIONS + '\n[[calendars]]\nname = "Ops\'s releases"\nsource = "missing.ics"\n')
    status, err = _cli("config", "validate", str(regions))
    assert status == 2
    assert 'calendar "Ops\'s releases"' in err and "missing.ics: cannot be read" in err
    assert "warning" not in err


ELECTIONS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//elections//EN
BEGIN:VEVENT
UID:runoff@test
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20270115
DTEND;VALUE=DATE:20270117
SUMMARY:Presidential run-off
END:VEVENT
END:VCALENDAR
"""


def test_a_sensitivity_calendar_makes_its_regions_sensitive_on_the_events_local_dates(tmp_path: Path) -> None:
    (tmp_path / "elections.ics").write_bytes(ELECTIONS)
    config = parse_regions(
        REGIONS
        + '\n[[regions]]\nid = "fr"\nname = "France"\ntimezone = "Europe/Paris"\npeak_hours = ["08:00-20:00"]\n'
        + '\n[[calendars]]\nname = "Elections"\nsource = "elections.ics"\nkind = "sensitive"\n'
        + 'timezone = "Europe/Berlin"\nregions = ["de"]\n',
        source="t",
    )
    calendars = Calendars(config, base_dir=tmp_path)
    assert calendars.refresh() == []
    window = Window.of(datetime(2027, 1, 16, 11, 0, tzinfo=UTC), timedelta(hours=1))
    de, fr = evaluate(window, regions=calendars.regions(config.regions, window.start, window.end)).regions
    assert de.flagged and de.reasons == ("Presidential run-off (Elections)",)
    assert not fr.sensitive  # not one of the calendar's regions
    after = Window.of(datetime(2027, 1, 17, 11, 0, tzinfo=UTC), timedelta(hours=1))  # DTEND is exclusive
    (de_after, _) = evaluate(after, regions=calendars.regions(config.regions, after.start, after.end)).regions
    assert not de_after.sensitive
    assert calendars.freezes(window.start, window.end) == ()  # a sensitivity calendar freezes nothing


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[calendars]]\nname = "A"\nsource = "http://example.org/a.ics"\n', "file path or an https:// URL"),
        ('[[calendars]]\nname = "A"\nsource = "a.ics"\nregions = ["xx"]\n', "unknown regions: xx"),
        (
            '[[calendars]]\nname = "A"\nsource = "a.ics"\n[[calendars]]\nname = "A"\nsource = "b.ics"\n',
            "twice",
        ),
        ('[[calendars]]\nname = "A"\nsource = "a.ics"\nkind = "party"\n', "'freeze' or 'sensitive'"),
    ],
)
def test_bad_calendar_entries_are_config_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_regions(REGIONS + "\n" + extra, source="t")


def test_a_proposal_in_a_freeze_is_flagged_needs_more_approvals_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "freeze.ics").write_bytes(FREEZE_V1)
    config = parse_regions(
        "[policy]\napprovals_required = 1\nflagged_approvals_required = 2\n"
        + REGIONS
        + '\n[[calendars]]\nname = "Releases"\nsource = "freeze.ics"\n',
        source="t",
    )
    calendars = Calendars(config, base_dir=tmp_path)
    calendars.refresh()
    with fresh_url("sqlite", tmp_path) as url:
        store = SqlStore.open(url)
        try:
            service = Service(
                store=store,
                config=config,
                channel="C1",
                approvers=lambda: frozenset({"UA"}),
                clock=lambda: datetime(2026, 12, 2, tzinfo=UTC),
                calendars=calendars,
            )
            outcome = service.propose(
                ProposalRequest(
                    idempotency_key=None,
                    proposer="UP",
                    title="Deploy",
                    start=datetime(2026, 12, 28, 3, 0, tzinfo=UTC),  # 04:00 in Berlin: off peak
                    duration=timedelta(hours=1),
                    input_tz="UTC",
                )
            )
            (proposed,) = store.events(outcome.proposal.id)
        finally:
            store.close()
    row = outcome.proposal
    assert row.flagged and row.approvals_required == 2
    assert row.evaluation["freezes"][0]["summary"] == "Year-end freeze"
    assert row.evaluation["suggestions"][0]["start"] == "2027-01-04T00:00:00+00:00"
    shown = json.dumps(evaluation_blocks(row.evaluation))
    assert "Change freeze*: Year-end freeze (Releases)" in shown
    assert "Clear" not in risk_line(row.evaluation)
    assert risk_line(row.evaluation) == ":no_entry: *Flagged*: during a change freeze (*Year-end freeze*)."
    reply = thread_reply(row, proposed)["text"]
    assert "flagged: change freeze Year-end freeze" in reply


def test_a_cache_that_cannot_be_written_still_gives_the_fresh_copy(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    fetcher = CalendarFetcher(blocked / "cache", client=client, clock=Clock())
    result = fetcher.fetch(server.url)
    assert (result.body, result.problem) == (FREEZE_V1, None)
    server.status = 500
    with pytest.raises(CalendarError):  # nothing was kept to fall back on
        fetcher.fetch(server.url)
