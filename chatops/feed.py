"""The calendar feed out: approved and pending windows as iCalendar (RFC 5545), for any calendar client.

Times are UTC (``DTSTART:20261207T060000Z``), so no client has to know a zone; each event's summary names the
change, its description says its state and links its Slack thread (also the event's ``URL``). A change keeps its
``UID`` for life and its ``SEQUENCE`` grows with every change of the proposal, so clients update, not duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import icalendar

from chatops.domain.policy import Status
from chatops.domain.timeline import from_ts, to_ts
from chatops.store import ProposalSummary, Store

PRODID = "-//chatops//maintenance windows//EN"
FEED_STATUSES = (Status.PENDING, Status.NEEDS_REAPPROVAL, Status.APPROVED, Status.DONE)
FEED_HISTORY = timedelta(days=30)
"""How long after its end a window stays in the feed."""
FEED_LIMIT = 1000


def thread_url(row: ProposalSummary, *, slack_url: str) -> str | None:
    """The link to a proposal's Slack thread (``https://…slack.com/archives/C…/p…``), once it is posted."""
    if not row.message_ts:
        return None
    base = slack_url if slack_url.endswith("/") else slack_url + "/"
    return f"{base}archives/{row.channel}/p{row.message_ts.replace('.', '')}"


def _event(row: ProposalSummary, *, slack_url: str, now: datetime) -> icalendar.Event:
    state = {Status.APPROVED: "approved", Status.DONE: "done"}.get(row.status, "pending approval")
    flag = ", flagged" if row.flagged else ""
    event = icalendar.Event()
    event.add("uid", f"chg-{row.id}@chatops")
    event.add("dtstamp", now)
    event.add("dtstart", from_ts(row.start_ts))
    event.add("dtend", from_ts(row.end_ts))
    event.add("summary", f"CHG-{row.id} {row.title} ({state}{flag})")
    link = thread_url(row, slack_url=slack_url)
    lines = [f"CHG-{row.id}: {row.title}", f"State: {state}{flag}", f"Proposed by Slack user {row.proposer}"]
    if row.ticket_url:
        lines.append(f"Ticket: {row.ticket_url}")
    lines.append(f"Slack thread: {link}" if link else "Slack thread: not posted yet")
    event.add("description", "\n".join(lines))
    if link:
        event.add("url", link)
    event.add("status", "CONFIRMED" if row.status in (Status.APPROVED, Status.DONE) else "TENTATIVE")
    event.add("sequence", row.version)
    event.add("last-modified", from_ts(row.updated_at))
    event.add("created", from_ts(row.created_at))
    return event


def build_feed(rows: Sequence[ProposalSummary], *, slack_url: str, now: datetime) -> bytes:
    """The iCalendar text of these proposals."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Maintenance windows")
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for row in rows:
        calendar.add_component(_event(row, slack_url=slack_url, now=stamp))
    return bytes(calendar.to_ical())


def feed_rows(store: Store, *, now: datetime) -> list[ProposalSummary]:
    """Pending and approved windows that ended at most ``FEED_HISTORY`` ago, soonest first."""
    return store.list_summaries(statuses=FEED_STATUSES, end_after=to_ts(now - FEED_HISTORY), limit=FEED_LIMIT)
