"""Display names for the audit record: users.info, remembered and refreshed in the background, never in the way of
a decision."""

from __future__ import annotations

from refreshers import Held, inline
from slack_sdk import WebClient
from slackfake.standin import SlackStandIn

from chatops.slack.names import DisplayNames


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_names_come_from_users_info_and_are_cached_briefly() -> None:
    with SlackStandIn() as standin:
        standin.set_user("UA", tz="Europe/Berlin", name="Ana Approver")
        clock = Clock()
        names = DisplayNames(
            WebClient(token=standin.token, base_url=standin.url, retry_handlers=[]),
            ttl=300,
            clock=clock,
            refresher=inline(),
        )
        assert names("UA") == "Ana Approver"
        assert names("UA") == "Ana Approver"
        assert len(standin.calls_to("users.info")) == 1  # cached

        standin.set_user("UA", tz="Europe/Berlin", name="Ana Renamed")
        clock.now += 301
        assert names("UA") == "Ana Approver"  # stale: the name known answers, Slack is asked meanwhile
        assert names("UA") == "Ana Renamed"  # the name at the moment, from the lookup after
        assert len(standin.calls_to("users.info")) == 2

        clock.now += 301
        standin.fail_next("users.info", 1, status=500)
        assert names("UA") == "Ana Renamed"  # Slack down: the last name seen
        assert names("UA") == "Ana Renamed"  # and again, asked again in the background
        standin.fail_next("users.info", 1, status=500)
        assert names("UNEVERSEEN") is None  # nothing known: no name, and no error


def test_a_stale_name_never_holds_up_a_decision() -> None:
    with SlackStandIn() as standin:
        standin.set_user("UA", tz="Europe/Berlin", name="Ana Approver")
        clock, held = Clock(), Held()
        names = DisplayNames(
            WebClient(token=standin.token, base_url=standin.url, retry_handlers=[]),
            ttl=300,
            clock=clock,
            refresher=held.refresher,
        )
        assert names("UA") == "Ana Approver" and held.pending == []  # nothing known: asked at once
        standin.set_user("UA", tz="Europe/Berlin", name="Ana Renamed")
        clock.now += 301
        assert names("UA") == "Ana Approver"
        assert names("UA") == "Ana Approver"
        assert len(standin.calls_to("users.info")) == 1 and len(held.pending) == 1  # one question, held
        held.run()
        assert names("UA") == "Ana Renamed"
