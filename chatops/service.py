"""Use cases: propose, approve, reject, postpone, cancel, assess, list.

The only place that combines the pure domain, the store and the clock. Every state change is one store
transaction holding the new state, its audit event and the outbox rows that will tell Slack; nothing here talks
to Slack directly. Errors are :mod:`chatops.errors` values whose text is meant for the person who acted.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from chatops import __version__, tzdb
from chatops.calendars import Calendars
from chatops.domain import evaluate
from chatops.domain.conflicts import check_services, overlaps
from chatops.domain.evaluate import evaluation_document
from chatops.domain.freezes import with_freezes
from chatops.domain.models import Evaluation, Region, RegionsConfig, SensitivePeriod, Window
from chatops.domain.policy import Action, Status, check_window, may_act
from chatops.domain.records import (
    ApprovalsExpired,
    ApprovalsExpiring,
    Approved,
    Cancelled,
    Completed,
    ConflictDoc,
    ConflictFound,
    EmergencyDoc,
    EvaluationSnapshot,
    Extended,
    OutboxKind,
    PeriodDoc,
    Postponed,
    Proposed,
    Rejected,
    Reviewed,
    SensitivityChanged,
    WindowDoc,
)
from chatops.domain.reminders import Placement, approvals_expire_at, expired, placement
from chatops.domain.suggest import Choice, choose
from chatops.domain.timeline import from_ts, to_ts
from chatops.errors import ConflictError, InputError, NotAllowedError, NotFoundError
from chatops.store import (
    DuplicateKey,
    Encoded,
    EventRow,
    NewProposal,
    ProposalRow,
    ProposalSummary,
    SensitiveRow,
    Store,
    Tx,
    canonical_json,
)

TITLE_MAX = 150
TEXT_MAX = 2000
REASON_MAX = 500
logger = logging.getLogger(__name__)
TICKET_MAX = 500
OPEN_STATUSES = (Status.PENDING, Status.NEEDS_REAPPROVAL, Status.APPROVED)
"""Windows that still hold their slot: waiting for approvals, or approved (and not ended)."""
_TICKET_RE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(?:[/?#][^\s<>|\"\\]*)?$")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Assessment:
    """An evaluation and, when the window is flagged, better windows that are real choices."""

    evaluation: Evaluation
    choices: tuple[Choice, ...] = ()

    @property
    def suggestions(self) -> tuple[Window, ...]:
        return tuple(c.window for c in self.choices)

    @property
    def flagged(self) -> bool:
        return self.evaluation.flagged

    def document(self) -> dict[str, Any]:
        """The JSON snapshot stored with a proposal and its audit events, with the time-zone rules it was
        evaluated under (``tzdata``: source and IANA version), so an audit can tell which rules were used."""
        return {**evaluation_document(self.evaluation, self.choices), "tzdata": tzdb.current().document()}


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did: changes whose approvals it announced as expiring or expired, reminders it queued
    for scheduling (they came within Slack's range), parent messages it queued for a refresh."""

    warned: tuple[int, ...] = ()
    expired: tuple[int, ...] = ()
    scheduled: tuple[int, ...] = ()
    refreshed: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProposalRequest:
    """What a proposer asked for, already parsed into an aware start and a duration."""

    idempotency_key: str | None
    proposer: str
    title: str
    start: datetime
    duration: timedelta
    input_tz: str
    description: str = ""
    rollback_plan: str = ""
    ticket_url: str = ""
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmergencyRequest:
    """``/maintenance emergency <duration> <title> <incident link> <reason>``: a change that starts now."""

    idempotency_key: str | None
    proposer: str
    title: str
    duration: timedelta
    incident_url: str
    reason: str
    input_tz: str = "UTC"
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """A proposal after a use case, with its current approvers and, for ``propose``, whether it was new."""

    proposal: ProposalRow
    approvals: tuple[str, ...] = ()
    created: bool = True
    assessment: Assessment | None = None


def clean_text(
    value: str,
    *,
    field_name: str,
    limit: int,
    required: bool = False,
    single_line: bool = False,
    field: str | None = None,
) -> str:
    """Strip, drop NUL and other control and format characters (bidi overrides…) but newlines and tabs, refuse
    empty or overlong text. ``single_line``: runs of whitespace, newlines included, become one space (a reason
    shown on one line cannot start a line of its own). ``field`` names the form field errors are about."""
    text = "".join(ch for ch in (value or "") if ch in "\n\t" or ch.isprintable()).strip()
    if single_line:
        text = " ".join(text.split())
    if required and not text:
        raise InputError(f"the {field_name} is empty; please give one", field=field)
    if len(text) > limit:
        raise InputError(f"the {field_name} is {len(text)} characters long; the most is {limit}", field=field)
    return text


@dataclass(frozen=True)
class Seen:
    """The state of a change a person decided on: the round and version its message or form was built for."""

    round: int
    version: int


class NeedsJustification(ConflictError):
    """A one-tap approval (``clear_only``) of a flagged window, by someone who may approve it: it is approved
    only with a justification. ``row`` is the change as it is."""

    def __init__(self, row: ProposalRow) -> None:
        super().__init__("this window is flagged now; press Approve again to confirm it with a justification")
        self.row = row


class Superseded(ConflictError):
    """The change is no longer as the actor saw it (postponed, re-evaluated or decided since); ``row`` is how
    it is now."""

    def __init__(self, row: ProposalRow) -> None:
        super().__init__(
            f"not recorded: CHG-{row.id} was updated while you were editing or viewing it (it is now "
            f"{row.status.value}); look at its current message and decide there"
        )
        self.row = row


def _check_seen(row: ProposalRow, seen: Seen | None) -> None:
    """Superseded when an open change is no longer in the state ``seen`` (a closed one is refused as such)."""
    if seen is None or not row.status.is_open:
        return
    if row.round != seen.round or row.version != seen.version:
        raise Superseded(row)


def clean_ticket_url(value: str) -> str:
    """The ticket link, cleaned like other text; "" when none. Refused unless it is an https URL of at most
    TICKET_MAX characters with a host and nothing that could break out of a Slack link."""
    url = clean_text(value, field_name="ticket link", limit=TICKET_MAX, field="ticket")
    if url and not _TICKET_RE.match(url):
        shown = url if len(url) <= 60 else url[:59] + "…"
        raise InputError(f"the ticket link {shown!r} is not an https:// link to a web page", field="ticket")
    return url


def proposal_window(row: ProposalRow) -> Window:
    return Window(start=from_ts(row.start_ts), end=from_ts(row.end_ts))


def regions_digest(config: RegionsConfig) -> str:
    """SHA-256 of the regions configuration's content (canonical JSON of what was loaded), so an audit record
    says which regions file a decision was evaluated against."""
    return hashlib.sha256(canonical_json(config.model_dump(mode="json")).encode()).hexdigest()


def _no_name(_user: str) -> str | None:
    return None


def _snapshot(assessment: Assessment) -> tuple[Encoded, EvaluationSnapshot]:
    """The assessment's snapshot, encoded once for the proposal's row and its audit event, and typed for the
    event's payload: called before the write lock is taken, not while it is held (about a millisecond each with
    the shipped regions)."""
    snapshot = Encoded.of(assessment.document())
    return snapshot, EvaluationSnapshot.model_validate(snapshot.value)


def _window_doc(row: ProposalRow) -> WindowDoc:
    return WindowDoc(start=from_ts(row.start_ts).isoformat(), end=from_ts(row.end_ts).isoformat())


def _conflict_doc(row: ProposalRow, services: tuple[str, ...]) -> ConflictDoc:
    shared = tuple(s for s in services if s in row.services)
    return ConflictDoc(proposal_id=row.id, services=shared, window=_window_doc(row))


class Service:
    def __init__(
        self,
        *,
        store: Store,
        config: RegionsConfig,
        channel: str,
        approvers: Callable[[], frozenset[str]],
        clock: Callable[[], datetime] = utcnow,
        on_enqueue: Callable[[], None] | None = None,
        on_event: Callable[[str, int], None] | None = None,
        admins: Callable[[], frozenset[str]] = frozenset,
        display_name: Callable[[str], str | None] = _no_name,
        calendars: Calendars | None = None,
        oncall: Callable[[], frozenset[str]] = frozenset,
        emergency_approval: Literal["oncall", "none"] = "oncall",
    ) -> None:
        self.store = store
        self.config = config
        self._display_name = display_name
        self.regions_sha256 = regions_digest(config)
        self.channel = channel
        self._approvers = approvers
        self._oncall = oncall
        self.emergency_approval = emergency_approval
        self._admins = admins
        self._clock = clock
        self._on_enqueue = on_enqueue or (lambda: None)
        self._on_event = on_event or (lambda kind, proposal_id: None)
        self.calendars = calendars or Calendars(config)
        self.watchers: list[Callable[[], None]] = []
        """Called after anything a reader may see changed (App Home refreshes with it); must not block."""

    # -- reading ---------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock()

    def name_of(self, user: str) -> str | None:
        """The user's display name as Slack reports it now (None when unknown); never raises."""
        try:
            return self._display_name(user)
        except Exception:
            logger.warning("could not look up the display name of %s", user)
            return None

    def approvers(self) -> frozenset[str]:
        """The users who may approve (user groups resolved)."""
        return self._approvers()

    def approvers_of(
        self,
        row: ProposalRow,
        *,
        approvers: frozenset[str] | None = None,
        oncall: frozenset[str] | None = None,
    ) -> frozenset[str]:
        """Who may approve this change: for an emergency the on-call group (CHATOPS_ONCALL; the approvers when it
        is not set), else the approvers. (Pass both when already resolved: nothing is looked up in Slack then.)"""
        everyone = self._approvers() if approvers is None else approvers
        if row.emergency:
            return (self._oncall() if oncall is None else oncall) or everyone
        return everyone

    def check_services(self, names: tuple[str, ...]) -> None:
        """InputError unless the regions file lists every one of these services (naming those it lists)."""
        check_services(names, known=self.config.service_names)

    def conflicts(self, row: ProposalRow) -> list[ProposalRow]:
        """Other open changes whose windows overlap this one's on a service (none once it is closed or ended)."""
        if not row.services or row.status not in OPEN_STATUSES or row.end_ts <= to_ts(self.now()):
            return []
        return self.store.overlapping(
            start_ts=row.start_ts,
            end_ts=row.end_ts,
            services=row.services,
            statuses=OPEN_STATUSES,
            exclude=row.id,
        )

    def regions(self) -> tuple[Region, ...]:
        """The regions file's regions, with the sensitive periods admins declared from Slack added."""
        declared = self.store.sensitive_periods()
        if not declared:
            return self.config.regions
        extra: dict[str, list[SensitivePeriod]] = {}
        for period in declared:
            extra.setdefault(period.region_id, []).append(
                SensitivePeriod(start=period.start_date, end=period.end_date, reason=period.reason)
            )
        return tuple(
            r.model_copy(update={"sensitive_periods": (*r.sensitive_periods, *extra[r.id])})
            if r.id in extra
            else r
            for r in self.config.regions
        )

    def assess(self, window: Window, *, regions: tuple[Region, ...] | None = None) -> Assessment:
        """Evaluate a window and, if it is flagged, find the nearest better ones."""
        policy = self.config.policy
        regions = self.regions() if regions is None else regions
        # Holidays and freezes for the window and the horizon its suggestions may reach.
        reach = window.end + policy.horizon + window.duration
        regions = self.calendars.regions(regions, window.start, reach)
        freezes = self.calendars.freezes(window.start, reach)
        evaluation = with_freezes(evaluate(window, regions=regions), freezes)
        choices: list[Choice] = []
        if evaluation.flagged:
            choices = choose(
                window,
                regions=regions,
                team=self.calendars.team(self.config.team, window.start, reach),
                horizon=policy.horizon,
                count=policy.suggestions,
                freezes=freezes,
            )
        return Assessment(evaluation=evaluation, choices=tuple(choices))

    def warm_up(self, ahead: timedelta = timedelta(days=14)) -> None:
        """Evaluate the time from now to ``ahead`` past the suggestion horizon once, so that what a first
        evaluation builds and keeps (each zone's table of offset changes, each region's week of peak hours, the
        holidays) is built before the first proposal comes: about 45 ms of CPU with the shipped regions, where a
        first proposal paid about 27 ms more than the next."""
        now = self.now().replace(microsecond=0)
        window = Window.of(now, ahead + self.config.policy.horizon)
        evaluate(window, regions=self.calendars.regions(self.regions(), window.start, window.end))

    def check(self, start: datetime, duration: timedelta) -> Assessment:
        """``/maintenance check``: validate the window's length (past windows allowed) and assess it."""
        window = Window.of(start, duration)
        check_window(window, policy=self.config.policy)
        return self.assess(window)

    def upcoming(self) -> list[ProposalSummary]:
        """Pending and approved windows that have not ended yet, soonest first."""
        return self.store.list_summaries(statuses=OPEN_STATUSES, end_after=to_ts(self.now()), limit=50)

    def upcoming_count(self) -> int:
        """How many pending and approved windows have not ended yet (``upcoming`` shows the first 50)."""
        return self.store.count_proposals(statuses=OPEN_STATUSES, end_after=to_ts(self.now()))

    def upcoming_page(self) -> tuple[list[ProposalSummary], int]:
        """``upcoming()`` and ``upcoming_count()`` at one moment, read in one transaction (``/maintenance list``)."""
        at = to_ts(self.now())
        with self.store.reading():
            shown = self.store.list_summaries(statuses=OPEN_STATUSES, end_after=at, limit=50)
            return shown, self.store.count_proposals(statuses=OPEN_STATUSES, end_after=at)

    # -- changing --------------------------------------------------------------------------------------------

    def propose(self, request: ProposalRequest) -> Outcome:
        """Record a new pending proposal; the same ``idempotency_key`` twice returns the first one."""
        with self.store.reading():  # the key's proposal and the declared periods in one read transaction
            if request.idempotency_key:
                existing = self.store.proposal_by_key(request.idempotency_key)
                if existing is not None:
                    return self._existing(existing)
            regions = self.regions()
        title = clean_text(request.title, field_name="title", limit=TITLE_MAX, required=True, field="title")
        description = clean_text(
            request.description, field_name="description", limit=TEXT_MAX, field="description"
        )
        rollback = clean_text(
            request.rollback_plan, field_name="rollback plan", limit=TEXT_MAX, field="rollback"
        )
        ticket = clean_ticket_url(request.ticket_url)
        check_services(request.services, known=self.config.service_names)
        now = self.now()
        window = Window.of(request.start, request.duration)
        check_window(window, policy=self.config.policy, at=now)
        return self._create(
            idempotency_key=request.idempotency_key,
            proposer=request.proposer,
            title=title,
            description=description,
            rollback_plan=rollback,
            ticket_url=ticket,
            window=window,
            input_tz=request.input_tz,
            services=request.services,
            now=now,
            regions=regions,
        )

    def emergency(self, request: EmergencyRequest) -> Outcome:
        """Record an emergency change that starts now: approved by one on-call approver (or by nobody, when the
        setting says so), loudly marked, its flagged regions shown, and a follow-up review left open."""
        if request.idempotency_key:
            existing = self.store.proposal_by_key(request.idempotency_key)
            if existing is not None:
                return self._existing(existing)
        title = clean_text(request.title, field_name="title", limit=TITLE_MAX, required=True)
        reason = clean_text(request.reason, field_name="reason", limit=REASON_MAX, required=True)
        incident = clean_ticket_url(request.incident_url)
        if not incident:
            raise InputError("an emergency needs the link to its incident (an https:// link)")
        check_services(request.services, known=self.config.service_names)
        now = self.now().replace(microsecond=0)
        window = Window.of(now, request.duration)
        check_window(window, policy=self.config.policy)
        return self._create(
            idempotency_key=request.idempotency_key,
            proposer=request.proposer,
            title=title,
            description=reason,
            rollback_plan="",
            ticket_url="",
            window=window,
            input_tz=request.input_tz,
            services=request.services,
            now=now,
            emergency=EmergencyDoc(incident_url=incident, reason=reason, approval=self.emergency_approval),
        )

    def _create(
        self,
        *,
        idempotency_key: str | None,
        proposer: str,
        title: str,
        description: str,
        rollback_plan: str,
        ticket_url: str,
        window: Window,
        input_tz: str,
        services: tuple[str, ...],
        now: datetime,
        emergency: EmergencyDoc | None = None,
        regions: tuple[Region, ...] | None = None,
    ) -> Outcome:
        assessment = self.assess(window, regions=regions)
        at = to_ts(now)
        snapshot, typed_snapshot = _snapshot(assessment)
        local = ZoneInfo(input_tz)
        actor_name = self.name_of(proposer)
        policy = self.config.policy
        try:
            with self.store.transaction() as tx:
                others = tx.overlapping(
                    start_ts=to_ts(window.start),
                    end_ts=to_ts(window.end),
                    services=services,
                    statuses=OPEN_STATUSES,
                )
                if emergency is not None:
                    required = 0 if emergency.approval == "none" else 1
                else:
                    required = policy.approvals_for(flagged=assessment.flagged, conflicting=bool(others))
                status = Status.APPROVED if required == 0 else Status.PENDING
                payload = Proposed(
                    window=WindowDoc.model_validate(snapshot.value["window"]),
                    input_tz=input_tz,
                    evaluation=typed_snapshot,
                    title=title,
                    description=description,
                    rollback_plan=rollback_plan,
                    ticket_url=ticket_url,
                    channel=self.channel,
                    window_local=WindowDoc(
                        start=window.start.astimezone(local).isoformat(),
                        end=window.end.astimezone(local).isoformat(),
                    ),
                    approvals_required=required,
                    regions_sha256=self.regions_sha256,
                    app_version=__version__,
                    services=services or None,
                    conflicts=tuple(_conflict_doc(o, services) for o in others) or None,
                    emergency=emergency,
                    status_after=status if status is not Status.PENDING else None,
                )
                row = tx.insert_proposal(
                    NewProposal(
                        idempotency_key=idempotency_key,
                        title=title,
                        description=description,
                        rollback_plan=rollback_plan,
                        ticket_url=ticket_url,
                        proposer=proposer,
                        channel=self.channel,
                        input_tz=input_tz,
                        start_ts=to_ts(window.start),
                        end_ts=to_ts(window.end),
                        flagged=assessment.flagged,
                        approvals_required=required,
                        evaluation_json=snapshot.text,
                        created_at=at,
                        services=services,
                        emergency=emergency is not None,
                        incident_url=emergency.incident_url if emergency else "",
                        status=status,
                    )
                )
                event = tx.append_event(
                    row.id, payload, actor=proposer, actor_name=actor_name, at=at, evaluation=snapshot
                )
                tx.enqueue(row.id, kind=OutboxKind.POST_PARENT, at=at)
                tx.enqueue(row.id, kind=OutboxKind.REPLY, event_id=event.id, at=at)
                if status is Status.APPROVED:  # an emergency with no approver to wait for: its end reminder
                    _sync_reminders(tx, row.id, at=at)
                self._tell_others(tx, row, others, actor=proposer, actor_name=actor_name, at=at)
        except DuplicateKey:
            assert idempotency_key is not None
            existing = self.store.proposal_by_key(idempotency_key)
            if existing is None:  # pragma: no cover - the key was just seen
                raise
            return self._existing(existing)
        self._committed("emergency" if emergency else "proposed", row.id)
        return Outcome(proposal=row, created=True, assessment=assessment)

    def _tell_others(
        self,
        tx: Tx,
        row: ProposalRow,
        others: list[ProposalRow],
        *,
        actor: str,
        actor_name: str | None,
        at: int,
    ) -> None:
        """``row`` (new or moved) now overlaps each of ``others`` on a service: record it in each one's chain and
        thread; with ``conflict_extra_approvals`` it needs more approvals (an approved one, re-approval)."""
        for found in others:
            other = tx.lock_proposal(found.id)
            if other is None or other.status not in OPEN_STATUSES:
                continue
            approvals = tx.approvers(other.id, round=other.round)
            if other.emergency:
                required = other.approvals_required
            else:
                required = max(
                    other.approvals_required,
                    self.config.policy.approvals_for(flagged=other.flagged, conflicting=True),
                )
            status = other.status
            if status is Status.APPROVED and len(approvals) < required:
                status = Status.NEEDS_REAPPROVAL
            event = tx.append_event(
                other.id,
                ConflictFound(
                    conflict=_conflict_doc(row, other.services),
                    window=_window_doc(other),
                    approvals=len(approvals),
                    approvals_required_after=required,
                    status_before=other.status,
                    status_after=status,
                    owners=self.config.owners_of(tuple(s for s in other.services if s in row.services)),
                ),
                actor=actor,
                actor_name=actor_name,
                at=at,
            )
            if required != other.approvals_required or status is not other.status:
                tx.update_proposal(other.id, at=at, approvals_required=required, status=status)
            _announce(tx, event)
            if status is Status.NEEDS_REAPPROVAL:
                note = f"it now overlaps CHG-{row.id} on a service and needs {required} approvals"
                tx.enqueue(other.id, kind=OutboxKind.NOTIFY, payload={"why": note}, at=at)

    def _existing(self, row: ProposalRow) -> Outcome:
        return Outcome(
            proposal=row, approvals=tuple(self.store.approvers(row.id, round=row.round)), created=False
        )

    def approve(
        self,
        proposal_id: int,
        *,
        actor: str,
        justification: str = "",
        expected_round: int | None = None,
        clear_only: bool = False,
        seen: Seen | None = None,
    ) -> Outcome:
        """Record an approval. ``justification`` (why a flagged window is approved anyway) is kept with the
        approval's audit event. ``expected_round``: the window the approver saw (refused if it was postponed
        since); ``clear_only``: refuse a flagged window with :class:`NeedsJustification`, once the actor is known
        to be allowed to approve it (a one-tap approval must not approve a window that became flagged after the
        approver looked; a click on a flagged window's Approve opens the justification form); ``seen``: the
        round and version the approver's message or form showed (Superseded if the change has moved on since)."""
        justification = clean_text(
            justification, field_name="justification", limit=REASON_MAX, single_line=True
        )
        at = to_ts(self.now())
        actor_name = self.name_of(actor)
        everyone, oncall = self._approvers(), self._oncall()  # resolved before the transaction
        with self.store.transaction() as tx:
            row = self._lock(tx, proposal_id)
            approvers = self.approvers_of(row, approvers=everyone, oncall=oncall)
            if expected_round is not None and row.round != expected_round:
                raise ConflictError("this change was moved to another window since; look at it again")
            _check_seen(row, seen)
            approvals = tx.approvers(row.id, round=row.round)
            decision = may_act(
                Action.APPROVE,
                actor=actor,
                proposer=row.proposer,
                approvers=approvers,
                status=row.status,
                already_approved=actor in approvals,
                ended=row.end_ts <= at,
            )
            if not decision.allowed:
                raise NotAllowedError(decision.reason)
            if clear_only and row.flagged:
                raise NeedsJustification(row)
            tx.add_approval(row.id, round=row.round, approver=actor, at=at)
            approvals = tx.approvers(row.id, round=row.round)
            complete = len(approvals) >= row.approvals_required
            event = tx.append_event(
                row.id,
                Approved(
                    round=row.round,
                    approvals=len(approvals),
                    required=row.approvals_required,
                    flagged=row.flagged,
                    window=_window_doc(row),
                    flagged_regions=row.flagged_region_ids,
                    status_after=Status.APPROVED if complete else row.status,
                    justification=justification or None,
                ),
                actor=actor,
                actor_name=actor_name,
                at=at,
            )
            if complete:
                row = tx.update_proposal(row.id, at=at, status=Status.APPROVED)
            _announce(tx, event)
            if complete:
                _sync_reminders(tx, row.id, at=at)
        self._committed("approved", row.id)
        return Outcome(proposal=row, approvals=tuple(approvals), created=False)

    def reject(
        self, proposal_id: int, *, actor: str, reason: str, expected_version: int | None = None
    ) -> Outcome:
        reason = clean_text(reason, field_name="reason", limit=REASON_MAX, required=True, single_line=True)
        return self._close(
            proposal_id,
            actor=actor,
            action=Action.REJECT,
            status=Status.REJECTED,
            reason=reason,
            expected_version=expected_version,
        )

    def cancel(
        self, proposal_id: int, *, actor: str, reason: str = "", expected_version: int | None = None
    ) -> Outcome:
        reason = clean_text(reason, field_name="reason", limit=REASON_MAX, single_line=True)
        return self._close(
            proposal_id,
            actor=actor,
            action=Action.CANCEL,
            status=Status.CANCELLED,
            reason=reason,
            expected_version=expected_version,
        )

    def has_approved(self, proposal_id: int, *, actor: str) -> bool:
        """Whether ``actor``'s approval of the proposal's current round is stored (a retried click)."""
        with self.store.reading():
            row = self.store.get_proposal(proposal_id)
            return row is not None and actor in self.store.approvers(row.id, round=row.round)

    def check_may(
        self, proposal_id: int, *, actor: str, action: Action, seen: Seen | None = None
    ) -> ProposalRow:
        """Raise NotAllowedError unless ``actor`` may take ``action`` now (used before opening a modal); with
        ``seen``, Superseded unless the change is still as the actor saw it."""
        with self.store.reading():
            row = self.store.get_proposal(proposal_id)
            if row is None:
                raise NotFoundError(f"there is no change #{proposal_id}; it may have been removed")
            _check_seen(row, seen)
            approvals = self.store.approvers(row.id, round=row.round)
        decision = may_act(
            action,
            actor=actor,
            proposer=row.proposer,
            approvers=self.approvers_of(row),
            status=row.status,
            already_approved=actor in approvals,
            ended=row.end_ts <= to_ts(self.now()),
        )
        if not decision.allowed:
            raise NotAllowedError(decision.reason)
        return row

    def check_after(self, proposal_id: int, *, actor: str, action: Action) -> ProposalRow:
        """Raise NotAllowedError unless ``actor`` may mark the change done or extend it now."""
        row = self.store.get_proposal(proposal_id)
        if row is None:
            raise NotFoundError(f"there is no change #{proposal_id}; it may have been removed")
        decision = may_act(
            action, actor=actor, proposer=row.proposer, approvers=self._approvers(), status=row.status
        )
        if not decision.allowed:
            raise NotAllowedError(decision.reason)
        return row

    def postpone_options(self, row: ProposalRow) -> list[Window]:
        """Suggested new windows for a change: the nearest unflagged ones from its start, or from now if that
        has passed."""
        window = proposal_window(row)
        now = self.now()
        if window.start < now:
            window = Window.of(now, window.duration)
        return list(self.assess(window).suggestions)

    def _close(
        self,
        proposal_id: int,
        *,
        actor: str,
        action: Action,
        status: Status,
        reason: str,
        expected_version: int | None,
    ) -> Outcome:
        approvers = self._approvers()
        at = to_ts(self.now())
        actor_name = self.name_of(actor)
        with self.store.transaction() as tx:
            row = self._lock(tx, proposal_id)
            decision = may_act(
                action,
                actor=actor,
                proposer=row.proposer,
                approvers=approvers,
                status=row.status,
                ended=row.end_ts <= at,
            )
            if not decision.allowed:
                raise NotAllowedError(decision.reason)
            if expected_version is not None and row.version != expected_version:
                raise Superseded(row)
            approvals = tx.approvers(row.id, round=row.round)
            closing = Rejected if status is Status.REJECTED else Cancelled
            event = tx.append_event(
                row.id,
                closing(round=row.round, approvals=len(approvals), window=_window_doc(row)),
                actor=actor,
                actor_name=actor_name,
                at=at,
                reason=reason,
            )
            was = row.status
            others = tx.overlapping(
                start_ts=row.start_ts,
                end_ts=row.end_ts,
                services=row.services,
                statuses=OPEN_STATUSES,
                exclude=row.id,
            )
            row = tx.update_proposal(row.id, at=at, status=status)
            _announce(tx, event)
            for other in others:  # their parents stop showing this change as a conflict
                tx.enqueue(other.id, kind=OutboxKind.UPDATE_PARENT, at=at)
            if was is Status.APPROVED:
                _sync_reminders(tx, row.id, at=at)
        self._committed(status.value, row.id)
        return Outcome(proposal=row, approvals=tuple(approvals), created=False)

    def postpone(
        self,
        proposal_id: int,
        *,
        actor: str,
        start: datetime,
        duration: timedelta,
        reason: str,
        expected_version: int | None = None,
    ) -> Outcome:
        """Move a pending proposal to a new window: re-evaluate it and start counting approvals again."""
        reason = clean_text(reason, field_name="reason", limit=REASON_MAX, required=True, single_line=True)
        now = self.now()
        window = Window.of(start, duration)
        check_window(window, policy=self.config.policy, at=now)
        assessment = self.assess(window)
        snapshot, typed_snapshot = _snapshot(assessment)
        approvers, oncall = self._approvers(), self._oncall()
        at = to_ts(now)
        actor_name = self.name_of(actor)
        with self.store.transaction() as tx:
            row = self._lock(tx, proposal_id)
            decision = may_act(
                Action.POSTPONE,
                actor=actor,
                proposer=row.proposer,
                approvers=approvers | self.approvers_of(row, approvers=approvers, oncall=oncall),
                status=row.status,
            )
            if not decision.allowed:
                raise NotAllowedError(decision.reason)
            if expected_version is not None and row.version != expected_version:
                raise Superseded(row)
            if to_ts(window.start) == row.start_ts and to_ts(window.end) == row.end_ts:
                raise InputError("that is the window the change already has; pick another start or duration")
            dropped = tx.approvers(row.id, round=row.round)
            dropped_status = row.status
            others = tx.overlapping(
                start_ts=to_ts(window.start),
                end_ts=to_ts(window.end),
                services=row.services,
                statuses=OPEN_STATUSES,
                exclude=row.id,
            )
            if row.emergency:
                required = row.approvals_required
            else:
                required = self.config.policy.approvals_for(
                    flagged=assessment.flagged, conflicting=bool(others)
                )
            # Those that already overlapped the old window on a shared service were told then.
            new_others = [
                o
                for o in others
                if not (
                    overlaps(o.start_ts, o.end_ts, row.start_ts, row.end_ts)
                    and set(o.services) & set(row.services)
                )
            ]
            event = tx.append_event(
                row.id,
                Postponed.model_validate(
                    {
                        "from": _window_doc(row),
                        "to": WindowDoc.model_validate(snapshot.value["window"]),
                        "approvals_reset": len(dropped),
                        "round": row.round + 1,
                        "required": required,
                        "evaluation": typed_snapshot,
                        "regions_sha256": self.regions_sha256,
                        "conflicts": tuple(_conflict_doc(o, row.services) for o in others) or None,
                    }
                ),
                actor=actor,
                actor_name=actor_name,
                at=at,
                reason=reason,
                evaluation=snapshot,
            )
            row = tx.update_proposal(
                row.id,
                at=at,
                start_ts=to_ts(window.start),
                end_ts=to_ts(window.end),
                flagged=assessment.flagged,
                approvals_required=required,
                status=Status.PENDING,
                round=row.round + 1,
                evaluation=snapshot,
            )
            _announce(tx, event)
            if dropped_status is Status.APPROVED:
                _sync_reminders(tx, row.id, at=at)
            tx.enqueue(row.id, kind=OutboxKind.NOTIFY, payload={"why": "postponed to a new window"}, at=at)
            self._tell_others(tx, row, new_others, actor=actor, actor_name=actor_name, at=at)
        self._committed("postponed", row.id)
        return Outcome(proposal=row, approvals=(), created=False, assessment=assessment)

    # -- after approval ----------------------------------------------------------------------------------------

    def complete(self, proposal_id: int, *, actor: str) -> Outcome:
        """Done: the proposer (or an approver) says the work is finished; its reminders still to come go."""
        approvers = self._approvers()
        at = to_ts(self.now())
        actor_name = self.name_of(actor)
        with self.store.transaction() as tx:
            row = self._lock(tx, proposal_id)
            decision = may_act(
                Action.DONE, actor=actor, proposer=row.proposer, approvers=approvers, status=row.status
            )
            if not decision.allowed:
                raise NotAllowedError(decision.reason)
            approvals = tx.approvers(row.id, round=row.round)
            event = tx.append_event(
                row.id,
                Completed(round=row.round, window=_window_doc(row)),
                actor=actor,
                actor_name=actor_name,
                at=at,
            )
            row = tx.update_proposal(row.id, at=at, status=Status.DONE)
            _announce(tx, event)
            _sync_reminders(tx, row.id, at=at)
        self._committed("completed", row.id)
        return Outcome(proposal=row, approvals=tuple(approvals), created=False)

    def extend(
        self,
        proposal_id: int,
        *,
        actor: str,
        extra: timedelta,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Outcome:
        """Extend: make an approved window longer by ``extra``. The extra time is evaluated as a window of its
        own: clear, the change stays approved at once; flagged, it needs approval again (a new round)."""
        reason = clean_text(reason, field_name="reason", limit=REASON_MAX)
        if extra <= timedelta(0):
            raise InputError("the extra time must be longer than zero")
        approvers = self._approvers()
        now = self.now()
        at = to_ts(now)
        actor_name = self.name_of(actor)
        current = self.store.get_proposal(proposal_id)
        if current is None:
            raise NotFoundError(f"there is no change #{proposal_id}; it may have been removed")
        old = proposal_window(current)
        extra_window = Window(start=old.end, end=old.end + extra)
        whole = Window(start=old.start, end=extra_window.end)
        check_window(whole, policy=self.config.policy)
        if whole.end <= now:
            raise InputError("the extended window would still have ended; postpone the change instead")
        extra_assessment = self.assess(extra_window)
        assessment = self.assess(whole)
        snapshot, typed_snapshot = _snapshot(assessment)
        with self.store.transaction() as tx:
            row = self._lock(tx, proposal_id)
            decision = may_act(
                Action.EXTEND, actor=actor, proposer=row.proposer, approvers=approvers, status=row.status
            )
            if not decision.allowed:
                raise NotAllowedError(decision.reason)
            if (expected_version is not None and row.version != expected_version) or row.end_ts != to_ts(
                old.end
            ):
                raise ConflictError("this change was updated while you were deciding; look at it again")
            if extra_assessment.flagged:
                required = self.config.policy.approvals_for(flagged=True)
                new_round, status = row.round + 1, Status.NEEDS_REAPPROVAL
            else:
                required, new_round, status = row.approvals_required, row.round, Status.APPROVED
            event = tx.append_event(
                row.id,
                Extended.model_validate(
                    {
                        "from": _window_doc(row),
                        "to": WindowDoc(start=whole.start.isoformat(), end=whole.end.isoformat()),
                        "extra_flagged": extra_assessment.flagged,
                        "extra_flagged_regions": tuple(
                            r.id for r in extra_assessment.evaluation.regions if r.flagged
                        ),
                        "round": new_round,
                        "required": required,
                        "status_after": status,
                        "evaluation": typed_snapshot,
                    }
                ),
                actor=actor,
                actor_name=actor_name,
                at=at,
                reason=reason,
                evaluation=snapshot,
            )
            row = tx.update_proposal(
                row.id,
                at=at,
                end_ts=to_ts(whole.end),
                flagged=assessment.flagged,
                approvals_required=required,
                round=new_round,
                status=status,
                evaluation=snapshot,
            )
            _announce(tx, event)
            _sync_reminders(tx, row.id, at=at)
            if status.is_open:
                tx.enqueue(
                    row.id, kind=OutboxKind.NOTIFY, payload={"why": "extended into a flagged time"}, at=at
                )
        self._committed("extended", row.id)
        return Outcome(proposal=row, approvals=(), created=False, assessment=extra_assessment)

    def sweep(self) -> SweepResult:
        """What time alone changes, run every minute or so (the delivery worker does): approvals about to be
        too old are announced, then expire; reminders that came within Slack's 120 days are scheduled; the
        parent message is refreshed at each reminder's moment (its "opens in…" line)."""
        at = to_ts(self.now())
        policy = self.config.policy
        warned: list[int] = []
        gone: list[int] = []
        approved_rows: list[ProposalSummary] = []
        approvals: dict[int, list[tuple[str, int]]] = {}
        if policy.approval_max_age_days > 0:  # 0 turns expiry off: no approved change need be read
            # Summaries (a snapshot is about 90 KB with the shipped regions: 200 approved changes cost 57 ms of
            # CPU a minute with them, 7 without) and their approvals, in one read transaction; each change is
            # locked and checked again before anything is written.
            with self.store.reading():
                approved_rows = self.store.list_summaries(
                    statuses=(Status.APPROVED,), end_after=at, limit=500
                )
                for row in approved_rows:
                    if row.start_ts > at:
                        approvals[row.id] = self.store.approvals_at(row.id, round=row.round)
        for row in approved_rows:
            if row.id not in approvals:
                continue
            approved = approvals[row.id]
            expires = approvals_expire_at(
                [when for _, when in approved],
                start_ts=row.start_ts,
                max_age_days=policy.approval_max_age_days,
            )
            if expires is None:
                continue
            if expires <= at:
                if self._expire(row, approved, at=at):
                    gone.append(row.id)
            elif expires - at <= policy.approval_expiry_notice_hours * 3600 and self._warn_expiry(
                row, approved, expires=expires, at=at
            ):
                warned.append(row.id)
        scheduled: list[int] = []
        refreshed: list[int] = []
        for reminder in self.store.reminders():
            # A waiting reminder that can be scheduled now (it came within Slack's range, or Slack refused it as
            # one too many in its five minutes); one whose moment passed while it waited is not sent late, so a
            # sync would do nothing for it. One sync per change: none while one is still to be delivered (it
            # reads the reminders when it runs; one failing while Slack is down is retried by the outbox).
            pid = reminder.proposal_id
            if (
                reminder.scheduled_message_id is None
                and placement(reminder.post_at, at=at) is Placement.NOW
                and pid not in scheduled
                and not self.store.has_undelivered(pid, kind=OutboxKind.SYNC_REMINDERS)
            ):
                with self.store.transaction() as tx:
                    _sync_reminders(tx, pid, at=at)
                scheduled.append(pid)
            if reminder.post_at <= at and reminder.refreshed_at is None:
                with self.store.transaction() as tx:
                    tx.enqueue(reminder.proposal_id, kind=OutboxKind.UPDATE_PARENT, at=at)
                self.store.mark_reminder_refreshed(reminder.id, at=at)
                refreshed.append(reminder.proposal_id)
            elif reminder.refreshed_at is not None and reminder.refreshed_at < at - 86_400:
                self.store.drop_reminder(reminder.id)  # posted and shown a day ago: nothing left to do
        if warned or gone or scheduled or refreshed:
            self._on_enqueue()
        if gone:
            self._tell_watchers()
        return SweepResult(
            warned=tuple(warned),
            expired=tuple(gone),
            scheduled=tuple(scheduled),  # one entry per change already
            refreshed=tuple(dict.fromkeys(refreshed)),
        )

    def _warn_expiry(
        self, row: ProposalSummary, approved: list[tuple[str, int]], *, expires: int, at: int
    ) -> bool:
        policy = self.config.policy
        with self.store.transaction() as tx:
            current = tx.lock_proposal(row.id)
            if current is None or current.version != row.version:
                return False
            already = any(
                e.kind == "approvals_expiring" and e.data.get("round") == row.round
                for e in self.store.events(row.id)
            )
            if already:
                return False
            limit = int(policy.approval_max_age_days * 86_400)
            event = tx.append_event(
                row.id,
                ApprovalsExpiring(
                    round=row.round,
                    expires=from_ts(expires).isoformat(),
                    approvers=tuple(who for who, when in approved if when + limit <= row.start_ts),
                    max_age_days=policy.approval_max_age_days,
                ),
                actor="chatops",
                at=at,
            )
            tx.enqueue(row.id, kind=OutboxKind.REPLY, event_id=event.id, at=at)
        return True

    def _expire(self, row: ProposalSummary, approved: list[tuple[str, int]], *, at: int) -> bool:
        policy = self.config.policy
        old = expired(approved, at=at, max_age_days=policy.approval_max_age_days)
        kept = [(who, when) for who, when in approved if who not in old]
        with self.store.transaction() as tx:
            current = tx.lock_proposal(row.id)
            if current is None or current.version != row.version or current.status is not Status.APPROVED:
                return False
            new_round = row.round + 1
            status = Status.APPROVED if len(kept) >= row.approvals_required else Status.NEEDS_REAPPROVAL
            for who, when in kept:
                tx.add_approval(row.id, round=new_round, approver=who, at=when)
            event = tx.append_event(
                row.id,
                ApprovalsExpired(
                    round=new_round,
                    expired=old,
                    kept=tuple(who for who, _ in kept),
                    required=row.approvals_required,
                    status_after=status,
                    max_age_days=policy.approval_max_age_days,
                ),
                actor="chatops",
                at=at,
            )
            tx.update_proposal(row.id, at=at, round=new_round, status=status)
            _announce(tx, event)
            if status is not Status.APPROVED:
                _sync_reminders(tx, row.id, at=at)
                tx.enqueue(row.id, kind=OutboxKind.NOTIFY, payload={"why": "its approvals expired"}, at=at)
        return True

    def mark_reviewed(self, proposal_id: int, *, actor: str) -> Outcome:
        """Close an emergency's follow-up review: an approver (not its proposer) says it was looked at."""
        at = to_ts(self.now())
        actor_name = self.name_of(actor)
        everyone, oncall = self._approvers(), self._oncall()  # resolved before the transaction
        with self.store.transaction() as tx:
            row = self._lock(tx, proposal_id)
            if not row.emergency:
                raise InputError(f"CHG-{row.id} is not an emergency; it has no follow-up review")
            if row.reviewed_by is not None:
                raise ConflictError(
                    f"the follow-up review of CHG-{row.id} was already marked done by <@{row.reviewed_by}>"
                )
            if actor == row.proposer:
                raise NotAllowedError("you declared this emergency, so someone else must review it")
            if actor not in everyone | self.approvers_of(row, approvers=everyone, oncall=oncall):
                raise NotAllowedError("only approvers can mark an emergency reviewed")
            event = tx.append_event(
                row.id, Reviewed(window=_window_doc(row)), actor=actor, actor_name=actor_name, at=at
            )
            row = tx.update_proposal(row.id, at=at, reviewed_by=actor, reviewed_at=at)
            _announce(tx, event)
        self._committed("reviewed", row.id)
        return Outcome(proposal=row, approvals=(), created=False)

    def _committed(self, kind: str, proposal_id: int) -> None:
        """After a commit: wake the delivery worker, then tell the ``on_event`` hook (metrics, logs)."""
        self._on_enqueue()
        try:
            self._on_event(kind, proposal_id)
        except Exception:  # the change is committed: a failing observer must not make it look failed
            logger.exception("the on_event hook failed for %s of proposal %s", kind, proposal_id)
        self._tell_watchers()

    def _tell_watchers(self) -> None:
        for watcher in self.watchers:
            try:
                watcher()
            except Exception:
                logger.exception("a change watcher failed")

    # -- declared sensitivity (admins) ----------------------------------------------------------------------

    def sensitivity_overview(self) -> tuple[list[SensitiveRow], list[tuple[str, str, str, str]]]:
        """Current and coming sensitive periods: declared ones, and the regions file's as
        ``(region name, start, end, reason)``; "always" for regions that are always sensitive."""
        today = self.now().date() - timedelta(days=1)
        declared = self.store.sensitive_periods(ending_on_or_after=today)
        configured: list[tuple[str, str, str, str]] = []
        for region in self.config.regions:
            if region.sensitive:
                configured.append((region.name, "always", "", region.sensitive_reason or "always sensitive"))
            configured.extend(
                (region.name, p.start.isoformat(), p.end.isoformat(), p.reason)
                for p in region.sensitive_periods
                if p.end >= today
            )
        return declared, configured

    def declare_sensitive(
        self, *, actor: str, region_id: str, start: date, end: date, reason: str
    ) -> SensitiveRow:
        """An admin marks a region sensitive for some local dates; open proposals are evaluated again."""
        self._require_admin(actor)
        known = {r.id: r for r in self.config.regions}
        if region_id not in known:
            some = ", ".join(sorted(known)[:12])
            raise InputError(f"there is no region {region_id!r}; regions include {some}")
        if end < start:
            raise InputError(f"the period ends ({end}) before it starts ({start})")
        if (end - start).days > 366:
            raise InputError("a sensitive period can last a year at the most; declare another one after it")
        if end < self.now().date() - timedelta(days=1):
            raise InputError(f"that period ended on {end}; declare periods that are current or to come")
        reason = clean_text(reason, field_name="reason", limit=300, required=True)
        actor_name = self.name_of(actor)
        row = self.store.declare_sensitive(
            region_id=region_id,
            start_date=start,
            end_date=end,
            reason=reason,
            actor=actor,
            actor_name=actor_name,
            region_name=known[region_id].name,
            at=to_ts(self.now()),
        )
        period = PeriodDoc(
            period_id=row.id,
            region_id=region_id,
            region_name=known[region_id].name,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            reason=reason,
            declared_by=actor,
            declared_by_name=actor_name,
        )
        self.reevaluate_open(
            actor=actor,
            why=f"{known[region_id].name} declared sensitive: {reason}",
            period=period,
            change="declared",
        )
        self._tell_watchers()
        return row

    def lift_sensitive(self, period_id: int, *, actor: str) -> SensitiveRow:
        self._require_admin(actor)
        actor_name = self.name_of(actor)
        row = self.store.lift_sensitive(period_id, actor=actor, actor_name=actor_name, at=to_ts(self.now()))
        if row is None:
            raise NotFoundError(f"there is no declared sensitive period #{period_id} in force")
        region = {r.id: r for r in self.config.regions}.get(row.region_id)
        period = PeriodDoc(
            period_id=row.id,
            region_id=row.region_id,
            region_name=region.name if region else None,
            start_date=row.start_date.isoformat(),
            end_date=row.end_date.isoformat(),
            reason=row.reason,
            declared_by=row.declared_by,
        )
        self.reevaluate_open(
            actor=actor,
            why=f"sensitive period #{period_id} lifted ({row.reason})",
            period=period,
            change="lifted",
        )
        self._tell_watchers()
        return row

    def _require_admin(self, actor: str) -> None:
        if actor not in self._admins():
            raise NotAllowedError(
                "only chatops admins (CHATOPS_ADMINS) can declare or lift sensitive periods"
            )

    def reevaluate_open(
        self,
        *,
        actor: str,
        why: str,
        period: PeriodDoc | None = None,
        change: Literal["declared", "lifted"] | None = None,
    ) -> list[int]:
        """Evaluate open and upcoming approved changes again; record each whose set of flagged regions changed.

        An approved change that now needs more approvals than it has goes back to *needs re-approval* (its
        approvals so far still count); an open change that now has enough becomes approved. A re-evaluation
        that changes no change's flagged regions records nothing and says nothing.
        """
        regions = self.regions()
        changed: list[int] = []
        at = to_ts(self.now())
        actor_name = self.name_of(actor)
        for row in self.store.list_proposals(statuses=OPEN_STATUSES, end_after=at, limit=500):
            assessment = self.assess(proposal_window(row), regions=regions)
            before = row.flagged_region_ids
            after = tuple(r.id for r in assessment.evaluation.regions if r.flagged)
            if assessment.flagged == row.flagged and set(before) == set(after):
                continue
            snapshot, typed_snapshot = _snapshot(assessment)
            with self.store.transaction() as tx:
                current = tx.lock_proposal(row.id)
                if current is None or current.version != row.version:
                    continue  # it changed meanwhile; its own transition evaluated it afresh
                conflicting = bool(
                    tx.overlapping(
                        start_ts=current.start_ts,
                        end_ts=current.end_ts,
                        services=current.services,
                        statuses=OPEN_STATUSES,
                        exclude=current.id,
                    )
                )
                required = (
                    current.approvals_required
                    if current.emergency
                    else self.config.policy.approvals_for(flagged=assessment.flagged, conflicting=conflicting)
                )
                approvals = tx.approvers(row.id, round=row.round)
                status = current.status
                if len(approvals) >= required and status.is_open:
                    status = Status.APPROVED
                elif len(approvals) < required and status is Status.APPROVED:
                    status = Status.NEEDS_REAPPROVAL
                event = tx.append_event(
                    row.id,
                    SensitivityChanged(
                        flagged=assessment.flagged,
                        required=required,
                        approvals=len(approvals),
                        status_before=current.status,
                        status_after=status,
                        approvals_required_after=required,
                        flagged_before=before,
                        flagged_after=after,
                        evaluation=typed_snapshot,
                        period=period,
                        change=change,
                    ),
                    actor=actor,
                    actor_name=actor_name,
                    at=at,
                    reason=why,
                    evaluation=snapshot,
                )
                tx.update_proposal(
                    row.id,
                    at=at,
                    flagged=assessment.flagged,
                    approvals_required=required,
                    evaluation=snapshot,
                    status=status,
                )
                _announce(tx, event)
                if (current.status is Status.APPROVED) != (status is Status.APPROVED):
                    _sync_reminders(tx, row.id, at=at)
                if status.is_open and assessment.flagged:
                    note = f"now flagged, it needs {required} approvals"
                    tx.enqueue(row.id, kind=OutboxKind.NOTIFY, payload={"why": note}, at=at)
            changed.append(row.id)
        if changed:
            self._on_enqueue()
        return changed

    @staticmethod
    def _lock(tx: Tx, proposal_id: int) -> ProposalRow:
        row = tx.lock_proposal(proposal_id)
        if row is None:
            raise NotFoundError(f"there is no change #{proposal_id}; it may have been removed")
        return row


def _announce(tx: Tx, event: EventRow) -> None:
    """Queue the event's thread reply (naming the event), then the parent message's update to the proposal's
    new state."""
    assert event.proposal_id is not None
    tx.enqueue(event.proposal_id, kind=OutboxKind.REPLY, event_id=event.id, at=event.at)
    tx.enqueue(event.proposal_id, kind=OutboxKind.UPDATE_PARENT, at=event.at)


def _sync_reminders(tx: Tx, proposal_id: int, *, at: int) -> None:
    """Queue bringing the change's reminders in Slack in line with its new state (after the thread reply)."""
    tx.enqueue(proposal_id, kind=OutboxKind.SYNC_REMINDERS, at=at)
