"""The messages, read as an approver on a phone would: order, risk, every flagged region, limits kept.

Every payload is parsed back into slack_sdk's Block Kit models (which check Slack's documented limits when
serialised) and checked against the limits that matter here: 50 blocks a message, 3000 characters a section.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from chatops.domain.evaluate import evaluate, evaluation_document
from chatops.domain.models import Region, SensitivePeriod, Team, Window
from chatops.domain.policy import Status
from chatops.domain.suggest import choose
from chatops.slack import blocks
from chatops.store import EventRow, ProposalRow

ZONES = ["Asia/Tehran", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata", "Africa/Lagos", "Asia/Tokyo"]
START = datetime(2026, 12, 8, 6, 0, tzinfo=UTC)  # 09:30 in Tehran, 07:00 in Berlin


def world(count: int = 400, flagged_every: int = 13) -> list[Region]:
    """``count`` regions with long names; every ``flagged_every``-th one is sensitive with daytime peak hours."""
    regions = []
    for i in range(count):
        sensitive = i % flagged_every == 0
        regions.append(
            Region(
                id=f"r{i}",
                name=(f"Region {i:03d} " + "of the long name " * 4).strip(),
                timezone=ZONES[i % len(ZONES)],
                peak_hours=("00:00-24:00",) if sensitive else ("mon-fri 08:00-20:00",),
                sensitive_periods=(
                    (SensitivePeriod(start=date(2026, 12, 1), end=date(2026, 12, 31), reason="<!here> vote"),)
                    if sensitive
                    else ()
                ),
            )
        )
    return regions


def row_for(regions: list[Region], *, status: Status = Status.PENDING, **extra: Any) -> ProposalRow:
    window = Window.of(START, timedelta(hours=1))
    evaluation = evaluate(window, regions=regions)
    choices = choose(window, regions=regions, horizon=timedelta(days=14))
    fields: dict[str, Any] = {
        "id": 57,
        "idempotency_key": None,
        "title": "Core <!channel> network upgrade",
        "description": "",
        "rollback_plan": "",
        "ticket_url": "",
        "proposer": "U0PROPOSER",
        "channel": "C0CHANGES",
        "input_tz": "America/Los_Angeles",
        "start_ts": int(window.start.timestamp()),
        "end_ts": int(window.end.timestamp()),
        "status": status,
        "flagged": evaluation.flagged,
        "approvals_required": 2 if evaluation.flagged else 1,
        "round": 1,
        "version": 1,
        "message_ts": None,
        "evaluation": evaluation_document(evaluation, choices),
        "created_at": 0,
        "updated_at": 0,
    }
    fields.update(extra)
    return ProposalRow(**fields)


def texts(message: dict[str, Any]) -> list[str]:
    out = []
    for block in message["blocks"]:
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                out.append(element["text"])
    return out


def assert_valid_message(message: dict[str, Any]) -> None:
    assert len(message["blocks"]) <= 50
    for raw in message["blocks"]:
        parsed = Block.parse(raw)
        assert parsed is not None
        assert parsed.to_dict() == raw  # slack_sdk validates its limits when serialising
    for text in texts(message):
        assert len(text) <= 3000
        assert_whole_markup(text)
    assert len(message["text"]) <= 3000


def assert_whole_markup(text: str) -> None:
    """No ``<`` without its ``>``, no ``&`` that does not start an entity: nothing was cut inside markup."""
    assert text.count("<") == text.count(">"), text
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text


def test_a_400_region_world_with_30_flagged_regions_names_every_flagged_region() -> None:
    regions = world()
    row = row_for(regions)
    flagged = [r for r in row.evaluation["regions"] if r["flagged"]]
    assert len(flagged) == 31  # every 13th of 400
    message = blocks.proposal_message(row, [], mention=["S0OPS"])
    assert_valid_message(message)
    shown = "\n".join(texts(message))
    for region in flagged:
        assert region["name"] in shown, region["name"]
    # User text cannot ping anyone (the header is plain text, which Slack never reads as a mention).
    assert message["blocks"][0]["type"] == "header"
    assert "<!here>" not in shown and "<!channel>" not in json.dumps([message["text"], message["blocks"][1:]])
    # The counts add up to the whole world.
    counts = re.search(
        r"Of (\d+) regions: (\d+) flagged, (\d+) sensitive outside their peak hours, (\d+) at their peak but "
        r"not sensitive, (\d+) quiet",
        shown,
    )
    assert counts is not None
    total, *parts = (int(x) for x in counts.groups())
    assert total == 400 and sum(parts) == 400 and parts[0] == 31


def test_the_message_says_what_is_asked_then_the_risk_then_the_window() -> None:
    regions = world(40)
    row = row_for(regions, ticket_url="https://tickets.example.com/CHG-57?a=1&b=2")
    message = blocks.proposal_message(row, ["U0APPROVER1"], mention=["S0OPS", "U0APPROVER9"])
    assert_valid_message(message)
    body = texts(message)[1:]  # after the header
    ask, risk, window = body[0], body[1], body[2]
    assert "Waiting for approval" in ask and "1 of 2 approvals" in ask and "<@U0APPROVER1>" in ask
    assert "<!subteam^S0OPS>" in ask and "<@U0APPROVER9>" in ask
    assert risk.startswith(":warning: *Flagged*") and "Region 000" in risk
    # The proposer's zone with abbreviation and offset, UTC, and a labelled reader-local token.
    assert "Mon 07 Dec 22:00–23:00 PST (UTC−08:00, America/Los_Angeles) · 1h" in window
    assert "Tue 08 Dec 06:00–07:00 UTC" in window
    assert "Your local time: <!date^" in window
    assert "peak min" not in json.dumps(message)
    assert "<https://tickets.example.com/CHG-57?a=1&amp;b=2|" in "\n".join(body)
    assert message["text"].startswith(
        "CHG-57 pending: Core &lt;!channel&gt; network upgrade, Mon 07 Dec 22:00"
    )


def test_a_clear_window_says_so_in_one_line_and_draws_no_strip() -> None:
    quiet = [Region(id="q", name="Quiet", timezone="UTC", peak_hours=("09:00-17:00",))]
    message = blocks.proposal_message(row_for(quiet), [])
    assert_valid_message(message)
    body = texts(message)[1:]  # after the header
    assert body[1].startswith(":large_green_circle: *Clear*")
    assert "flag nothing" not in "\n".join(body) and "`00    06" not in "\n".join(body)


def test_a_rejected_parent_says_who_and_why() -> None:
    row = row_for(world(20), status=Status.REJECTED)
    closing = EventRow(
        id=9,
        gseq=9,
        proposal_id=57,
        seq=2,
        kind="rejected",
        actor="U0APPROVER1",
        at=int(START.timestamp()) - 3600,
        reason="Clashes with the <!channel> vote count",
        data={},
        prev_hash="",
        hash="",
    )
    message = blocks.proposal_message(row, [], closing=closing, mention=["S0OPS"])
    assert_valid_message(message)
    ask = texts(message)[1]  # after the header
    assert ask.startswith(":no_entry: *Rejected*: rejected by <@U0APPROVER1> on <!date^")
    assert ask.endswith(": Clashes with the &lt;!channel&gt; vote count")
    assert "S0OPS" not in ask  # nobody is asked any more
    assert "chatops_approve" not in json.dumps(message)


def test_the_day_strip_marks_peak_hours_and_the_window_with_one_legend() -> None:
    tehran = Region(
        id="ir",
        name="Iran",
        timezone="Asia/Tehran",
        peak_hours=("08:00-23:00",),
        sensitive_periods=(
            SensitivePeriod(start=date(2009, 6, 12), end=date(2009, 6, 30), reason="protests"),
        ),
    )
    window = Window.of(datetime(2009, 6, 16, 5, 0, tzinfo=UTC), timedelta(hours=1))
    document = evaluation_document(evaluate(window, regions=[tehran]))
    strips = blocks.day_strips(document)
    assert strips[1] == "`00    06    12    18    `"
    assert strips[2] == "`········=XX============·` Iran, Tue 16 Jun (Asia/Tehran)"
    assert sum("legend" in s or "`#` window" in s for s in strips) == 1


def test_suggestions_are_real_choices_each_with_why() -> None:
    tehran = Region(
        id="ir",
        name="Iran",
        timezone="Asia/Tehran",
        peak_hours=("08:00-23:00",),
        sensitive_periods=(
            SensitivePeriod(start=date(2009, 6, 12), end=date(2009, 6, 30), reason="protests"),
        ),
    )
    team = Team(timezone="America/Los_Angeles", working_hours=("mon-fri 09:00-17:00",))
    window = Window.of(datetime(2009, 6, 16, 5, 0, tzinfo=UTC), timedelta(hours=1))
    document = evaluation_document(
        evaluate(window, regions=[tehran]), choose(window, regions=[tehran], team=team)
    )
    lines = blocks.suggestion_lines(document, tz="America/Los_Angeles")
    assert lines[0].startswith("1. Tue 16 Jun 11:30–12:30 PDT (18:30 UTC; yours: <!date^")
    assert lines[0].endswith("— 23:00 in Iran")
    assert "earliest" in lines[1] and "team working hours" in lines[1]
    assert lines[2].startswith("2. Wed 17 Jun 15:30–16:30 PDT") and lines[2].endswith("— 03:00 in Iran")
    assert "most room on a later day" in lines[3] and "4h clear" in lines[3]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=2, max_value=200))
def test_clip_never_cuts_inside_markup_or_an_entity(text: str, limit: int) -> None:
    marked = blocks.escape(text) + " <https://example.com/a?b=1&amp;c=2|link> " + blocks.date_token(0)
    clipped = blocks.clip(marked, limit)
    assert len(clipped) <= limit
    assert_whole_markup(clipped.removesuffix("…"))
    assert marked.startswith(clipped.removesuffix("…"))


def test_lines_are_packed_whole_into_sections() -> None:
    lines = [f"line {i} " + "x" * 200 for i in range(40)]
    texts_ = blocks.pack(lines, 3000)
    assert all(len(t) <= 3000 for t in texts_)
    assert "\n".join(texts_).split("\n") == lines  # nothing lost, nothing cut


@pytest.mark.parametrize("status", list(Status))
def test_every_state_renders_within_limits(status: Status) -> None:
    assert_valid_message(blocks.proposal_message(row_for(world(60), status=status), ["U0A"]))


def test_modals_are_valid_views() -> None:
    row = row_for(world(40))
    for view in (
        blocks.propose_modal(tz="Asia/Tehran", initial_start=0),
        blocks.approve_modal(row),
    ):
        assert View(**view).to_dict() == view
    assert blocks.propose_modal(tz="UTC", initial_start=0)["close"]["text"] == "Close"


def test_a_long_list_says_how_many_it_does_not_show() -> None:
    rows = [row_for(world(3), id=i, title=f"Change {i}") for i in range(50)]
    message = blocks.list_message(rows, total=57)
    assert_valid_message(message)
    assert message["text"] == "Showing the 50 soonest of 57 pending or upcoming windows."
    shown = "\n".join(texts(message))
    assert "The other 7 start later" in shown
    assert all(f"CHG-{i} " in shown for i in range(50))
    assert blocks.list_message(rows[:3])["text"] == "3 pending or upcoming windows."


def test_the_list_says_where_each_window_stands_at_the_moment_asked() -> None:
    row = row_for(world(3), id=4, title="Core network upgrade")
    shown = "\n".join(texts(blocks.list_message([row], at=row.start_ts - 3 * 3600)))
    assert "opens in 3 h" in shown
    shown = "\n".join(texts(blocks.list_message([row], at=row.start_ts + 600)))
    assert "open, closes in " in shown
    assert "opens in" not in "\n".join(texts(blocks.list_message([row])))


def test_four_hundred_flagged_regions_with_long_names_are_all_named() -> None:
    regions = [
        Region(
            id=f"r{i}",
            name=f"R{i:03d} " + "n" * 95,
            timezone="Asia/Tehran",
            peak_hours=("00:00-24:00",),
            sensitive=True,
        )
        for i in range(400)
    ]
    message = blocks.proposal_message(row_for(regions), [])
    assert_valid_message(message)
    shown = "\n".join(texts(message))
    assert all(f"R{i:03d} " + "n" * 95 in shown for i in range(400))
    assert "Of 400 regions: 400 flagged" in shown
    risk = texts(message)[2]
    assert len(risk) <= 800 and risk.endswith("more, all named below.")


def test_a_bad_ticket_link_is_refused_next_to_its_field() -> None:
    from slackfake import payloads

    from chatops.slack import forms, ids

    values = {
        ids.TITLE: {ids.TITLE: payloads.plain_text_input("Core network upgrade")},
        ids.START: {ids.START: payloads.datetimepicker(1_800_000_000)},
        ids.DURATION: {ids.DURATION: payloads.plain_text_input("1h")},
        ids.ZONE: {ids.ZONE: payloads.plain_text_input("UTC")},
        ids.TICKET: {ids.TICKET: {"type": "url_text_input", "value": "http://tickets.example.com/1"}},
    }
    with pytest.raises(forms.FormErrors) as caught:
        forms.read_propose(values)
    assert list(caught.value.errors) == [ids.TICKET] and "https://" in caught.value.errors[ids.TICKET]
    values[ids.TICKET] = {ids.TICKET: {"type": "url_text_input", "value": " https://tickets.example.com/1 "}}
    assert forms.read_propose(values).ticket_url == "https://tickets.example.com/1"


def test_the_private_confirmation_shows_the_window_in_the_proposers_zone() -> None:
    text = blocks.confirmation_message(row_for(world(3)), created=True)["text"]
    assert "Mon 07 Dec 22:00–23:00 PST (06:00 UTC; yours: <!date^" in text


def test_a_list_asked_again_reuses_the_window_texts_and_says_the_same() -> None:
    starts = [1_900_000_000 + i * 900 for i in range(5)]
    rows = [
        row_for(world(3), id=i, title=f"Change {i}", start_ts=s, end_ts=s + 3600)
        for i, s in enumerate(starts)
    ]
    first = blocks.list_message(rows)
    hits = blocks.window_short.cache_info().hits
    again = blocks.list_message(rows)
    assert blocks.window_short.cache_info().hits >= hits + len(rows)
    assert again == first
    start = rows[0].start_ts + 60  # the same change, moved by a minute: its new time, not the cached one
    moved = "\n".join(
        texts(blocks.list_message([rows[0].model_copy(update={"start_ts": start, "end_ts": start + 3600})]))
    )
    local = datetime.fromtimestamp(start, UTC).astimezone(ZoneInfo(rows[0].input_tz))
    assert f"{local:%H:%M}–" in moved and f"{datetime.fromtimestamp(start, UTC):%H:%M} UTC" in moved
