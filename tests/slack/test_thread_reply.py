"""Thread replies, built from real events: each restates the window it is about (in the proposer's zone with its
abbreviation and offset, in UTC, and as a reader-local token), and every decision mentions the proposer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from corpus import reply_events

from chatops.config import parse_regions
from chatops.domain.records import EventKind, parse_payload
from chatops.service import ProposalRequest, Service
from chatops.slack.blocks import SECTION_MAX, thread_reply
from chatops.store import EventRow
from chatops.store.sql import SqlStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n',
    source="test",
)
START = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 14:00 PST


@pytest.fixture
def store() -> Iterator[SqlStore]:
    s = SqlStore.open("sqlite://")
    yield s
    s.close()


def service(store: SqlStore) -> Service:
    return Service(
        store=store, config=CONFIG, channel="C1", approvers=lambda: frozenset({"UA", "UB"}), clock=lambda: NOW
    )


def propose(svc: Service, title: str = "Core upgrade") -> int:
    request = ProposalRequest(
        idempotency_key=None,
        proposer="UP",
        title=title,
        start=START,
        duration=timedelta(hours=1),
        input_tz="America/Los_Angeles",
    )
    return svc.propose(request).proposal.id


def replies(store: SqlStore, pid: int) -> dict[str, str]:
    row = store.get_proposal(pid)
    assert row is not None
    events: list[EventRow] = store.events(pid)
    return {e.kind: thread_reply(row, e)["text"] for e in events}


def test_every_reply_restates_its_window_and_decisions_mention_the_proposer(store: SqlStore) -> None:
    svc = service(store)
    approved, rejected, cancelled, moved = (propose(svc, t) for t in ("a", "b", "c", "d"))
    svc.approve(approved, actor="UA")
    svc.reject(rejected, actor="UA", reason="no")
    svc.cancel(cancelled, actor="UP", reason="not needed")
    svc.postpone(
        moved, actor="UB", start=START + timedelta(days=1), duration=timedelta(hours=2), reason="later"
    )

    texts = {**replies(store, approved), **replies(store, rejected), **replies(store, cancelled)}
    texts.update({k: v for k, v in replies(store, moved).items() if k == "postponed"})
    assert set(texts) == {
        EventKind.PROPOSED,
        EventKind.APPROVED,
        EventKind.REJECTED,
        EventKind.CANCELLED,
        EventKind.POSTPONED,
    }
    window = "Tue 2026-12-01 14:00–15:00 PST (UTC-08:00) = Tue 2026-12-01 22:00–23:00 UTC (1h)"
    for kind, text in texts.items():
        assert len(text) <= SECTION_MAX
        if kind == EventKind.POSTPONED:
            assert f"*from* {window}" in text
            assert (
                "*to* Wed 2026-12-02 14:00–16:00 PST (UTC-08:00) = Wed 2026-12-02 22:00–Thu 2026-12-03 00:00"
                in text
            )
        else:
            assert window in text, (kind, text)
        assert "your time: <!date^" in text
        assert "<@UP>" in text, (kind, text)  # as the actor, or as "cc <@UP>" on someone else's decision
    assert "cc <@UP>" in texts[EventKind.APPROVED] and "cc <@UP>" in texts[EventKind.REJECTED]
    assert "cc <@UP>" not in texts[EventKind.CANCELLED]  # the proposer cancelled: no need to ping them twice
    assert "*The change is now approved.*" in texts[EventKind.APPROVED]
    assert ">*Reason:* no" in texts[EventKind.REJECTED]


def test_a_reply_in_utc_says_utc_once(store: SqlStore) -> None:
    svc = service(store)
    request = ProposalRequest(
        idempotency_key=None,
        proposer="UP",
        title="t",
        start=START,
        duration=timedelta(hours=1),
        input_tz="UTC",
    )
    pid = svc.propose(request).proposal.id
    text = replies(store, pid)["proposed"]
    assert "Tue 2026-12-01 22:00–23:00 UTC (1h)" in text and " = " not in text


def test_the_first_reply_names_every_flagged_region_of_a_large_world(store: SqlStore) -> None:
    regions = "".join(
        f'[[regions]]\nid = "r{i:02d}"\nname = "Sensitive Region Number {i:02d}"\ntimezone = "Asia/Tehran"\n'
        f'peak_hours = ["00:00-24:00"]\nsensitive = true\nsensitive_reason = "Unrest {i:02d}"\n'
        for i in range(60)
    )
    svc = Service(
        store=store,
        config=parse_regions(regions, source="test"),
        channel="C1",
        approvers=lambda: frozenset({"UA"}),
        clock=lambda: NOW,
    )
    pid = propose(svc, "Core upgrade")
    text = replies(store, pid)[EventKind.PROPOSED]
    assert all(f"Sensitive Region Number {i:02d}" in text for i in range(60)), text
    assert "and 50 more: " in text
    assert len(text) < 40_000  # Slack's limit for a message's text


def test_an_events_payload_typed_from_its_text_is_the_one_typed_from_its_document() -> None:
    events = reply_events()
    assert {e.kind for e in events.values()} == {k.value for k in EventKind}  # every kind of event
    for name, stored in events.items():
        assert stored.payload == parse_payload(stored.kind, json.loads(stored.data_json)), name
    # A document that does not fit its kind fails the same way from either.
    wrong = next(iter(events.values())).model_copy(update={"kind": "rejected"})
    with pytest.raises(ValueError):
        wrong.payload  # noqa: B018
    with pytest.raises(ValueError):
        parse_payload("rejected", json.loads(wrong.data_json))
    with pytest.raises(ValueError):
        wrong.model_copy(update={"kind": "no_such_kind"}).payload  # noqa: B018
