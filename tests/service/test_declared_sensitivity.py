"""Admins declare sensitivity from Slack; open changes whose verdict changes say so in their thread."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chatops.audit import verify
from chatops.config import parse_regions
from chatops.domain.policy import Status
from chatops.domain.records import SensitivityChanged
from chatops.errors import InputError, NotAllowedError, NotFoundError
from chatops.service import ProposalRequest, Service
from chatops.slack.blocks import thread_reply
from chatops.store.sql import SqlStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    """
[policy]
approvals_required = 1
flagged_approvals_required = 2

[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-23:00"]

[[regions]]
id = "np"
name = "Nepal"
timezone = "Asia/Kathmandu"
peak_hours = ["08:00-22:00"]
""",
    source="test",
)
DAYTIME_IN_TEHRAN = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 09:30 in Tehran


def make(store: SqlStore) -> Service:
    return Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA", "UB"}),
        admins=lambda: frozenset({"UADMIN"}),
        clock=lambda: NOW,
    )


def propose(service: Service) -> int:
    return service.propose(
        ProposalRequest(
            idempotency_key=None,
            proposer="UP",
            title="Upgrade",
            start=DAYTIME_IN_TEHRAN,
            duration=timedelta(hours=1),
            input_tz="UTC",
        )
    ).proposal.id


def test_only_admins_declare_and_lift(store: SqlStore) -> None:
    service = make(store)
    with pytest.raises(NotAllowedError, match="only chatops admins"):
        service.declare_sensitive(
            actor="UA", region_id="ir", start=date(2026, 12, 1), end=date(2026, 12, 2), reason="Election"
        )
    assert store.sensitive_periods() == []
    period = service.declare_sensitive(
        actor="UADMIN", region_id="ir", start=date(2026, 12, 1), end=date(2026, 12, 2), reason="Election"
    )
    with pytest.raises(NotAllowedError):
        service.lift_sensitive(period.id, actor="UA")
    service.lift_sensitive(period.id, actor="UADMIN")
    with pytest.raises(NotFoundError):
        service.lift_sensitive(period.id, actor="UADMIN")


@pytest.mark.parametrize(
    ("region", "start", "end", "reason", "match"),
    [
        ("xx", date(2026, 12, 1), date(2026, 12, 2), "r", "no region 'xx'"),
        ("ir", date(2026, 12, 2), date(2026, 12, 1), "r", "ends"),
        ("ir", date(2026, 1, 1), date(2026, 1, 2), "r", "ended on"),
        ("ir", date(2026, 12, 1), date(2028, 12, 1), "r", "a year at the most"),
        ("ir", date(2026, 12, 1), date(2026, 12, 1), "  ", "reason is empty"),
    ],
)
def test_bad_declarations_change_nothing(
    store: SqlStore, region: str, start: date, end: date, reason: str, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        make(store).declare_sensitive(actor="UADMIN", region_id=region, start=start, end=end, reason=reason)
    assert store.sensitive_periods() == []


def test_a_declaration_flags_open_changes_and_lifting_clears_them(store: SqlStore) -> None:
    service = make(store)
    pid = propose(service)
    before = store.get_proposal(pid)
    assert before is not None and not before.flagged and before.approvals_required == 1

    period = service.declare_sensitive(
        actor="UADMIN",
        region_id="ir",
        start=date(2026, 11, 30),
        end=date(2026, 12, 3),
        reason="Election protests",
    )
    row = store.get_proposal(pid)
    assert row is not None and row.flagged and row.approvals_required == 2 and row.status is Status.PENDING
    last = store.events(pid)[-1]
    assert last.kind == "sensitivity_changed" and last.data["flagged"] is True
    assert "Election protests" in last.reason

    service.approve(pid, actor="UA")
    service.lift_sensitive(period.id, actor="UADMIN")
    row = store.get_proposal(pid)
    assert row is not None and not row.flagged
    assert row.status is Status.APPROVED  # one approval now suffices, and it has one
    assert store.events(pid)[-1].data["status_after"] == "approved"


def named(store: SqlStore) -> Service:
    return Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA", "UB"}),
        admins=lambda: frozenset({"UADMIN"}),
        clock=lambda: NOW,
        display_name={"UA": "Ana", "UB": "Ben", "UADMIN": "Ada Admin", "UP": "Pat"}.get,
    )


def thread_text(store: SqlStore, pid: int) -> list[str]:
    row = store.get_proposal(pid)
    assert row is not None
    return [thread_reply(row, event)["text"] for event in store.events(pid)]


def test_an_approved_change_made_flagged_needs_reapproval_and_keeps_its_approval(store: SqlStore) -> None:
    service = named(store)
    pid = propose(service)
    service.approve(pid, actor="UA")
    row = store.get_proposal(pid)
    assert row is not None and row.status is Status.APPROVED

    period = service.declare_sensitive(
        actor="UADMIN", region_id="ir", start=date(2026, 11, 30), end=date(2026, 12, 3), reason="Protests"
    )
    row = store.get_proposal(pid)
    assert row is not None and row.status is Status.NEEDS_REAPPROVAL and row.approvals_required == 2
    assert store.approvers(pid, round=1) == ["UA"]
    event = store.events(pid)[-1]
    assert event.actor_name == "Ada Admin"
    payload = event.payload
    assert isinstance(payload, SensitivityChanged)
    assert payload.flagged_before == () and payload.flagged_after == ("ir",)
    assert payload.period is not None and payload.period.declared_by == "UADMIN"
    reply = thread_text(store, pid)[-1]
    assert "now flagged for Iran" in reply and "needs re-approval" in reply and "1 more approval" in reply
    assert "Iran declared sensitive 2026-11-30 – 2026-12-03" in reply and "declared by <@UADMIN>" in reply
    assert "<@UP>" in reply  # the proposer hears of it

    with pytest.raises(NotAllowedError, match="already approved"):
        service.approve(pid, actor="UA")
    service.approve(pid, actor="UB")
    row = store.get_proposal(pid)
    assert row is not None and row.status is Status.APPROVED
    assert "(2 of 2, flagged window)" in thread_text(store, pid)[-1]

    service.lift_sensitive(period.id, actor="UADMIN")
    row = store.get_proposal(pid)
    assert row is not None and row.status is Status.APPROVED and not row.flagged
    last = thread_text(store, pid)[-1]
    assert "no longer flagged" in last and "It stays approved." in last and "now approved" not in last
    assert not verify(store).problems


def test_gaining_another_flagged_region_is_an_event_and_a_reply(store: SqlStore) -> None:
    service = make(store)
    pid = propose(service)
    service.declare_sensitive(
        actor="UADMIN", region_id="ir", start=date(2026, 11, 30), end=date(2026, 12, 3), reason="Protests"
    )
    count = len(store.events(pid))
    service.declare_sensitive(
        actor="UADMIN", region_id="np", start=date(2026, 12, 1), end=date(2026, 12, 1), reason="Strike"
    )
    events = store.events(pid)
    assert len(events) == count + 1
    payload = events[-1].payload
    assert isinstance(payload, SensitivityChanged)
    assert payload.flagged_before == ("ir",) and set(payload.flagged_after or ()) == {"ir", "np"}
    assert "now flagged for Nepal" in thread_text(store, pid)[-1]
    assert not verify(store).problems


def test_a_declaration_or_lift_that_changes_nothing_says_nothing(store: SqlStore) -> None:
    service = make(store)
    pid = propose(service)
    period = service.declare_sensitive(
        actor="UADMIN", region_id="np", start=date(2026, 12, 20), end=date(2026, 12, 21), reason="Later"
    )
    service.lift_sensitive(period.id, actor="UADMIN")
    assert [e.kind for e in store.events(pid)] == ["proposed"]
    assert [e.kind for e in store.iter_events() if e.proposal_id is None] == [
        "sensitive_declared",
        "sensitive_lifted",
    ]
    assert store.outbox_stats(now=2**40)[0] == 2  # the parent and the "proposed" reply only
    assert not verify(store).problems
