"""What the messages rely on: justifications kept with approvals, ticket links checked, counts for lists."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from test_service import MONDAY_22_PDT, TUESDAY_14_PDT, make_service, request

from chatops.errors import ConflictError, InputError, NotAllowedError
from chatops.service import TICKET_MAX, EmergencyRequest, NeedsJustification, clean_ticket_url
from chatops.store.sql import SqlStore


def test_a_justification_is_kept_with_the_approval_and_its_audit_event(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    assert row.flagged
    service.approve(row.id, actor="UA", justification="  Agreed with the Tehran NOC\x00 ")
    [approved] = [e for e in store.events(row.id) if e.kind == "approved"]
    assert approved.data["justification"] == "Agreed with the Tehran NOC"
    assert approved.recomputed_hash() == approved.hash


def test_a_one_tap_approval_never_approves_a_flagged_window(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    with pytest.raises(ConflictError, match="flagged now"):
        service.approve(row.id, actor="UA", clear_only=True)
    clear = service.propose(request(TUESDAY_14_PDT, key="k2")).proposal
    assert service.approve(clear.id, actor="UA", clear_only=True).approvals == ("UA",)


def test_a_flagged_window_asks_for_a_justification_only_of_whoever_may_approve_it(store: SqlStore) -> None:
    """The Approve button's one transaction: who may not approve is told so (not offered the justification
    form); who may is refused with the change as it is, and nothing is recorded."""
    service = make_service(store)
    row = service.propose(request()).proposal
    with pytest.raises(NotAllowedError, match="not an approver"):
        service.approve(row.id, actor="UX", clear_only=True)
    with pytest.raises(NotAllowedError, match="you proposed this change"):
        service.approve(row.id, actor="UP", clear_only=True)
    with pytest.raises(NeedsJustification, match="flagged now") as raised:
        service.approve(row.id, actor="UA", clear_only=True)
    assert raised.value.row.id == row.id and raised.value.row.flagged
    assert store.approvers(row.id, round=row.round) == []
    service.approve(row.id, actor="UA", justification="Agreed with the Tehran NOC")
    with pytest.raises(NotAllowedError, match="already approved"):
        service.approve(row.id, actor="UA", clear_only=True)


def test_an_approval_for_a_window_since_moved_is_refused(store: SqlStore) -> None:
    service = make_service(store)
    row = service.propose(request()).proposal
    service.postpone(row.id, actor="UP", start=TUESDAY_14_PDT, duration=timedelta(hours=1), reason="move")
    with pytest.raises(ConflictError, match="moved"):
        service.approve(row.id, actor="UA", justification="ok", expected_round=row.round)
    kinds: list[str] = []
    while claimed := store.claim_outbox(now=2**40, limit=100):  # one message per proposal at a time, in order
        for message in claimed:
            kinds.append(message.kind)
            store.mark_delivered(message.id, at=2**40)
    assert kinds.count("notify") == 1  # the approvers are asked again after the postponement


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("http://tickets.example.com/1", "https://"),
        ("javascript:alert(1)", "https://"),
        ("https://tickets.example.com/1|<!channel>", "https://"),
        ("https://tickets.example.com/a b", "https://"),
        ("https://" + "a" * TICKET_MAX, "characters long"),
    ],
)
def test_ticket_links_must_be_https_and_short(given: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        clean_ticket_url(given)


def test_a_good_ticket_link_is_cleaned_and_kept(store: SqlStore) -> None:
    assert clean_ticket_url("  https://tickets.example.com/CHG-1?a=1&b=2\x07 ") == (
        "https://tickets.example.com/CHG-1?a=1&b=2"
    )
    service = make_service(store)
    with pytest.raises(InputError, match="ticket link"):
        service.propose(dataclasses.replace(request(), ticket_url="ftp://x"))


def test_upcoming_count_counts_what_the_list_does_not_show(store: SqlStore) -> None:
    service = make_service(store)
    for i in range(57):
        service.propose(request(MONDAY_22_PDT + timedelta(hours=i), key=f"k{i}", title=f"Change {i}"))
    assert len(service.upcoming()) == 50 and service.upcoming_count() == 57


def test_a_rows_flagged_is_its_snapshots_so_a_clear_window_has_no_flagged_region(store: SqlStore) -> None:
    """What lets an approval skip reading a clear window's snapshot: every way a proposal is stored keeps its
    ``flagged`` and its snapshot together."""
    service = make_service(store)
    flagged = service.propose(request()).proposal
    clear = service.propose(request(TUESDAY_14_PDT, key="k2")).proposal
    service.postpone(flagged.id, actor="UP", start=TUESDAY_14_PDT, duration=timedelta(hours=1), reason="move")
    service.postpone(clear.id, actor="UP", start=MONDAY_22_PDT, duration=timedelta(hours=1), reason="move")
    emergency = service.emergency(
        EmergencyRequest(
            idempotency_key="e1",
            proposer="UP",
            title="Fix the router",
            duration=timedelta(minutes=30),
            incident_url="https://incidents.example.com/1",
            reason="outage",
        )
    ).proposal
    rows = [store.get_proposal(number) for number in (flagged.id, clear.id, emergency.id)]
    for row in rows:
        assert row is not None
        assert row.flagged is row.evaluation["flagged"]
        assert row.flagged_region_ids == row.snapshot.flagged_ids
    assert [row.flagged for row in rows if row is not None][:2] == [False, True]  # moved both ways
