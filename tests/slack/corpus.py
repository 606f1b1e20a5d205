"""Every Block Kit builder rendered for a broad set of states: the messages, modals and Home tabs the app sends.

``messages()``, ``views()`` and ``replies()`` each map a case name to what the builder returned. The golden test
(``test_blocks_golden.py``) compares them with the recorded JSON in ``golden/``; the limits test parses every one
back through slack_sdk's models.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from test_blocks import START, row_for, world

from chatops.config import load_regions
from chatops.domain.evaluate import evaluate, evaluation_document
from chatops.domain.models import Freeze, Region, Window
from chatops.domain.policy import Status
from chatops.domain.records import (
    ApprovalsExpired,
    ApprovalsExpiring,
    Approved,
    Cancelled,
    Completed,
    ConflictDoc,
    ConflictFound,
    EmergencyDoc,
    Extended,
    PeriodDoc,
    Postponed,
    Proposed,
    Rejected,
    Reopened,
    Reviewed,
    SensitiveDeclared,
    SensitiveLifted,
    SensitivityChanged,
    WindowDoc,
    payload_data,
)
from chatops.domain.reminders import ReminderKind
from chatops.domain.suggest import choose
from chatops.slack import blocks, ids
from chatops.slack.home import HomeData, home_view
from chatops.store import EventRow, ProposalRow, SensitiveRow

ROOT = Path(__file__).resolve().parents[2]
LONG = "A long line of text that goes on <and on> & on. " * 120  # about 6,000 characters
HOUR = 3600


def readme_row(start: datetime, **extra: Any) -> ProposalRow:
    """The README's example: a one-hour window from ``start`` against ``examples/iran-2009.toml``."""
    config = load_regions(ROOT / "examples" / "iran-2009.toml")
    window = Window.of(start, timedelta(hours=1))
    evaluation = evaluate(window, regions=config.regions)
    choices = choose(window, regions=config.regions, team=config.team, horizon=timedelta(days=14))
    fields: dict[str, Any] = {
        "id": 12,
        "idempotency_key": None,
        "title": "Core network upgrade",
        "description": "",
        "rollback_plan": "",
        "ticket_url": "",
        "proposer": "U0PROPOSER",
        "channel": "C0CHANGES",
        "input_tz": "America/Los_Angeles",
        "start_ts": int(window.start.timestamp()),
        "end_ts": int(window.end.timestamp()),
        "status": Status.PENDING,
        "flagged": evaluation.flagged,
        "approvals_required": 2 if evaluation.flagged else 1,
        "round": 1,
        "version": 3,
        "message_ts": None,
        "evaluation": evaluation_document(evaluation, choices),
        "created_at": 0,
        "updated_at": 0,
    }
    fields.update(extra)
    return ProposalRow(**fields)


def readme_flagged(**extra: Any) -> ProposalRow:
    return readme_row(datetime(2009, 6, 16, 5, 0, tzinfo=UTC), **extra)  # 22:00 Pacific, 09:30 in Tehran


def readme_clear(**extra: Any) -> ProposalRow:
    return readme_row(datetime(2009, 6, 16, 21, 0, tzinfo=UTC), **extra)  # 14:00 Pacific, 01:30 in Tehran


def quiet_row(**extra: Any) -> ProposalRow:
    return row_for([Region(id="q", name="Quiet", timezone="UTC", peak_hours=("09:00-17:00",))], **extra)


def frozen_row(**extra: Any) -> ProposalRow:
    """A window during two change freezes (one of them without a calendar name), in a world of 20."""
    row = row_for(world(20), **extra)
    freezes = [
        Freeze(start=START - timedelta(days=1), end=START + timedelta(days=9), summary="Year-end <freeze>"),
        Freeze(
            start=START - timedelta(days=2),
            end=START + timedelta(days=3),
            summary="Releases & more",
            calendar="Releases",
        ),
    ]
    evaluation = dict(row.evaluation)
    evaluation["freezes"] = [
        {
            "summary": f.summary,
            "calendar": f.calendar or None,
            "start": f.start.isoformat(),
            "end": f.end.isoformat(),
        }
        for f in freezes
    ]
    evaluation["flagged"] = True
    return row.model_copy(update={"evaluation": evaluation, "flagged": True})


def closing(kind: str, *, reason: str = "", at: int | None = None) -> EventRow:
    return EventRow(
        id=9,
        gseq=9,
        proposal_id=57,
        seq=2,
        kind=kind,
        actor="U0APPROVER1",
        at=int(START.timestamp()) - HOUR if at is None else at,
        reason=reason,
        data={},
        prev_hash="",
        hash="",
    )


def many_flagged() -> list[Region]:
    return [
        Region(
            id=f"r{i}",
            name=f"R{i:03d} " + "n" * 95,
            timezone="Asia/Tehran",
            peak_hours=("00:00-24:00",),
            sensitive=True,
        )
        for i in range(400)
    ]


def _proposal_messages() -> dict[str, Callable[[], dict[str, Any]]]:
    cases: dict[str, Callable[[], dict[str, Any]]] = {
        "readme flagged": lambda: blocks.proposal_message(readme_flagged(), [], mention=["S0OPS"]),
        "readme clear": lambda: blocks.proposal_message(readme_clear(), [], mention=["S0OPS", "U0APPROVER9"]),
        "readme flagged approved by one": lambda: blocks.proposal_message(
            readme_flagged(), ["U0APPROVER1"], mention=["S0OPS"]
        ),
        "400 regions": lambda: blocks.proposal_message(row_for(world()), [], mention=["S0OPS"]),
        "400 flagged long names": lambda: blocks.proposal_message(row_for(many_flagged()), []),
        "quiet": lambda: blocks.proposal_message(quiet_row(), []),
        "rejected with reason": lambda: blocks.proposal_message(
            row_for(world(20), status=Status.REJECTED),
            [],
            closing=closing("rejected", reason="Clashes with the <!channel> vote count\nsecond line"),
            mention=["S0OPS"],
        ),
        "rejected without closing": lambda: blocks.proposal_message(
            row_for(world(20), status=Status.REJECTED), []
        ),
        "cancelled without reason": lambda: blocks.proposal_message(
            row_for(world(20), status=Status.CANCELLED), [], closing=closing("cancelled")
        ),
        "cancelled long reason": lambda: blocks.proposal_message(
            row_for(world(20), status=Status.CANCELLED), [], closing=closing("cancelled", reason=LONG)
        ),
        "done": lambda: blocks.proposal_message(
            row_for(world(5), status=Status.DONE), ["U0A", "U0B"], closing=closing("completed")
        ),
        "done without closing": lambda: blocks.proposal_message(
            row_for(world(5), status=Status.DONE), ["U0A"]
        ),
        "needs re-approval": lambda: blocks.proposal_message(
            row_for(world(30), status=Status.NEEDS_REAPPROVAL), ["U0A"], mention=["S0OPS"], at=START_TS - 600
        ),
        "approved now open": lambda: blocks.proposal_message(
            row_for(world(3), status=Status.APPROVED), ["U0A", "W0B"], at=START_TS + 600
        ),
        "approved opens later": lambda: blocks.proposal_message(
            quiet_row(status=Status.APPROVED), ["U0A"], at=START_TS - 3 * HOUR
        ),
        "approved ended": lambda: blocks.proposal_message(
            quiet_row(status=Status.APPROVED), ["U0A"], at=START_TS + 5 * HOUR
        ),
        "everything filled in": lambda: blocks.proposal_message(
            row_for(
                world(40),
                ticket_url="https://tickets.example.com/CHG-57?a=1&b=2" + "x" * 100,
                description="Swap the <core> routers & check BGP\n*bold* _it_",
                rollback_plan="Swap back.\n<!here> please",
                services=("api", "db"),
            ),
            ["U0APPROVER1", "bad id"],
            mention=["S0OPS", "U0APPROVER9"],
            owners=("S0DB", "U0OWNER"),
            conflicts=[
                row_for(world(3), id=58 + i, title=f"Db <b>failover</b> {i}", services=("db",))
                for i in range(12)
            ],
            at=START_TS - 7 * 24 * HOUR,
        ),
        "long title and texts": lambda: blocks.proposal_message(
            row_for(world(10), title="T<>&" * 100, description=LONG, rollback_plan=LONG), []
        ),
        "freezes": lambda: blocks.proposal_message(frozen_row(), []),
        "freezes clear regions": lambda: blocks.proposal_message(
            quiet_row().model_copy(update={"evaluation": frozen_row().evaluation | {"regions": []}}), []
        ),
        "emergency flagged": lambda: blocks.proposal_message(
            row_for(
                world(14),
                emergency=True,
                incident_url="https://status.example.com/i/1?a&b",
                approvals_required=1,
                description="It is <!here> down",
            ),
            [],
        ),
        "emergency many flagged": lambda: blocks.proposal_message(
            row_for(world(), emergency=True, incident_url="https://x.example/1", status=Status.APPROVED),
            ["U0A"],
            at=START_TS + 60,
        ),
        "emergency reviewed": lambda: blocks.proposal_message(
            row_for(world(14), emergency=True, incident_url="https://x.example/1").model_copy(
                update={"reviewed_by": "U0A", "reviewed_at": START_TS}
            ),
            [],
        ),
        "emergency reviewed no time": lambda: blocks.proposal_message(
            row_for(world(14), emergency=True, incident_url="https://x.example/1").model_copy(
                update={"reviewed_by": "U0A", "status": Status.DONE}
            ),
            [],
        ),
        "emergency clear": lambda: blocks.proposal_message(
            row_for(world(3)[1:], emergency=True, incident_url="https://x.example/1"), []
        ),
    }
    for status in Status:
        cases[f"world of 60, {status.value}"] = lambda status=status: blocks.proposal_message(  # type: ignore[misc]
            row_for(world(60), status=status), ["U0A"]
        )
    return cases


START_TS = int(START.timestamp())


def _rows_for_list() -> list[ProposalRow]:
    rows = []
    for i in range(60):
        extra: dict[str, Any] = {"id": i + 1, "title": f"Change {i} <x> " + "long " * (i % 30)}
        if i % 7 == 0:
            extra["services"] = ("db",)
        if i % 11 == 0:
            extra["emergency"] = True
            extra["incident_url"] = "https://x.example/1"
        if i % 3 == 0:
            extra["status"] = Status.APPROVED
        extra["input_tz"] = ["UTC", "Asia/Tehran", "America/Los_Angeles", "Asia/Kolkata"][i % 4]
        extra["start_ts"] = START_TS + i * 1800
        extra["end_ts"] = START_TS + i * 1800 + HOUR
        rows.append(row_for(world(3) if i % 2 else world(3)[1:], **extra))
    return rows


def _other_messages() -> dict[str, Callable[[], dict[str, Any]]]:
    rows = _rows_for_list()
    declared = [
        SensitiveRow(
            id=i,
            region_id=f"r{i} <x>",
            start_date=date(2026, 12, 1),
            end_date=date(2026, 12, 1 + i % 20),
            reason="Vote <!here> & count " * (i % 20),
            declared_by="U0ADMIN" if i % 2 else "bad",
            declared_at=0,
            lifted_by=None,
            lifted_at=None,
        )
        for i in range(45)
    ]
    configured = [(f"Region {i}", "2026-12-01", "2026-12-31", "Election & <more>") for i in range(45)]
    return {
        "list empty": lambda: blocks.list_message([]),
        "list three": lambda: blocks.list_message(rows[:3]),
        "list one at": lambda: blocks.list_message(rows[1:2], at=START_TS + 2000),
        "list fifty of 300": lambda: blocks.list_message(rows[:50], total=300, at=START_TS - HOUR),
        "list sixty": lambda: blocks.list_message(rows, at=START_TS + 6 * HOUR),
        "check readme flagged": lambda: blocks.assessment_message(
            readme_flagged().evaluation, heading="Times in America/Los_Angeles", tz="America/Los_Angeles"
        ),
        "check readme clear": lambda: blocks.assessment_message(
            readme_clear().evaluation, heading="Times in UTC (assumed)"
        ),
        "check 400 regions": lambda: blocks.assessment_message(
            row_for(world()).evaluation, heading="Times in <Asia/Tehran>", tz="Asia/Tehran"
        ),
        "check 400 flagged": lambda: blocks.assessment_message(
            row_for(many_flagged()).evaluation, heading="Times in UTC", tz="UTC"
        ),
        "check freezes": lambda: blocks.assessment_message(frozen_row().evaluation, heading="Times in UTC"),
        "confirmation created": lambda: blocks.confirmation_message(readme_flagged(), created=True),
        "confirmation again": lambda: blocks.confirmation_message(readme_clear(), created=False),
        "confirmation conflicts": lambda: blocks.confirmation_message(
            row_for(world(3), services=("db",)), created=True, conflicts=rows[:12]
        ),
        "confirmation emergency oncall": lambda: blocks.confirmation_message(
            row_for(world(3), emergency=True, incident_url="https://x.example/1", approvals_required=1),
            created=True,
        ),
        "confirmation emergency none": lambda: blocks.confirmation_message(
            row_for(world(3)[1:], emergency=True, incident_url="https://x.example/1", approvals_required=0),
            created=False,
        ),
        "superseded with link": lambda: blocks.superseded_message(
            readme_flagged(status=Status.APPROVED), "https://example.slack.com/archives/C0CHANGES/p1"
        ),
        "superseded without link": lambda: blocks.superseded_message(readme_clear(), None),
        "sensitive empty": lambda: blocks.sensitive_message([], []),
        "sensitive some": lambda: blocks.sensitive_message(
            declared[:3], configured[:2], note="Declared #3 <ok>"
        ),
        "sensitive many": lambda: blocks.sensitive_message(declared, configured),
        "usage": lambda: blocks.usage_message(),
        "usage problem": lambda: blocks.usage_message("Unknown command `<!channel>` & more"),
        "error": lambda: blocks.error_message("Not recorded: <@U1> is not an approver & cannot decide"),
        "error long": lambda: blocks.error_message(LONG),
        "ping": lambda: blocks.approver_ping(readme_flagged(), ["S0OPS", "U0A"], why="postponed <x>"),
        **{
            f"reminder {kind.value}": lambda kind=kind: blocks.reminder_message(readme_clear(), kind)
            for kind in ReminderKind
        },
    }


def _views() -> dict[str, Callable[[], dict[str, Any]]]:
    home_rows = _rows_for_list()
    regions = evaluate(Window.of(START, timedelta(minutes=1)), regions=world(40)).regions
    sensitive = [r for r in regions if r.sensitive]
    freeze = Freeze(
        start=START - timedelta(days=1), end=START + timedelta(days=9), summary="Year-end <freeze>"
    )
    return {
        "propose modal": lambda: blocks.propose_modal(tz="Asia/Tehran", initial_start=START_TS),
        "propose modal utc": lambda: blocks.propose_modal(tz="UTC", initial_start=0),
        "reject modal": lambda: blocks.reason_modal(
            readme_flagged(),
            callback_id=ids.REJECT_VIEW,
            title="Reject change",
            submit="Reject",
            optional=False,
        ),
        "cancel modal long title": lambda: blocks.reason_modal(
            row_for(world(3), title="T<>&" * 100),
            callback_id=ids.CANCEL_VIEW,
            title="Cancel a change with a very long title",
            submit="Cancel change",
            optional=True,
        ),
        "approve modal readme": lambda: blocks.approve_modal(readme_flagged()),
        "approve modal 400": lambda: blocks.approve_modal(row_for(world())),
        "approve modal freezes": lambda: blocks.approve_modal(frozen_row()),
        "postpone modal": lambda: blocks.postpone_modal(
            readme_flagged(), [(START_TS + i * HOUR, START_TS + (i + 1) * HOUR) for i in range(3)]
        ),
        "postpone modal no suggestion": lambda: blocks.postpone_modal(row_for(world(3)), []),
        "done modal": lambda: blocks.done_modal(
            blocks.confirmation_message(readme_flagged(), created=True)["text"]
        ),
        "extend modal": lambda: blocks.extend_modal(readme_clear(status=Status.APPROVED)),
        "home empty": lambda: home_view(
            HomeData(tz="UTC", now=START, waiting=[], upcoming=[], sensitive=[], freezes=[])
        ),
        "home some": lambda: home_view(
            HomeData(
                tz="Asia/Tehran",
                now=START,
                waiting=home_rows[:2],
                upcoming=home_rows[:5],
                sensitive=sensitive[:2],
                freezes=[freeze],
                calendar_notes=["Calendar 'releases': read from a copy <1 h> old"],
            )
        ),
        "home many": lambda: home_view(
            HomeData(
                tz="America/Los_Angeles",
                now=START,
                waiting=home_rows[:20],
                upcoming=home_rows,
                sensitive=sensitive + sensitive,
                freezes=[freeze] * 3,
                calendar_notes=[f"Calendar {i}: " + LONG for i in range(20)],
            )
        ),
    }


def _window(start: int, hours: int = 1) -> WindowDoc:
    return WindowDoc(
        start=datetime.fromtimestamp(start, UTC).isoformat(),
        end=datetime.fromtimestamp(start + hours * HOUR, UTC).isoformat(),
    )


def event(row: ProposalRow, payload: Any, *, actor: str = "U0APPROVER", reason: str = "") -> EventRow:
    return EventRow(
        id=2,
        gseq=2,
        proposal_id=row.id,
        seq=2,
        kind=payload.kind.value,
        actor=actor,
        at=row.start_ts - HOUR,
        reason=reason,
        data=payload_data(payload),
        prev_hash="",
        hash="x",
    )


def reply_events() -> dict[str, EventRow]:
    """The audit event of every reply case (every event kind): name -> event."""
    return {name: event(r, p, actor=a, reason=why) for name, (r, p, a, why) in _reply_cases().items()}


def _reply_cases() -> dict[str, tuple[ProposalRow, Any, str, str]]:
    row = readme_flagged()
    big = row_for(world(), input_tz="Asia/Kolkata", services=("api",))
    emergency = row_for(
        world(14), emergency=True, incident_url="https://status.example.com/i/1", services=("api",)
    )
    here = _window(row.start_ts)
    later = _window(row.start_ts + 24 * HOUR, 2)
    conflict = ConflictDoc(proposal_id=58, services=("api", "db"), window=_window(row.start_ts + 1800))
    period = PeriodDoc(
        period_id=4,
        region_id="ir",
        region_name="Iran <x>",
        start_date="2009-06-12",
        end_date="2009-06-30",
        reason="Protests & <!here> " * 30,
        declared_by="U0ADMIN",
    )

    def proposed(r: ProposalRow, **extra: Any) -> Proposed:
        return Proposed(
            window=_window(r.start_ts), input_tz=r.input_tz, evaluation=r.snapshot, title=r.title, **extra
        )

    def changed(**extra: Any) -> SensitivityChanged:
        fields: dict[str, Any] = {
            "flagged": True,
            "required": 2,
            "approvals": 1,
            "status_after": Status.NEEDS_REAPPROVAL,
            "evaluation": row.snapshot,
        }
        fields.update(extra)
        return SensitivityChanged(**fields)

    cases: dict[str, tuple[ProposalRow, Any, str, str]] = {
        "proposed readme": (row, proposed(row), "U0PROPOSER", ""),
        "proposed clear": (readme_clear(), proposed(readme_clear()), "U0PROPOSER", ""),
        "proposed 400 with conflicts": (
            big,
            proposed(big, services=("api",), conflicts=(conflict,) * 7),
            "U0PROPOSER",
            "",
        ),
        "proposed freezes": (frozen_row(), proposed(frozen_row()), "U0PROPOSER", ""),
        "proposed emergency": (
            emergency,
            proposed(
                emergency,
                services=("api",),
                conflicts=(conflict,),
                emergency=EmergencyDoc(
                    incident_url=emergency.incident_url, reason="it is <!here> down", approval="oncall"
                ),
            ),
            "U0PROPOSER",
            "",
        ),
        "proposed emergency clear none": (
            quiet_row(emergency=True, incident_url="https://x.example/1"),
            proposed(
                quiet_row(),
                emergency=EmergencyDoc(incident_url="https://x.example/1", reason="down", approval="none"),
            ),
            "U0PROPOSER",
            "",
        ),
        "approved partly": (
            row,
            Approved(
                round=1,
                approvals=1,
                required=2,
                flagged=True,
                window=here,
                status_after=Status.PENDING,
                justification="We <!channel> must\nnow",
            ),
            "U0APPROVER",
            "",
        ),
        "approved fully by proposer": (
            row,
            Approved(
                round=1, approvals=1, required=1, flagged=False, window=here, status_after=Status.APPROVED
            ),
            "U0PROPOSER",
            "",
        ),
        "rejected": (row, Rejected(round=1, approvals=0, window=here), "U0APPROVER", "No <!here>\n> quote"),
        "rejected no reason": (row, Rejected(round=1, approvals=1, window=here), "bad actor", ""),
        "cancelled": (row, Cancelled(round=2, approvals=0, window=here), "U0PROPOSER", "Not needed"),
        "postponed": (
            row,
            Postponed.model_validate(
                {
                    "from": here,
                    "to": later,
                    "approvals_reset": 1,
                    "round": 2,
                    "required": 2,
                    "evaluation": row.snapshot,
                    "conflicts": (conflict,) * 6,
                }
            ),
            "U0APPROVER",
            "Tehran is at its peak",
        ),
        "postponed clear": (
            readme_clear(),
            Postponed.model_validate(
                {
                    "from": here,
                    "to": later,
                    "approvals_reset": 0,
                    "round": 2,
                    "required": 1,
                    "evaluation": readme_clear().snapshot,
                }
            ),
            "U0PROPOSER",
            "",
        ),
        "reopened": (row, Reopened(round=3, required=2, window=here), "U0APPROVER", "Try again"),
        "sensitivity now flagged": (row, changed(), "U0ADMIN", "An election"),
        "sensitivity no longer": (
            row,
            changed(flagged=False, flagged_before=("ir",), flagged_after=(), status_after=Status.PENDING),
            "U0ADMIN",
            "",
        ),
        "sensitivity gained and lost": (
            row,
            changed(
                flagged_before=("us-west", "xx"),
                flagged_after=("ir",),
                status_before=Status.APPROVED,
                period=period,
                change="declared",
            ),
            "U0ADMIN",
            "",
        ),
        "sensitivity still": (
            row,
            changed(status_before=Status.NEEDS_REAPPROVAL, period=period, change="lifted"),
            "U0ADMIN",
            "",
        ),
        "sensitivity stays approved": (
            row,
            changed(flagged=False, status_before=Status.APPROVED, status_after=Status.APPROVED),
            "U0ADMIN",
            "",
        ),
        "sensitivity approved already": (
            row,
            changed(status_after=Status.APPROVED),
            "U0ADMIN",
            "",
        ),
        "sensitivity now approved": (
            row,
            changed(flagged=False, status_before=Status.PENDING, status_after=Status.APPROVED),
            "U0ADMIN",
            "",
        ),
        "sensitivity pending": (row, changed(status_after=Status.PENDING), "U0ADMIN", ""),
        "conflict found": (
            row,
            ConflictFound(
                conflict=conflict,
                window=here,
                approvals=1,
                approvals_required_after=3,
                status_before=Status.APPROVED,
                status_after=Status.NEEDS_REAPPROVAL,
                owners=("S0DB",),
            ),
            "U0OTHER",
            "",
        ),
        "conflict found pending": (
            row,
            ConflictFound(
                conflict=conflict,
                window=here,
                approvals=0,
                approvals_required_after=1,
                status_before=Status.PENDING,
                status_after=Status.PENDING,
            ),
            "U0PROPOSER",
            "",
        ),
        "reviewed": (emergency, Reviewed(window=here), "U0APPROVER", ""),
        "sensitive declared": (row, SensitiveDeclared(period=period), "U0ADMIN", "Vote"),
        "sensitive lifted": (row, SensitiveLifted(period=period), "U0ADMIN", ""),
        "completed": (row, Completed(round=1, window=here), "U0PROPOSER", "All good"),
        "extended clear": (
            row,
            Extended.model_validate(
                {
                    "from": here,
                    "to": later,
                    "extra_flagged": False,
                    "round": 1,
                    "required": 2,
                    "status_after": Status.APPROVED,
                    "evaluation": row.snapshot,
                }
            ),
            "U0PROPOSER",
            "",
        ),
        "extended flagged": (
            row,
            Extended.model_validate(
                {
                    "from": here,
                    "to": later,
                    "extra_flagged": True,
                    "extra_flagged_regions": ("ir", "gone"),
                    "round": 2,
                    "required": 2,
                    "status_after": Status.NEEDS_REAPPROVAL,
                    "evaluation": row.snapshot,
                }
            ),
            "U0PROPOSER",
            "Overran",
        ),
        "approvals expiring": (
            row,
            ApprovalsExpiring(round=1, expires=later.start, approvers=("U0A", "U0B"), max_age_days=30),
            "chatops",
            "",
        ),
        "approvals expiring nobody": (
            row,
            ApprovalsExpiring(round=1, expires=later.start, approvers=(), max_age_days=0.5),
            "chatops",
            "",
        ),
        "approvals expired kept": (
            row,
            ApprovalsExpired(
                round=2,
                expired=("U0A",),
                kept=("U0B",),
                required=2,
                status_after=Status.NEEDS_REAPPROVAL,
                max_age_days=30,
            ),
            "chatops",
            "",
        ),
        "approvals expired still approved": (
            row,
            ApprovalsExpired(
                round=2, expired=("U0A",), required=1, status_after=Status.APPROVED, max_age_days=30
            ),
            "chatops",
            "",
        ),
    }
    return cases


def _replies() -> dict[str, Callable[[], dict[str, Any]]]:
    row = readme_flagged()
    here = _window(row.start_ts)
    out: dict[str, Callable[[], dict[str, Any]]] = {
        name: lambda r=r, p=p, a=a, why=why: blocks.thread_reply(r, event(r, p, actor=a, reason=why))
        for name, (r, p, a, why) in _reply_cases().items()
    }
    broken = event(row, Rejected(round=1, approvals=0, window=here), reason="a <b>").model_copy(
        update={"kind": "approved"}
    )
    out["unreadable payload"] = lambda: blocks.thread_reply(row, broken)
    return out


def messages() -> dict[str, dict[str, Any]]:
    """Every message case: ``{"text", "blocks"?}`` as the builders return them."""
    return {name: build() for name, build in {**_proposal_messages(), **_other_messages()}.items()}


def views() -> dict[str, dict[str, Any]]:
    """Every modal and Home tab case."""
    return {name: build() for name, build in _views().items()}


def replies() -> dict[str, dict[str, Any]]:
    """A thread reply for every audit event kind (and the states that change its wording)."""
    return {name: build() for name, build in _replies().items()}


def everything() -> dict[str, dict[str, dict[str, Any]]]:
    return {"messages": messages(), "views": views(), "replies": replies()}


GOLDEN = Path(__file__).resolve().parent / "golden" / "blocks.json"


def dumps(rendered: dict[str, Any]) -> str:
    """The recorded form: key order kept (as the builders produce it), one JSON value per line where it fits."""
    return json.dumps(rendered, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    # Re-record after an intended change of wording: python tests/slack/corpus.py (then review the diff).
    GOLDEN.write_text(dumps(everything()), encoding="utf-8")
    print(f"wrote {GOLDEN}")
