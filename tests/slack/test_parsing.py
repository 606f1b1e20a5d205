"""The /maintenance parser and the Block Kit builders: pure, so tested (and fuzzed) without Slack."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatops.errors import InputError
from chatops.slack import blocks
from chatops.slack.commands import Verb, parse_command


@pytest.mark.parametrize(
    ("text", "verb", "zone", "duration", "title"),
    [
        (
            "propose 2026-12-07 22:00 America/Los_Angeles 1h Core network upgrade",
            Verb.PROPOSE,
            "America/Los_Angeles",
            timedelta(hours=1),
            "Core network upgrade",
        ),
        (
            "propose 2026-12-07 22:00 1h30m   Spaces   kept  inside",
            Verb.PROPOSE,
            None,
            timedelta(minutes=90),
            "Spaces   kept  inside",
        ),
        (
            "PROPOSE 2026-12-07 22:00 UTC 2d <!channel> & friends",
            Verb.PROPOSE,
            "UTC",
            timedelta(days=2),
            "<!channel> & friends",
        ),
        (
            "check 2026-12-07 22:00 Asia/Kathmandu 45m",
            Verb.CHECK,
            "Asia/Kathmandu",
            timedelta(minutes=45),
            "",
        ),
        ("check 2026-12-07 22:00 90m", Verb.CHECK, None, timedelta(minutes=90), ""),
    ],
)
def test_reads_what_people_type(
    text: str, verb: Verb, zone: str | None, duration: timedelta, title: str
) -> None:
    command = parse_command(text)
    assert command.verb is verb and command.window is not None
    assert command.window.zone == zone and command.window.duration == duration and command.title == title


@pytest.mark.parametrize(
    ("text", "verb"),
    [("", Verb.HELP), ("  help ", Verb.HELP), ("list", Verb.LIST), ("propose", Verb.PROPOSE_FORM)],
)
def test_short_forms(text: str, verb: Verb) -> None:
    assert parse_command(text).verb is verb


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("propose 2026-12-07", "not enough"),
        ("propose 2026-12-07 22:00 UTC", "not a duration"),
        ("propose 2026-12-07 22:00 1h", "needs a title"),
        ("check 2026-12-07 22:00 1h and more", "unexpected"),
        ("deploy now", "unknown subcommand"),
        ("x" * 5000, "characters long"),
    ],
)
def test_refuses_clearly(text: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_command(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_with_an_input_error(text: str) -> None:
    try:
        command = parse_command(text)
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert command.verb in Verb


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=200).filter(lambda t: t.strip() and "\x00" not in t))
def test_any_title_survives_verbatim(title: str) -> None:
    command = parse_command(f"propose 2026-12-07 22:00 UTC 1h {title}")
    assert command.title == title.strip()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500))
def test_escaped_user_text_cannot_mention_or_link(text: str) -> None:
    escaped = blocks.escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text  # nothing lost


def test_suggestions_say_what_time_it_will_be_in_the_flagged_region() -> None:
    evaluation = {
        "window": {"start": "2009-06-16T05:00:00+00:00", "end": "2009-06-16T06:00:00+00:00"},
        "flagged": True,
        "regions": [
            {
                "id": "ir",
                "name": "Iran",
                "timezone": "Asia/Tehran",
                "local_start": "2009-06-16T09:30:00+04:30",
                "local_end": "2009-06-16T10:30:00+04:30",
                "sensitive": True,
                "peak_overlap_minutes": 60,
                "flagged": True,
                "reasons": ["Presidential election protests"],
            }
        ],
        "suggestions": [{"start": "2009-06-16T21:00:00+00:00", "end": "2009-06-16T22:00:00+00:00"}],
    }
    shown = json.dumps(blocks.assessment_message(evaluation, heading="Check"), ensure_ascii=False)
    assert (
        "Tue 16 Jun 21:00–22:00 UTC (yours: <!date^1245186000^{date_short_pretty} {time}|2009-06-16 21:00 UTC>)"
        " — 01:30 in Iran" in shown
    )  # the 2009 move: 14:00 Pacific was 01:30 in Tehran
    assert ":red_circle: *Iran* — Tue 16 Jun 09:30–10:30 (UTC+04:30) · 1h inside its peak hours" in shown
