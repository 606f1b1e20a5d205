"""The audit log, read back: export, one change's history, and verification.

What ``chatops audit verify`` checks (``docs/security.md`` says what each check can and cannot detect):

1. **The chain.** Every event carries the hash of the one before it in a single chain over all events (``gseq``
   1, 2, 3…), and its own hash over its content (:func:`chatops.store.event_hash`). An edited, removed,
   reordered or inserted event breaks the chain from that point on; a change's ``seq`` numbers must run 1, 2, 3…
   Events written before the global chain (hash version 1) chain per change and verify with the old function.
2. **The tables against the events.** Each change's state (status, title, description, rollback plan, ticket,
   proposer, zone, window, flagged, approvals required, round, evaluation, approvers) is re-derived from its
   events and compared with the ``proposals`` and ``approvals`` rows; declared sensitive periods likewise.
3. **Signed checkpoints.** With the audit key, each checkpoint's HMAC is checked, the checkpoints must follow one
   another, each must sign the hash the chain has at its position, and no event may come after the last one.
4. **Slack** (:func:`verify_slack`): the hashes the thread replies carry in their message metadata must match
   the database's events, and every delivered event must be in its thread.
"""

from __future__ import annotations

import csv
import hmac
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chatops.domain.policy import Status
from chatops.domain.records import (
    ApprovalsExpired,
    Approved,
    Cancelled,
    Completed,
    ConflictFound,
    EvaluationSnapshot,
    EventPayload,
    Extended,
    Postponed,
    Proposed,
    Rejected,
    Reopened,
    Reviewed,
    SensitiveDeclared,
    SensitiveLifted,
    SensitivityChanged,
    WindowDoc,
)
from chatops.domain.timeline import from_ts
from chatops.store import (
    CheckpointRow,
    EventRow,
    ProposalRow,
    SensitiveRow,
    Store,
    audit_key_id,
    canonical_json,
    checkpoint_mac,
)

CSV_FIELDS = (
    "gseq",
    "proposal_id",
    "seq",
    "at",
    "at_iso",
    "kind",
    "actor",
    "actor_name",
    "reason",
    "data",
    "prev_hash",
    "hash",
    "hash_version",
)


@dataclass(frozen=True)
class Problem:
    """One thing verification found wrong, naming what it is about (``CHG-12``, ``sensitive period #3``…)."""

    subject: str
    problem: str
    gseq: int | None = None

    def __str__(self) -> str:
        where = f" (event {self.gseq})" if self.gseq is not None else ""
        return f"{self.subject}{where}: {self.problem}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: int = 0
    changes: int = 0
    checkpoints: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems


CHAIN = "audit chain"


def _subject(event: EventRow) -> str:
    if event.proposal_id is not None:
        return f"CHG-{event.proposal_id}"
    try:
        payload = event.payload
    except ValueError:
        return "event without a change"
    match payload:
        case SensitiveDeclared(period=period) | SensitiveLifted(period=period):
            return f"sensitive period #{period.period_id}"
        case _:
            return "event without a change"


def _ts(window: WindowDoc) -> tuple[int, int]:
    return (
        int(datetime.fromisoformat(window.start).timestamp()),
        int(datetime.fromisoformat(window.end).timestamp()),
    )


@dataclass
class _Derived:
    """A change's state as its events tell it."""

    proposer: str
    input_tz: str
    start_ts: int
    end_ts: int
    flagged: bool
    evaluation: EvaluationSnapshot
    title: str | None
    description: str | None
    rollback_plan: str | None
    ticket_url: str | None
    approvals_required: int | None
    services: tuple[str, ...] = ()
    emergency: bool = False
    incident_url: str = ""
    reviewed_by: str | None = None
    status: Status = Status.PENDING
    round: int = 1
    approvers: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class _Period:
    region_id: str
    start_date: str
    end_date: str
    reason: str
    declared_by: str
    declared_at: int
    lifted_by: str | None = None
    lifted_at: int | None = None


class _Verifier:
    def __init__(self, report: Report, checkpoint_gseqs: set[int], *, derive: bool = True) -> None:
        self.report = report
        self._derive = derive
        self.changes: dict[int, _Derived] = {}
        self.periods: dict[int, _Period] = {}
        self.hash_at: dict[int, tuple[str, EventRow]] = {}
        self._checkpointed = checkpoint_gseqs
        self._prev: EventRow | None = None
        self._seq: dict[int | None, int] = {}
        self._v1_head: dict[int | None, str] = {}
        self._seen_v2 = False
        self._proposed_ids: list[int] = []
        self.first_v2_at: int | None = None
        self.missing: list[tuple[int, int]] = []

    def problem(self, event: EventRow | None, text: str, subject: str | None = None) -> None:
        """Record a problem about ``event``, under its change's name unless ``subject`` says otherwise."""
        if subject is None:
            subject = _subject(event) if event is not None else "audit chain"
        self.report.problems.append(Problem(subject, text, event.gseq if event is not None else None))

    def feed(self, event: EventRow) -> None:
        self.report.events += 1
        prev = self._prev
        expected_gseq = 1 if prev is None else prev.gseq + 1
        if event.gseq > expected_gseq:
            self.missing.append((expected_gseq, event.gseq - 1))
            span = (
                f"event {expected_gseq} is"
                if event.gseq - 1 == expected_gseq
                else f"events {expected_gseq}–{event.gseq - 1} are"
            )
            self.problem(
                event, f"{span} missing before event {event.gseq} ({_subject(event)}'s): deleted?", CHAIN
            )
        elif event.gseq < expected_gseq:
            self.problem(event, f"numbered {event.gseq} but comes after event {expected_gseq - 1}")
        if event.hash_version == 1:
            if self._seen_v2:
                self.problem(event, "an event in the old hash format after the global chain began")
            expected_prev = self._v1_head.get(event.proposal_id, "")
            if event.prev_hash != expected_prev:
                self.problem(event, "does not follow the previous event of its change (its chain is broken)")
            self._v1_head[event.proposal_id] = event.hash
        else:
            if not self._seen_v2:
                self._seen_v2 = True
                self.first_v2_at = event.at
            expected_prev = "" if prev is None else prev.hash
            if event.prev_hash != expected_prev:
                self.problem(
                    event,
                    f"event {event.gseq} ({_subject(event)}'s) does not follow the event before it "
                    "(removed, reordered or inserted?)",
                    CHAIN,
                )
        if event.recomputed_hash() != event.hash:
            self.problem(event, f"its content does not match its hash (the {event.kind} event was altered)")
        expected_seq = self._seq.get(event.proposal_id, 0) + 1
        if event.seq != expected_seq:
            self.problem(event, f"is numbered {event.seq} in its change; expected {expected_seq}")
        self._seq[event.proposal_id] = max(event.seq, expected_seq)
        if event.gseq in self._checkpointed:
            self.hash_at[event.gseq] = (event.hash, event)
        self._prev = event
        if not self._derive:
            return
        try:
            payload = event.payload
        except ValueError:
            self.problem(event, f"its data does not fit a {event.kind!r} event")
            return
        self._apply(event, payload)

    @property
    def last(self) -> EventRow | None:
        return self._prev

    def _apply(self, event: EventRow, payload: EventPayload) -> None:
        pid = event.proposal_id
        if isinstance(payload, SensitiveDeclared | SensitiveLifted):
            self._apply_period(event, payload)
            return
        if pid is None:
            self.problem(event, f"a {event.kind} event must belong to a change")
            return
        if isinstance(payload, Proposed):
            if pid in self.changes:
                self.problem(event, "proposed a second time")
            start, end = _ts(payload.window)
            self._proposed_ids.append(pid)
            self.changes[pid] = _Derived(
                proposer=event.actor,
                input_tz=payload.input_tz,
                start_ts=start,
                end_ts=end,
                flagged=payload.evaluation.flagged,
                evaluation=payload.evaluation,
                title=payload.title,
                description=payload.description,
                rollback_plan=payload.rollback_plan,
                ticket_url=payload.ticket_url,
                approvals_required=payload.approvals_required,
                approvers={1: []},
                services=payload.services or (),
                emergency=payload.emergency is not None,
                incident_url=payload.emergency.incident_url if payload.emergency else "",
                status=payload.status_after or Status.PENDING,
            )
            return
        state = self.changes.get(pid)
        if state is None:
            self.problem(event, f"a {event.kind} event before the change was proposed")
            return
        match payload:
            case Approved() as approved:
                if approved.round != state.round:
                    self.problem(
                        event, f"approves round {approved.round} while the change is in {state.round}"
                    )
                state.approvers.setdefault(approved.round, []).append(event.actor)
                state.status = approved.status_after
                if state.approvals_required is None:
                    state.approvals_required = approved.required
            case Rejected():
                state.status = Status.REJECTED
            case Cancelled():
                state.status = Status.CANCELLED
            case Postponed() | Extended() as moved:
                state.start_ts, state.end_ts = _ts(moved.to)
                state.round = moved.round
                state.approvers.setdefault(moved.round, [])
                state.approvals_required = moved.required
                state.flagged = moved.evaluation.flagged
                state.evaluation = moved.evaluation
                # A postponed change always waits for approval again; an extended one says where it stands.
                state.status = moved.status_after if isinstance(moved, Extended) else Status.PENDING
            case Reopened() as reopened:
                state.round = reopened.round
                state.approvers.setdefault(reopened.round, [])
                state.approvals_required = reopened.required
                state.status = Status.PENDING
            case Completed():
                state.status = Status.DONE
            case ApprovalsExpired() as lapsed:
                state.round = lapsed.round
                state.approvers[lapsed.round] = list(lapsed.kept)
                state.approvals_required = lapsed.required
                state.status = lapsed.status_after
            case SensitivityChanged() as changed:
                if changed.approvals_required_after is not None:
                    state.approvals_required = changed.approvals_required_after
                elif state.status is Status.PENDING:  # the rule before "needs re-approval" existed
                    state.approvals_required = changed.required
                state.flagged = changed.flagged
                state.evaluation = changed.evaluation
                state.status = changed.status_after
            case ConflictFound() as found:
                state.approvals_required = found.approvals_required_after
                state.status = found.status_after
            case Reviewed():
                if not state.emergency:
                    self.problem(event, "reviewed, but it is not an emergency")
                elif state.reviewed_by is not None:
                    self.problem(event, "reviewed a second time")
                state.reviewed_by = event.actor
            case _:
                pass

    def _apply_period(self, event: EventRow, payload: SensitiveDeclared | SensitiveLifted) -> None:
        period = payload.period
        subject = f"sensitive period #{period.period_id}"
        if isinstance(payload, SensitiveDeclared):
            if period.period_id in self.periods:
                self.problem(event, "declared a second time", subject)
            self.periods[period.period_id] = _Period(
                region_id=period.region_id,
                start_date=period.start_date,
                end_date=period.end_date,
                reason=period.reason,
                declared_by=event.actor,
                declared_at=event.at,
            )
            return
        known = self.periods.get(period.period_id)
        if known is None:
            return  # declared before the audit chain recorded declarations
        if known.lifted_at is not None:
            self.problem(event, "lifted a second time", subject)
        known.lifted_by, known.lifted_at = event.actor, event.at


_COMPARED = (
    "status",
    "title",
    "description",
    "rollback_plan",
    "ticket_url",
    "proposer",
    "input_tz",
    "start_ts",
    "end_ts",
    "flagged",
    "approvals_required",
    "round",
    "services",
    "emergency",
    "incident_url",
)
_COMPARED_EVEN_UNSET = ("reviewed_by",)
"""Compared even when the events say None: a review the events do not record is a problem."""


def _compare_change(
    row: ProposalRow,
    state: _Derived,
    approvals: Mapping[tuple[int, int], list[str]],
    rounds: Mapping[int, set[int]],
) -> list[str]:
    found: list[str] = []
    for name in (*_COMPARED, *_COMPARED_EVEN_UNSET):
        stored, derived = getattr(row, name), getattr(state, name)
        if derived is None and name not in _COMPARED_EVEN_UNSET:
            continue  # an event written before this was recorded
        if stored != derived:
            found.append(f"{name} is {_shown(stored)} in the table but the events say {_shown(derived)}")
    try:
        evaluation = EvaluationSnapshot.model_validate(row.evaluation)
    except ValueError:
        found.append("its stored evaluation is not an evaluation")
    else:
        if evaluation != state.evaluation:
            found.append("its stored evaluation differs from the one its events recorded")
    for round_ in sorted(rounds.get(row.id, set()) | set(state.approvers)):
        stored = approvals.get((row.id, round_), [])
        derived = state.approvers.get(round_, [])
        if sorted(stored) != sorted(derived):
            found.append(
                f"round {round_} approvers are {_shown(stored)} in the table but the events say {_shown(derived)}"
            )
    return found


def _shown(value: object) -> str:
    if isinstance(value, Status):
        return repr(value.value)
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]" if value else "nobody"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…'"


def _compare_period(row: SensitiveRow, period: _Period) -> list[str]:
    found = []
    pairs = (
        ("region", row.region_id, period.region_id),
        ("start", row.start_date.isoformat(), period.start_date),
        ("end", row.end_date.isoformat(), period.end_date),
        ("reason", row.reason, period.reason),
        ("declared by", row.declared_by, period.declared_by),
        ("declared at", row.declared_at, period.declared_at),
        ("lifted by", row.lifted_by, period.lifted_by),
        ("lifted at", row.lifted_at, period.lifted_at),
    )
    for name, stored, derived in pairs:
        if stored != derived:
            found.append(f"{name} is {_shown(stored)} in the table but the events say {_shown(derived)}")
    return found


def _check_checkpoints(
    report: Report, found: Sequence[CheckpointRow], verifier: _Verifier, key: bytes | None
) -> None:
    report.checkpoints = len(found)
    if not found:
        if key is not None and report.events:
            report.notes.append("no signed checkpoints in the database (was the audit key set when it ran?)")
        return
    if key is None:
        report.notes.append(
            f"{len(found)} signed checkpoints not checked: give the audit key (CHATOPS_AUDIT_KEY) to check them"
        )
        return
    key_id = audit_key_id(key)
    prev_mac = ""
    rewritten: list[tuple[CheckpointRow, EventRow]] = []
    for checkpoint in found:
        subject = f"checkpoint #{checkpoint.id}"
        if checkpoint.key_id != key_id:
            report.problems.append(Problem(subject, "signed with another key than the one given"))
        elif checkpoint.prev_mac != prev_mac:
            report.problems.append(
                Problem(
                    subject, "does not follow the checkpoint before it (a checkpoint was removed or edited)"
                )
            )
        expected = checkpoint_mac(
            key, gseq=checkpoint.gseq, hash=checkpoint.hash, at=checkpoint.at, prev_mac=checkpoint.prev_mac
        )
        if not hmac.compare_digest(expected, checkpoint.mac):
            report.problems.append(Problem(subject, "its signature does not match (forged or edited)"))
        seen = verifier.hash_at.get(checkpoint.gseq)
        if seen is None:
            report.problems.append(
                Problem(subject, f"signs event {checkpoint.gseq}, which is not in the database (deleted?)")
            )
        elif seen[0] != checkpoint.hash:
            rewritten.append((checkpoint, seen[1]))
        prev_mac = checkpoint.mac
    if rewritten:
        first, event = rewritten[0]
        later = f" (and what {len(rewritten) - 1} later checkpoints signed)" if len(rewritten) > 1 else ""
        report.problems.append(
            Problem(
                _subject(event),
                f"differs from what checkpoint #{first.id} signed{later}: the chain was rewritten from here on",
                first.gseq,
            )
        )
    last = verifier.last
    if last is not None and last.gseq > found[-1].gseq:
        report.problems.append(
            Problem(
                _subject(last),
                f"{last.gseq - found[-1].gseq} event(s) after the last signed checkpoint "
                f"(event {found[-1].gseq}): a checkpoint was removed, or events were written without the key",
                last.gseq,
            )
        )


def verify_chain(events: Iterable[EventRow]) -> list[Problem]:
    """Only the chain's check (hashes, links, numbering, payloads) over events in ``gseq`` order."""
    report = Report()
    verifier = _Verifier(report, set(), derive=False)
    for event in events:
        verifier.feed(event)
    return report.problems


def verify(store: Store, *, key: bytes | None = None) -> Report:
    """Check the chain, the tables against the events, and (with ``key``) the signed checkpoints."""
    report = Report()
    checkpoints = store.checkpoints()
    verifier = _Verifier(report, {c.gseq for c in checkpoints})
    for event in store.iter_events():
        verifier.feed(event)

    approvals = store.all_approvals()
    rounds: dict[int, set[int]] = {}
    for pid, round_ in approvals:
        rounds.setdefault(pid, set()).add(round_)
    rows: dict[int, ProposalRow] = {}
    for row in store.iter_proposals():
        rows[row.id] = row
        state = verifier.changes.get(row.id)
        if state is None:
            report.problems.append(Problem(f"CHG-{row.id}", "has no audit events (its events were deleted?)"))
            continue
        for text in _compare_change(row, state, approvals, rounds):
            report.problems.append(Problem(f"CHG-{row.id}", text))
    report.changes = len(rows)
    for pid in sorted(set(verifier.changes) - set(rows)):
        report.problems.append(Problem(f"CHG-{pid}", "has audit events but no row in the table (deleted?)"))
    for (pid, round_), _who in sorted(approvals.items()):
        if pid not in rows and pid not in verifier.changes:
            report.problems.append(
                Problem(f"CHG-{pid}", f"has approvals (round {round_}) but no row and no events (deleted?)")
            )
    if verifier.missing:
        # A change deleted whole leaves a gap in the change numbers next to the chain's gap.
        known = sorted(set(rows) | set(verifier.changes))
        for pid in _gaps(known):
            report.problems.append(
                Problem(f"CHG-{pid}", "has no row and no events while the chain misses events (deleted?)")
            )

    periods = store.all_sensitive_periods()
    for period in periods:
        derived = verifier.periods.get(period.id)
        subject = f"sensitive period #{period.id}"
        if derived is None:
            if verifier.first_v2_at is not None and period.declared_at >= verifier.first_v2_at:
                report.problems.append(Problem(subject, "has no declaration in the audit log"))
            continue
        for text in _compare_period(period, derived):
            report.problems.append(Problem(subject, text))
    for period_id in sorted(set(verifier.periods) - {p.id for p in periods}):
        report.problems.append(
            Problem(f"sensitive period #{period_id}", "declared in the audit log but gone from the table")
        )

    _check_checkpoints(report, checkpoints, verifier, key)
    return report


def _gaps(ids: Sequence[int]) -> list[int]:
    missing: list[int] = []
    for a, b in itertools.pairwise(ids):
        missing.extend(range(a + 1, b))
    return missing[:20]


# -- Slack ------------------------------------------------------------------------------------------------------

EVENT_METADATA_TYPE = "chatops_audit_event"


def verify_slack(store: Store, replies: Callable[[str, str], Iterable[Mapping[str, Any]]]) -> list[Problem]:
    """Compare each change's thread (``replies(channel, thread_ts)`` gives its messages, as
    conversations.replies does) with its events: the hashes the replies carry must be the database's, and every
    event told in the thread must still be in the database."""
    problems: list[Problem] = []
    for row in store.iter_proposals():
        if not row.message_ts:
            continue
        subject = f"CHG-{row.id}"
        events = {e.seq: e for e in store.events(row.id)}
        told: set[int] = set()
        for message in replies(row.channel, row.message_ts):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") != EVENT_METADATA_TYPE:
                continue
            payload = metadata.get("event_payload") or {}
            seq, digest = payload.get("seq"), payload.get("hash")
            if not isinstance(seq, int):
                continue
            told.add(seq)
            event = events.get(seq)
            if event is None:
                problems.append(
                    Problem(subject, f"Slack's thread tells event {seq}, which the database lacks")
                )
            elif event.hash != digest:
                problems.append(
                    Problem(subject, f"event {seq} differs from the one Slack's thread tells", event.gseq)
                )
        for seq, event in sorted(events.items()):
            if seq not in told and event.hash_version > 1:
                problems.append(
                    Problem(
                        subject,
                        f"event {seq} ({event.kind}) is not in Slack's thread (undelivered?)",
                        event.gseq,
                    )
                )
    return problems


# -- export and history ----------------------------------------------------------------------------------------


def _record(event: EventRow) -> dict[str, object]:
    return {
        "gseq": event.gseq,
        "proposal_id": event.proposal_id,
        "seq": event.seq,
        "at": event.at,
        "at_iso": from_ts(event.at).isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "actor_name": event.actor_name,
        "reason": event.reason,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "hash_version": event.hash_version,
    }


def export_jsonl(events: Iterable[EventRow]) -> Iterator[str]:
    for event in events:
        yield json.dumps(_record(event), ensure_ascii=False, sort_keys=True) + "\n"


def export_csv(events: Iterable[EventRow]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for event in events:
        record = _record(event)
        record["data"] = canonical_json(event.data)
        writer.writerow(record)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    rest = buffer.getvalue()
    if rest:
        yield rest


def describe(event: EventRow) -> str:
    """One line of history for ``chatops audit show``."""
    when = f"{from_ts(event.at):%Y-%m-%d %H:%M:%S} UTC"
    who = f"{event.actor} ({event.actor_name})" if event.actor_name else event.actor
    line = f"{event.seq:>3}  {when}  {event.kind:<19} by {who}"
    try:
        payload = event.payload
    except ValueError:
        payload = None
    match payload:
        case Proposed(window=window, evaluation=evaluation, title=title):
            line += f"  {window.start} -> {window.end}{'  FLAGGED' if evaluation.flagged else ''}"
            if title is not None:
                line += f"  title: {title}"
            if isinstance(payload, Proposed):
                if payload.emergency is not None:
                    line += f"  EMERGENCY ({payload.emergency.approval} approval) {payload.emergency.incident_url}"
                if payload.services:
                    line += f"  services: {', '.join(payload.services)}"
        case ConflictFound(conflict=conflict):
            line += (
                f"  overlaps CHG-{conflict.proposal_id} on {', '.join(conflict.services)}; "
                f"{conflict.window.start} -> {conflict.window.end}"
            )
        case Reviewed():
            line += "  follow-up review done"
        case Approved(approvals=approvals, required=required, justification=justification):
            line += f"  ({approvals} of {required})"
            if justification:
                line += f"  justification: {justification}"
        case Postponed() as postponed:
            line += f"  {postponed.from_.start} -> {postponed.to.start}"
        case SensitivityChanged() as changed:
            flagged = ", ".join(changed.flagged_after or changed.evaluation.flagged_ids) or "none"
            line += f"  flagged: {flagged}; {changed.approvals} of {changed.required}; {changed.status_after.value}"
        case SensitiveDeclared(period=period) | SensitiveLifted(period=period):
            line += f"  #{period.period_id} {period.region_id} {period.start_date} – {period.end_date}"
        case _:
            pass
    if event.reason:
        line += f"  reason: {event.reason}"
    return line
