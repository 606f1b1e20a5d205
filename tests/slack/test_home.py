"""App Home: opening the Home tab publishes it (views.publish) in the viewer's own zone, with the changes
waiting for their approval, upcoming windows and the regions sensitive now; a decision refreshes it."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import APPROVER_1, PROPOSER, approve_flagged, next_week, parent_of
from slackfake.payloads import APP_ID, TEAM_ID
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn


def open_home(slack: SlackClientSim, user: str) -> None:
    body = {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{time.time_ns()}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
    response = slack.post(json.dumps(body).encode(), content_type="application/json")
    assert response.status_code == 200


def text_of(view: dict[str, Any]) -> str:
    parts = []
    for block in view["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(e.get("text", "") for e in block.get("elements", []))
    return "\n".join(parts)


def test_home_shows_what_waits_for_the_viewer_in_their_zone_and_refreshes(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    day = next_week(0)
    slack.command(f"propose {day} 22:00 America/Los_Angeles 1h Core network upgrade", user_id=PROPOSER)
    parent = parent_of(standin)

    open_home(slack, APPROVER_1)
    [call] = standin.wait_for("views.publish")
    assert call.params["user_id"] == APPROVER_1
    home = standin.home(APPROVER_1)
    assert home is not None and home["type"] == "home"
    text = text_of(home)
    assert "Times in your zone, Europe/Berlin" in text
    waiting = text.split("*Waiting for your approval*")[1].split("*Upcoming windows*")[0]
    assert "CHG-1" in waiting and "Core network upgrade" in waiting and "flagged" in waiting
    # 22:00 in Los Angeles is 07:00 the next morning in Berlin, shown with its zone.
    assert "07:00–08:00 CET" in waiting or "07:00–08:00 CEST" in waiting
    sensitive = text.split("*Sensitive now*")[1]
    assert "Iran" in sensitive and "Election protests" in sensitive

    # Approving is a change: the Home tab is published again, with nothing left waiting for this approver.
    approve_flagged(slack, standin, parent, APPROVER_1)
    standin.wait_for("views.publish", count=2)
    standin.wait_until(
        lambda: "Nothing is waiting for you." in text_of(standin.home(APPROVER_1) or {"blocks": []}),
        message="the refreshed Home tab",
    )
    refreshed = standin.home(APPROVER_1)
    assert refreshed is not None and refreshed["id"] == home["id"]
    assert "CHG-1" in text_of(refreshed).split("*Upcoming windows*")[1]


def test_someone_who_approves_nothing_sees_nothing_waiting(
    slack: SlackClientSim, standin: SlackStandIn
) -> None:
    open_home(slack, "U0NOZONE")
    standin.wait_for("views.publish")
    home = standin.home("U0NOZONE")
    assert home is not None
    text = text_of(home)
    assert "Nothing is waiting for you." in text and "No window is planned." in text
    assert "Times in your zone, UTC" in text  # what users.info says for this user


def test_the_home_view_shows_freezes_in_force_and_stale_calendars() -> None:
    from datetime import UTC, datetime

    from chatops.domain.models import Freeze
    from chatops.slack.home import HomeData, home_view

    now = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    freeze = Freeze(
        start=datetime(2026, 12, 21, tzinfo=UTC),
        end=datetime(2027, 1, 4, tzinfo=UTC),
        summary="Year-end <freeze>",
    )
    view = home_view(
        HomeData(
            tz="Asia/Tokyo",
            now=now,
            waiting=(),
            upcoming=(),
            sensitive=(),
            freezes=(freeze,),
            calendar_notes=("Calendar 'Releases': the server answered 503; using the copy from 3 h ago",),
        )
    )
    text = text_of(view)
    assert "Change freeze: Year-end &lt;freeze&gt;, until Mon 2027-01-04 09:00 JST" in text
    assert "using the copy from 3 h ago" in text
    assert "Updated Thu 2026-12-24 21:00 JST" in text
    assert len(view["blocks"]) <= 100


def test_long_lists_on_the_home_tab_keep_whole_lines_within_slacks_limits() -> None:
    from datetime import UTC, datetime

    from slack_sdk.models.views import View

    from chatops.domain.models import Freeze
    from chatops.slack.home import HomeData, home_view

    now = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    # Freeze summaries from a calendar can be long; escaped, "<" grows to "&lt;", which a cut must not split.
    freezes = tuple(
        Freeze(
            start=datetime(2026, 12, 21, tzinfo=UTC),
            end=datetime(2027, 1, 4, tzinfo=UTC),
            summary=f"Freeze {i} " + "<release train> " * 16,
        )
        for i in range(15)
    )
    notes = tuple(f"Calendar {i} <{'x' * 280}>: the server answered 503" for i in range(15))
    view = home_view(
        HomeData(
            tz="UTC", now=now, waiting=(), upcoming=(), sensitive=(), freezes=freezes, calendar_notes=notes
        )
    )
    View(**view).validate_json()  # slack_sdk's own limits
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    texts += [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]
    freeze_text = next(t for t in texts if "Freeze 0" in t)
    notes_text = next(t for t in texts if "Calendar 0" in t)
    for text, every in ((freeze_text, "Freeze"), (notes_text, "Calendar")):
        assert len(text) <= 3000
        lines = text.split("\n")
        # Every line shown is whole (ends as the line was written), and the rest is counted.
        assert all(line.endswith(("00:00 UTC", ": the server answered 503")) for line in lines[:-1])
        assert lines[-1].startswith("…and ") and lines[-1].endswith(" more lines")
        shown = len(lines) - 1
        assert lines[-1] == f"…and {15 - shown} more lines"
        assert all(every in line for line in lines[:-1])
