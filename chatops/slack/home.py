"""The App Home tab: in the viewer's own time zone, the changes waiting for their approval, the upcoming windows
with their state, and the regions sensitive now (with any change freeze in force).

Published with ``views.publish`` when a user opens the tab, and again for everyone who has opened it (in this
process) whenever a change or a sensitivity is recorded, off the request thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from chatops.domain import evaluate
from chatops.domain.freezes import reason as freeze_reason
from chatops.domain.models import Freeze, RegionResult, Window, zone_of
from chatops.domain.policy import Status
from chatops.domain.timeline import from_ts
from chatops.errors import ChatopsError
from chatops.service import Service
from chatops.slack.blocks import SECTION_MAX, clip, clip_lines, escape
from chatops.slack.directory import Directory
from chatops.store import ProposalSummary

logger = logging.getLogger(__name__)

MAX_ITEMS = 15  # per list; a Home tab holds at most 100 blocks
LINE_MAX = 600  # one freeze, region or calendar note: five of them fit a section whatever the others are


@dataclass(frozen=True)
class HomeData:
    """What one viewer's Home tab shows."""

    tz: str
    now: datetime
    waiting: Sequence[ProposalSummary]
    upcoming: Sequence[ProposalSummary]
    sensitive: Sequence[RegionResult]
    freezes: Sequence[Freeze]
    calendar_notes: Sequence[str] = ()
    """Calendars read from an old copy or not at all, and why."""


def _local(ts_or_dt: int | datetime, tz: str) -> str:
    moment = from_ts(ts_or_dt) if isinstance(ts_or_dt, int) else ts_or_dt
    local = moment.astimezone(zone_of(tz))
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def _span(start: int | datetime, end: int | datetime, tz: str) -> str:
    first, last = _local(start, tz), _local(end, tz)
    if first[:14] == last[:14] and first.rsplit(" ", 1)[1] == last.rsplit(" ", 1)[1]:
        return f"{first.rsplit(' ', 1)[0]}–{last[15:]}"  # same day and zone name: "Mon 2026-12-07 22:00–23:00 PST"
    return f"{first} → {last}"


def _section(text: str) -> dict[str, Any]:
    """A section within Slack's limit, never cut inside markup or an entity."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_MAX)}}


def _state(row: ProposalSummary) -> str:
    state = "approved" if row.status is Status.APPROVED else "pending"
    emergency = ""
    if row.emergency:
        emergency = ", :rotating_light: emergency" + (", review open" if row.review_open else "")
    return f"{state}{', :warning: flagged' if row.flagged else ''}{emergency}"


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home tab's view (a pure function of what it shows)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Maintenance windows"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Times in your zone, {escape(data.tz)}. Updated {_local(data.now, data.tz)}.",
                }
            ],
        },
        _section("*Waiting for your approval*"),
    ]
    if data.waiting:
        blocks.extend(
            _section(
                f"*CHG-{r.id}* {escape(r.title)}\n{_span(r.start_ts, r.end_ts, data.tz)} · {_state(r)}"
                f" · proposed by <@{r.proposer}>"
            )
            for r in data.waiting[:MAX_ITEMS]
        )
    else:
        blocks.append(_section("Nothing is waiting for you."))
    blocks.append({"type": "divider"})
    blocks.append(_section("*Upcoming windows*"))
    if data.upcoming:
        blocks.extend(
            _section(f"*CHG-{r.id}* {escape(r.title)}\n{_span(r.start_ts, r.end_ts, data.tz)} · {_state(r)}")
            for r in data.upcoming[:MAX_ITEMS]
        )
        if len(data.upcoming) > MAX_ITEMS:
            blocks.append(_section(f"…and {len(data.upcoming) - MAX_ITEMS} more"))
    else:
        blocks.append(_section("No window is planned."))
    blocks.append({"type": "divider"})
    blocks.append(_section("*Sensitive now*"))
    lines = [
        f":no_entry: {escape(freeze_reason(f))}, until {_local(f.end, data.tz)}"
        for f in data.freezes[:MAX_ITEMS]
    ]
    lines.extend(
        f"*{escape(r.name)}* ({escape(r.timezone)}, {r.local_start:%H:%M %Z} there): {escape('; '.join(r.reasons))}"
        for r in data.sensitive[:MAX_ITEMS]
    )
    if len(data.sensitive) > MAX_ITEMS:
        lines.append(f"…and {len(data.sensitive) - MAX_ITEMS} more regions")
    # Whole lines, each within LINE_MAX: what does not fit is counted, never cut off mid-name.
    lines = [clip(line, LINE_MAX) for line in lines]
    blocks.append(
        _section(
            clip_lines(lines, SECTION_MAX) if lines else "No region is sensitive and no freeze is in force."
        )
    )
    if data.calendar_notes:
        notes = clip_lines(
            [clip(f":warning: {escape(note)}", LINE_MAX) for note in data.calendar_notes[:MAX_ITEMS]],
            SECTION_MAX,
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": notes}]})
    return {"type": "home", "blocks": blocks}


def home_data(service: Service, *, user: str, tz: str) -> HomeData:
    """Read what ``user`` sees now."""
    now = service.now()
    upcoming = service.upcoming()
    approvers = service.approvers()
    waiting = [
        r
        for r in upcoming
        if r.status.is_open
        and user in approvers
        and user != r.proposer
        and user not in service.store.approvers(r.id, round=r.round)
    ]
    moment = Window.of(now, timedelta(minutes=1))
    regions = service.calendars.regions(service.regions(), moment.start, moment.end)
    sensitive = [r for r in evaluate(moment, regions=regions).regions if r.sensitive]
    freezes = service.calendars.freezes(moment.start, moment.end)
    notes = [f"Calendar {name!r}: {note}" for name, note in sorted(service.calendars.notes.items())]
    return HomeData(
        tz=tz,
        now=now,
        waiting=waiting,
        upcoming=upcoming,
        sensitive=sensitive,
        freezes=freezes,
        calendar_notes=notes,
    )


class HomeTab:
    """Publishes Home tabs; remembers who opened theirs so that a change refreshes them."""

    def __init__(self, service: Service, directory: Directory, client: WebClient) -> None:
        self.service = service
        self.directory = directory
        self.client = client
        self._viewers: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatops-home")

    def _zone(self, user: str) -> str:
        try:
            return self.directory.user_tz(user)
        except ChatopsError:
            return "UTC"

    def publish(self, user: str) -> None:
        view = home_view(home_data(self.service, user=user, tz=self._zone(user)))
        self.client.views_publish(user_id=user, view=view)
        with self._lock:
            self._viewers.add(user)

    def opened(self, user: str) -> None:
        try:
            self.publish(user)
        except (SlackApiError, SlackClientError, OSError):
            logger.exception("the Home tab of %s could not be published", user)

    def refresh_all(self) -> None:
        """Publish every known viewer's Home tab again (in the background)."""
        with self._lock:
            viewers = sorted(self._viewers)
        for user in viewers:
            self._pool.submit(self.opened, user)


def register(app: App, *, service: Service, directory: Directory, client: WebClient) -> HomeTab:
    """Listen for ``app_home_opened`` and refresh open Home tabs when the service records a change."""
    home = HomeTab(service, directory, client)

    @app.event("app_home_opened")
    def on_home_opened(ack: Any, event: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") == "home" and event.get("user"):
            home._pool.submit(home.opened, str(event["user"]))

    service.watchers.append(home.refresh_all)
    return home
