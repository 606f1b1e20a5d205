"""The records that flow between the layers, typed: the evaluation snapshot, each audit event's payload (one
model per kind, a discriminated union on ``kind``), and the event and outbox kinds.

The store keeps an event's payload as canonical JSON and hashes exactly what it stored; readers parse it with
:func:`parse_payload` and ``match`` on the model, never reading a dict by string keys. Events written before
these models existed (hash version 1) parse too: every field added since has a default of ``None``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chatops.domain.policy import Status

_RECORD = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class EventKind(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    POSTPONED = "postponed"
    CANCELLED = "cancelled"
    REOPENED = "reopened"
    SENSITIVITY_CHANGED = "sensitivity_changed"
    SENSITIVE_DECLARED = "sensitive_declared"
    SENSITIVE_LIFTED = "sensitive_lifted"
    COMPLETED = "completed"
    EXTENDED = "extended"
    APPROVALS_EXPIRING = "approvals_expiring"
    APPROVALS_EXPIRED = "approvals_expired"
    CONFLICT_FOUND = "conflict_found"
    REVIEWED = "reviewed"


class OutboxKind(StrEnum):
    POST_PARENT = "post_parent"
    UPDATE_PARENT = "update_parent"
    REPLY = "reply"
    NOTIFY = "notify"
    """Mention the approvers in the thread (payload ``{"why": …}``): a change needs them again."""
    SYNC_REMINDERS = "sync_reminders"
    """Bring the change's scheduled reminders in Slack in line with its state: schedule what an approved window
    should have, delete what it should not (``chat.scheduleMessage`` / ``chat.deleteScheduledMessage``)."""


class WindowDoc(BaseModel):
    """A window as ISO 8601 instants (UTC offsets), as stored."""

    model_config = _RECORD

    start: str
    end: str


# The evaluation snapshot is what the engine showed; as the engine learns to say more, the snapshot keeps it:
# its models declare every field known today and keep (and compare, and dump) any field added later.
_SNAPSHOT = ConfigDict(frozen=True, extra="allow", populate_by_name=True)


class RegionDoc(BaseModel):
    model_config = _SNAPSHOT

    id: str
    name: str
    timezone: str
    local_start: str
    local_end: str
    sensitive: bool
    peak_overlap_minutes: int
    flagged: bool
    reasons: tuple[str, ...] = ()
    sensitive_peak_minutes: int | None = None
    peak_hours: tuple[str, ...] | None = None


class SuggestionDoc(BaseModel):
    """A suggested window, and (for a choice) which kind of choice and why."""

    model_config = _SNAPSHOT

    start: str
    end: str
    kind: str | None = None
    why: str | None = None


class FreezeDoc(BaseModel):
    """A change freeze (from a freeze calendar) the window falls in."""

    model_config = _SNAPSHOT

    summary: str
    calendar: str | None = None
    start: str | None = None
    end: str | None = None


class TzdataDoc(BaseModel):
    """The time-zone rules an evaluation was made under: ``package`` (the tzdata package, with its version) or
    ``host`` (with its zoneinfo directory), and the IANA release (``2026f``)."""

    model_config = _SNAPSHOT

    source: str
    version: str
    package_version: str | None = None
    path: str | None = None


class EvaluationSnapshot(BaseModel):
    """What an evaluation said, as stored with a proposal and its events (``chatops check --json`` too)."""

    model_config = _SNAPSHOT

    window: WindowDoc
    flagged: bool
    regions: tuple[RegionDoc, ...] = ()
    suggestions: tuple[SuggestionDoc, ...] = ()
    freezes: tuple[FreezeDoc, ...] | None = None
    tzdata: TzdataDoc | str | None = None
    """The rules used (see ``chatops.tzdb``); a bare IANA release (``2025b``) is read too."""

    @property
    def flagged_regions(self) -> tuple[RegionDoc, ...]:
        return tuple(r for r in self.regions if r.flagged)

    @property
    def flagged_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.regions if r.flagged)


class PeriodDoc(BaseModel):
    """A sensitive period declared in Slack (local dates of the region, inclusive)."""

    model_config = _RECORD

    period_id: int
    region_id: str
    region_name: str | None = None
    start_date: str
    end_date: str
    reason: str
    declared_by: str | None = None
    declared_by_name: str | None = None


class EmergencyDoc(BaseModel):
    """What makes a change an emergency: it starts at once, for an incident, with on-call approval or none."""

    model_config = _RECORD

    incident_url: str
    reason: str
    approval: Literal["oncall", "none"]


class ConflictDoc(BaseModel):
    """Another open change whose window overlaps this one on some of the same services."""

    model_config = _RECORD

    proposal_id: int
    services: tuple[str, ...]
    window: WindowDoc


class Proposed(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.PROPOSED] = EventKind.PROPOSED
    window: WindowDoc
    input_tz: str
    evaluation: EvaluationSnapshot
    title: str | None = None
    description: str | None = None
    rollback_plan: str | None = None
    ticket_url: str | None = None
    channel: str | None = None
    window_local: WindowDoc | None = None
    approvals_required: int | None = None
    regions_sha256: str | None = None
    app_version: str | None = None
    services: tuple[str, ...] | None = None
    """The services the change touches (absent: none named)."""
    conflicts: tuple[ConflictDoc, ...] | None = None
    """Open changes its window overlapped on a service when it was proposed."""
    emergency: EmergencyDoc | None = None
    status_after: Status | None = None
    """Set when the change does not start pending (an emergency that needs no approval starts approved)."""


class Approved(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.APPROVED] = EventKind.APPROVED
    round: int
    approvals: int
    required: int
    flagged: bool
    window: WindowDoc
    flagged_regions: tuple[str, ...] = ()
    status_after: Status
    justification: str | None = None


class Rejected(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.REJECTED] = EventKind.REJECTED
    round: int
    approvals: int
    window: WindowDoc


class Cancelled(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.CANCELLED] = EventKind.CANCELLED
    round: int
    approvals: int
    window: WindowDoc


class Postponed(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.POSTPONED] = EventKind.POSTPONED
    from_: WindowDoc = Field(alias="from")
    to: WindowDoc
    approvals_reset: int
    round: int
    required: int
    evaluation: EvaluationSnapshot
    regions_sha256: str | None = None
    conflicts: tuple[ConflictDoc, ...] | None = None
    """Open changes the new window overlaps on a service."""


class Reopened(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.REOPENED] = EventKind.REOPENED
    round: int
    required: int
    window: WindowDoc


class SensitivityChanged(BaseModel):
    """A re-evaluation after a declared period or a lift changed which regions a change flags."""

    model_config = _RECORD

    kind: Literal[EventKind.SENSITIVITY_CHANGED] = EventKind.SENSITIVITY_CHANGED
    flagged: bool
    required: int
    approvals: int
    status_after: Status
    evaluation: EvaluationSnapshot
    status_before: Status | None = None
    approvals_required_after: int | None = None
    flagged_before: tuple[str, ...] | None = None
    flagged_after: tuple[str, ...] | None = None
    period: PeriodDoc | None = None
    change: Literal["declared", "lifted"] | None = None


class ConflictFound(BaseModel):
    """Another open change now overlaps this one on a service (it was proposed or moved onto this window)."""

    model_config = _RECORD

    kind: Literal[EventKind.CONFLICT_FOUND] = EventKind.CONFLICT_FOUND
    conflict: ConflictDoc
    window: WindowDoc
    approvals: int
    approvals_required_after: int
    status_before: Status
    status_after: Status
    owners: tuple[str, ...] = ()


class Reviewed(BaseModel):
    """The follow-up review of an emergency change was done."""

    model_config = _RECORD

    kind: Literal[EventKind.REVIEWED] = EventKind.REVIEWED
    window: WindowDoc


class SensitiveDeclared(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.SENSITIVE_DECLARED] = EventKind.SENSITIVE_DECLARED
    period: PeriodDoc


class SensitiveLifted(BaseModel):
    model_config = _RECORD

    kind: Literal[EventKind.SENSITIVE_LIFTED] = EventKind.SENSITIVE_LIFTED
    period: PeriodDoc


class Completed(BaseModel):
    """The proposer (or an approver) marked an approved change done."""

    model_config = _RECORD

    kind: Literal[EventKind.COMPLETED] = EventKind.COMPLETED
    round: int
    window: WindowDoc


class Extended(BaseModel):
    """An approved window was made longer. The extra time was evaluated as a window of its own: clear, the
    change stays approved; flagged, it needs approval again (a new round, with the flagged count)."""

    model_config = _RECORD

    kind: Literal[EventKind.EXTENDED] = EventKind.EXTENDED
    from_: WindowDoc = Field(alias="from")
    to: WindowDoc
    extra_flagged: bool
    extra_flagged_regions: tuple[str, ...] = ()
    round: int
    required: int
    status_after: Status
    evaluation: EvaluationSnapshot
    """The whole new window's evaluation (stored with the change)."""


class ApprovalsExpiring(BaseModel):
    """Said ahead of time: these approvals will be too old when the window starts and expire at ``expires``."""

    model_config = _RECORD

    kind: Literal[EventKind.APPROVALS_EXPIRING] = EventKind.APPROVALS_EXPIRING
    round: int
    expires: str
    approvers: tuple[str, ...]
    max_age_days: float


class ApprovalsExpired(BaseModel):
    """Approvals older than the policy's age expired before the window started: the change needs approval again
    (``round`` is the new round; ``kept`` are the younger approvals carried into it)."""

    model_config = _RECORD

    kind: Literal[EventKind.APPROVALS_EXPIRED] = EventKind.APPROVALS_EXPIRED
    round: int
    expired: tuple[str, ...]
    kept: tuple[str, ...] = ()
    required: int
    status_after: Status
    max_age_days: float


EventPayload = Annotated[
    Proposed
    | Approved
    | Rejected
    | Cancelled
    | Postponed
    | Reopened
    | SensitivityChanged
    | SensitiveDeclared
    | SensitiveLifted
    | Completed
    | Extended
    | ApprovalsExpiring
    | ApprovalsExpired
    | ConflictFound
    | Reviewed,
    Field(discriminator="kind"),
]

_PAYLOAD: TypeAdapter[EventPayload] = TypeAdapter(EventPayload)


def parse_payload(kind: str, data: dict[str, Any]) -> EventPayload:
    """The typed payload of a stored event (its ``data`` column with its ``kind``). Raises ``ValueError``
    (pydantic's ``ValidationError``) when the stored document does not fit the kind's model."""
    return _PAYLOAD.validate_python({**data, "kind": kind})


_MODELS: dict[str, type[BaseModel]] = {
    model.model_fields["kind"].default.value: model for model in get_args(get_args(EventPayload)[0])
}


def parse_payload_json(kind: str, text: str) -> EventPayload:
    """:func:`parse_payload` of a stored event's JSON text: typed by pydantic's JSON parser in one pass, without
    building the document as Python objects first (an unknown kind raises as :func:`parse_payload` does)."""
    model = _MODELS.get(kind)
    if model is None:
        data = json.loads(text)
        return parse_payload(kind, data if isinstance(data, dict) else {})
    return cast(EventPayload, model.model_validate_json(text))


def payload_data(payload: EventPayload, *, without: str | None = None) -> dict[str, Any]:
    """The JSON document stored (and hashed) for a payload: its fields without ``kind`` (a column of its own),
    leaving out optional fields that are not set, so an old-shaped event stays byte-for-byte what it was.
    ``without``: a field left out too (the caller has it encoded already)."""
    data: dict[str, Any] = payload.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude={without} if without else None
    )
    data.pop("kind", None)
    return data
