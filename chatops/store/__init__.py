"""Where proposals, approvals, the audit log and the outbox live, behind one small interface.

One implementation (:mod:`chatops.store.sql`, SQLAlchemy Core) serves SQLite (the embedded default, WAL
mode) and PostgreSQL (for several instances). Every state change happens in one :meth:`Store.transaction`,
which writes the new state, its audit event(s) and the outbox rows that will tell Slack about it, or none of
them.

Contract (checked by ``tests/store/test_contract.py`` against every backend):

- ``transaction()`` is exclusive for the proposal rows it locks: :meth:`Tx.lock_proposal` takes a row lock on
  PostgreSQL (``SELECT … FOR UPDATE``); SQLite transactions begin ``IMMEDIATE`` so writers are serialised.
  Leaving the ``with`` block normally commits; an exception rolls everything back and propagates.
- ``insert_proposal`` with an ``idempotency_key`` already stored raises :class:`DuplicateKey` (the caller then
  reads the existing proposal with :meth:`Store.proposal_by_key`).
- ``add_approval`` returns False when that approver already approved that round (nothing is written).
- ``append_event`` numbers events 1, 2, 3… per proposal (``seq``) and 1, 2, 3… over all events (``gseq``),
  and chains them all in one chain: ``hash`` is SHA-256 over the previous event's hash (by ``gseq``) and this
  event's canonical JSON (see :func:`event_hash`); the first event's ``prev_hash`` is "". Writers are
  serialised on the chain's head (an advisory lock on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite). Events
  written before the global chain (hash version 1) chain per proposal (:func:`event_hash_v1`).
- When the store has an audit key, every transaction that appended events also writes a signed checkpoint of
  the chain's head (:func:`checkpoint_mac`); the key itself is never stored.
- The outbox delivers in order within a proposal: :meth:`Store.claim_outbox` only hands out a proposal's
  oldest undelivered message, only when its ``next_attempt_at`` has come, and leases it (``lease_seconds``)
  so that several workers, in one process or several, never send the same message at once. An abandoned
  message (:meth:`Store.mark_abandoned`) is never handed out again and no longer holds back the ones after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatops.domain.policy import Status
from chatops.domain.records import (
    EvaluationSnapshot,
    EventPayload,
    OutboxKind,
    parse_payload,
    parse_payload_json,
)

_ROW = ConfigDict(frozen=True, extra="forbid")

HASH_VERSION = 2
"""The hash function new events are written with; version 1 events keep verifying with the old one."""


class DuplicateKey(Exception):
    """A proposal with this idempotency key exists already."""


def _given_as_text(values: Any, given: str, text: str) -> Any:
    """A row built with ``given=`` a dict keeps it as its canonical JSON, in its field ``text``."""
    if isinstance(values, dict) and given in values:
        values = dict(values)
        if text in values:
            raise ValueError(f"give {given} or {text}, not both")
        values[text] = canonical_json(values.pop(given))
    return values


def json_object(text: str) -> dict[str, Any]:
    """A stored JSON document, which must be an object."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored JSON document is not an object")
    return value


class ProposalSummary(BaseModel):
    """A stored proposal without its evaluation snapshot: what lists of changes show (``/maintenance list``, the
    Home tab, the calendar feed). Times are POSIX seconds (UTC).

    A snapshot is stored with every proposal, about 90 KB with the 299 regions the app ships with; a list of 50
    read without it costs a tenth as much (``benchmarks/store_ops.py --snapshot shipped``)."""

    model_config = _ROW

    id: int
    idempotency_key: str | None
    title: str
    description: str
    rollback_plan: str
    ticket_url: str
    proposer: str
    channel: str
    input_tz: str
    start_ts: int
    end_ts: int
    status: Status
    flagged: bool
    approvals_required: int
    round: int
    version: int
    message_ts: str | None
    created_at: int
    updated_at: int
    services: tuple[str, ...] = ()
    emergency: bool = False
    incident_url: str = ""
    reviewed_by: str | None = None
    reviewed_at: int | None = None

    @property
    def review_open(self) -> bool:
        """An emergency whose follow-up review nobody has marked done yet."""
        return self.emergency and self.reviewed_by is None


class ProposalRow(ProposalSummary):
    """A stored proposal, its evaluation snapshot included.

    The evaluation is kept as the canonical JSON the store holds (``evaluation_json``) and read into a dict the
    first time :attr:`evaluation` is asked for: most reads of a row (the outbox's claims, locks and updates)
    never look at it, and a snapshot of a few hundred regions is tens of kilobytes to parse. A row may be built
    with ``evaluation=`` a dict, which is stored as its canonical JSON."""

    evaluation_json: str = Field(repr=False)

    @model_validator(mode="before")
    @classmethod
    def _evaluation_given(cls, data: Any) -> Any:
        return _given_as_text(data, "evaluation", "evaluation_json")

    @cached_property
    def evaluation(self) -> dict[str, Any]:
        """The evaluation snapshot stored with the proposal (a JSON object)."""
        return json_object(self.evaluation_json)

    @property
    def snapshot(self) -> EvaluationSnapshot:
        """The stored evaluation, typed."""
        return EvaluationSnapshot.model_validate(self.evaluation)

    @property
    def flagged_region_ids(self) -> tuple[str, ...]:
        """``snapshot.flagged_ids`` (the flagged regions' ids, in order), read from the stored document without
        validating it: an approval records them before its 200, and typing every region of a snapshot of 299
        regions cost more than parsing it. A window that is not flagged has none, and its snapshot is not read at
        all (``flagged`` is the snapshot's, stored with it; parsing the 91 KB of the shipped regions' snapshot
        was half of a one-tap approval's work)."""
        if not self.flagged:
            return ()
        return tuple(r["id"] for r in self.evaluation.get("regions", ()) if r.get("flagged"))


class NewProposal(BaseModel):
    model_config = _ROW

    idempotency_key: str | None
    title: str
    description: str = ""
    rollback_plan: str = ""
    ticket_url: str = ""
    proposer: str
    channel: str
    input_tz: str
    start_ts: int
    end_ts: int
    flagged: bool
    approvals_required: int
    evaluation_json: str = Field(repr=False)
    """The evaluation snapshot's canonical JSON (``Encoded.text``); or give ``evaluation=`` a dict."""
    created_at: int
    services: tuple[str, ...] = ()
    emergency: bool = False
    incident_url: str = ""
    status: Status = Status.PENDING

    @model_validator(mode="before")
    @classmethod
    def _evaluation_given(cls, data: Any) -> Any:
        return _given_as_text(data, "evaluation", "evaluation_json")


class EventRow(BaseModel):
    """A stored audit event.

    Its document is kept as the JSON text the store holds (``data_json``): :attr:`payload` types that text
    directly with pydantic's JSON parser, and :attr:`data` parses it into a dict the first time it is asked for
    (the hash check, exports). A thread reply about a proposal reads an event of about 90 KB with the shipped
    regions, which took twice as long to parse into a dict and then type as to type from the text. A row may
    be built with ``data=`` a dict, which is stored as its canonical JSON."""

    model_config = _ROW

    id: int
    gseq: int
    proposal_id: int | None
    seq: int
    kind: str
    actor: str
    actor_name: str | None = None
    at: int
    reason: str
    data_json: str = Field(repr=False)
    prev_hash: str
    hash: str
    hash_version: int = HASH_VERSION

    @model_validator(mode="before")
    @classmethod
    def _data_given(cls, values: Any) -> Any:
        return _given_as_text(values, "data", "data_json")

    @cached_property
    def data(self) -> dict[str, Any]:
        """The event's document (a JSON object)."""
        return json_object(self.data_json)

    @property
    def payload(self) -> EventPayload:
        """The typed payload (raises ``ValueError`` when the stored document does not fit its kind): from the
        document if :attr:`data` has parsed it already (an audit's verification reads both), else from the
        text."""
        parsed = self.__dict__.get("data")
        if parsed is not None:
            return parse_payload(self.kind, parsed)
        return parse_payload_json(self.kind, self.data_json)

    def recomputed_hash(self) -> str:
        """What ``hash`` must be for this content and ``prev_hash``: the audit chain's check."""
        if self.hash_version == 1:
            return event_hash_v1(
                prev_hash=self.prev_hash,
                proposal_id=self.proposal_id or 0,
                seq=self.seq,
                kind=self.kind,
                actor=self.actor,
                at=self.at,
                reason=self.reason,
                data=self.data,
            )
        return event_hash(
            prev_hash=self.prev_hash,
            gseq=self.gseq,
            proposal_id=self.proposal_id,
            seq=self.seq,
            kind=self.kind,
            actor=self.actor,
            actor_name=self.actor_name,
            at=self.at,
            reason=self.reason,
            data=self.data,
        )


class CheckpointRow(BaseModel):
    """A signed statement that the chain's head was event ``gseq`` with ``hash``."""

    model_config = _ROW

    id: int
    gseq: int
    hash: str
    at: int
    key_id: str
    prev_mac: str
    mac: str


class OutboxRow(BaseModel):
    """A message for Slack. ``payload`` names what it is about (``{"event_id": N}`` for a reply)."""

    model_config = _ROW

    id: int
    proposal_id: int
    kind: OutboxKind
    payload: dict[str, Any]
    created_at: int
    attempts: int
    next_attempt_at: int
    delivered_at: int | None
    last_error: str | None
    claimed_before: bool = False
    """Whether an earlier attempt took this message (it failed, or its lease ran out): that attempt may have
    reached Slack, so look before sending it again."""
    proposal: ProposalRow | None = None
    """The message's proposal as :meth:`Store.claim_outbox` read it, in the transaction that leased the message
    (None elsewhere)."""
    leased_until: int | None = None
    """Until when the claim that handed the message out leased it (None elsewhere): a lease given back untried
    is given back only if it is still that one."""


class Outcome(BaseModel):
    """What became of a claimed outbox message, to be recorded: delivered (``delivered_at``, and the parent's
    ``message_ts`` if it posted or found one), to try again (``error``, ``retry_at``) or abandoned (``error``,
    ``abandoned_at``). :meth:`Store.claim_outbox` records it first, in the transaction of the next claim."""

    model_config = _ROW

    message_id: int
    delivered_at: int | None = None
    message_ts: str | None = None
    error: str | None = None
    retry_at: int | None = None
    abandoned_at: int | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> Outcome:
        delivered = self.delivered_at is not None
        retried = self.retry_at is not None
        abandoned = self.abandoned_at is not None
        if delivered + retried + abandoned != 1:
            raise ValueError("an outcome is delivered, to retry or abandoned: exactly one")
        if delivered == (self.error is not None) or (self.message_ts is not None and not delivered):
            raise ValueError("a delivered message has no error, and only a delivered one has a message_ts")
        return self


class ReminderRow(BaseModel):
    """A reminder of a change: scheduled in Slack (``scheduled_message_id``) or waiting to come within Slack's
    120 days (``scheduled_message_id`` None). ``refreshed_at``: when the parent was refreshed at its moment."""

    model_config = _ROW

    id: int
    proposal_id: int
    kind: str
    post_at: int
    channel: str
    scheduled_message_id: str | None
    scheduled_at: int | None
    refreshed_at: int | None


class SensitiveRow(BaseModel):
    """A sensitive period an admin declared from Slack (local dates of the region, inclusive)."""

    model_config = _ROW

    id: int
    region_id: str
    start_date: date
    end_date: date
    reason: str
    declared_by: str
    declared_at: int
    lifted_by: str | None
    lifted_at: int | None


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_SLOT = "\x00chatops: canonical JSON given\x00"
_SLOT_JSON = canonical_json(_SLOT)  # control characters are always escaped: no other text encodes like this


def canonical_json_with(value: dict[str, Any], key: str, given: str) -> str:
    """``canonical_json({**value, key: v})`` where ``given`` is ``canonical_json(v)`` already: ``v`` is not encoded
    a second time (an event's data is stored and hashed; a proposal's is about 90 KB with the shipped regions).
    The result is the same text, character for character (a property test holds it so)."""
    text = canonical_json({**value, key: _SLOT})
    head, found, tail = text.partition(_SLOT_JSON)
    if not found or _SLOT_JSON in tail:  # a value that is the slot itself: encode the whole the long way
        return canonical_json({**value, key: json.loads(given)})
    return head + given + tail


@dataclass(frozen=True, slots=True)
class Encoded:
    """A JSON object and its canonical text (``canonical_json(value)``), encoded once for every place that stores
    it: a proposal's evaluation snapshot (about 90 KB with the shipped regions) goes into the proposal's row and
    into the audit event that set it. Build it with :meth:`of`; the two must not disagree."""

    value: dict[str, Any]
    text: str

    @classmethod
    def of(cls, value: dict[str, Any]) -> Encoded:
        return cls(value, canonical_json(value))


def event_hash_v1(
    *,
    prev_hash: str,
    proposal_id: int,
    seq: int,
    kind: str,
    actor: str,
    at: int,
    reason: str,
    data: dict[str, Any],
) -> str:
    """The chained hash of one audit event written before the global chain (hash version 1): chained per
    proposal, covering neither the global sequence nor a display name."""
    body = canonical_json(
        {
            "proposal_id": proposal_id,
            "seq": seq,
            "kind": kind,
            "actor": actor,
            "at": at,
            "reason": reason,
            "data": data,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def event_hash(
    *,
    prev_hash: str,
    gseq: int,
    proposal_id: int | None,
    seq: int,
    kind: str,
    actor: str,
    actor_name: str | None,
    at: int,
    reason: str,
    data: dict[str, Any],
    data_json: str | None = None,
) -> str:
    """The chained hash of one audit event (hash version 2): ``prev_hash`` is the previous event's in the one
    global chain. ``data_json``, if given, is ``canonical_json(data)`` already (as the store writes it)."""
    head = {
        "v": 2,
        "gseq": gseq,
        "proposal_id": proposal_id,
        "seq": seq,
        "kind": kind,
        "actor": actor,
        "actor_name": actor_name,
        "at": at,
        "reason": reason,
    }
    body = (
        canonical_json({**head, "data": data})
        if data_json is None
        else canonical_json_with(head, "data", data_json)
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def audit_key_id(key: bytes) -> str:
    """A short public name for an audit key (so a checkpoint signed with another key says so)."""
    return hashlib.sha256(b"chatops-audit-key\n" + key).hexdigest()[:16]


def checkpoint_mac(key: bytes, *, gseq: int, hash: str, at: int, prev_mac: str) -> str:
    """HMAC-SHA256 of a checkpoint: the chain's head (gseq, hash), when, and the previous checkpoint's MAC."""
    body = canonical_json({"gseq": gseq, "hash": hash, "at": at, "prev_mac": prev_mac})
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


class Tx(Protocol):
    """One open transaction."""

    def lock_proposal(self, proposal_id: int) -> ProposalRow | None:
        """Read a proposal and lock it until the transaction ends; None if there is no such proposal."""

    def insert_proposal(self, new: NewProposal) -> ProposalRow:
        """Insert a proposal (in ``new.status``, pending unless said; round 1, version 1, no message yet).
        Raises DuplicateKey."""

    def update_proposal(self, proposal_id: int, *, at: int, **fields: Any) -> ProposalRow:
        """Set columns (status, start_ts, end_ts, flagged, approvals_required, round, evaluation (a dict or an
        :class:`Encoded`), message_ts…), bump ``version``, set ``updated_at`` to ``at``; returns the new row."""

    def add_approval(self, proposal_id: int, *, round: int, approver: str, at: int) -> bool:
        """Record an approval; False (and nothing written) when this approver already approved this round."""

    def approvers(self, proposal_id: int, *, round: int) -> list[str]:
        """Who approved this round, in the order they approved."""

    def overlapping(
        self,
        *,
        start_ts: int,
        end_ts: int,
        services: Sequence[str],
        statuses: Sequence[Status],
        exclude: int | None = None,
        limit: int = 200,
    ) -> list[ProposalRow]:
        """:meth:`Store.overlapping`, inside this transaction."""

    def append_event(
        self,
        proposal_id: int | None,
        payload: EventPayload,
        *,
        actor: str,
        at: int,
        reason: str = "",
        actor_name: str | None = None,
        evaluation: Encoded | None = None,
    ) -> EventRow:
        """Append an audit event to the one chain (``proposal_id`` None: about no single change).
        ``evaluation``: the payload's ``evaluation``, encoded already (as the proposal's row stores it); its
        text goes into the event as it is, not dumped and encoded again."""

    def enqueue(
        self,
        proposal_id: int,
        *,
        kind: OutboxKind,
        at: int,
        event_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """Add an outbox message due now (a reply names its event; a notice carries its ``payload``); returns
        its id."""


class Store(Protocol):
    """The storage interface the service uses."""

    def transaction(self) -> AbstractContextManager[Tx]: ...

    def reading(self) -> AbstractContextManager[None]:
        """The reads this thread makes inside the block share one short read transaction (one connection, one
        BEGIN and COMMIT), instead of one each. Nested blocks join the outer one; a write transaction inside
        one raises RuntimeError. Hold it for a few reads, never across a Slack call."""

    def get_proposal(self, proposal_id: int) -> ProposalRow | None: ...

    def proposal_by_key(self, idempotency_key: str) -> ProposalRow | None: ...

    def list_proposals(
        self, *, statuses: Sequence[Status], end_after: int | None = None, limit: int = 100
    ) -> list[ProposalRow]:
        """Proposals in these statuses (and ending after ``end_after``), soonest start first."""

    def list_summaries(
        self, *, statuses: Sequence[Status], end_after: int | None = None, limit: int = 100
    ) -> list[ProposalSummary]:
        """:meth:`list_proposals` without the evaluation snapshots (lists that only show the changes)."""

    def overlapping(
        self,
        *,
        start_ts: int,
        end_ts: int,
        services: Sequence[str],
        statuses: Sequence[Status],
        exclude: int | None = None,
        limit: int = 200,
    ) -> list[ProposalRow]:
        """Proposals in these statuses whose window overlaps ``[start_ts, end_ts)`` and that touch at least one
        of ``services`` (none when ``services`` is empty), soonest start first, without ``exclude``."""

    def approvers(self, proposal_id: int, *, round: int) -> list[str]: ...

    def events(self, proposal_id: int) -> list[EventRow]:
        """A proposal's audit events in order."""

    def event(self, event_id: int) -> EventRow | None:
        """One audit event by its id."""

    def iter_events(self, *, since: int | None = None) -> Iterator[EventRow]:
        """Every audit event (at or after ``since``), in the chain's (``gseq``) order, streamed."""

    def iter_proposals(self) -> Iterator[ProposalRow]:
        """Every proposal, by id, streamed."""

    def all_approvals(self) -> dict[tuple[int, int], list[str]]:
        """Every approval: (proposal, round) -> approvers in the order they approved."""

    def all_sensitive_periods(self) -> list[SensitiveRow]:
        """Every declared sensitive period, lifted or not, by id."""

    def checkpoints(self) -> list[CheckpointRow]:
        """Every signed checkpoint, in the order written."""

    def set_message_ts(self, proposal_id: int, message_ts: str) -> None:
        """Remember where the proposal's parent message is (does not bump ``version``)."""

    def claim_outbox(
        self,
        *,
        now: int,
        limit: int = 10,
        lease_seconds: int = 60,
        first: Outcome | Sequence[Outcome] | None = None,
        except_kind: str = "",
        release: Sequence[OutboxRow] = (),
        follow: int = 0,
    ) -> list[OutboxRow]:
        """Lease up to ``limit`` deliverable messages: per proposal only the oldest pending one, if due. Each
        comes with its proposal (:attr:`OutboxRow.proposal`), read in the same transaction. ``first``: record
        what became of the messages in hand in the same transaction, before looking (as :meth:`record` would):
        one transaction a claim instead of two; ``release``: give back the leases of claimed messages left
        untried (due again at once, no attempt counted), unless another claim has leased them since.
        ``except_kind``: leave messages of that kind (and, as always, the later messages of their proposals)
        for another claim. ``follow``: with each message, up to that many of the pending messages after it of
        its proposal, in order, as long as each is due, unleased and not of ``except_kind`` (a change approved
        queues its parent's update, a thread reply and its reminders' sync at once: one claim for the three)."""

    def record(self, *outcomes: Outcome, release: Sequence[OutboxRow] = ()) -> None:
        """Record what became of claimed messages (see :class:`Outcome`), and give back the leases of
        ``release``, in one transaction."""

    def mark_delivered(self, message_id: int, *, at: int, message_ts: str | None = None) -> None:
        """The message is delivered. ``message_ts``: the parent message it posted (or found), stored on its
        proposal in the same transaction (as :meth:`set_message_ts` would)."""

    def mark_failed(self, message_id: int, *, error: str, retry_at: int) -> None:
        """Count the attempt, keep the error, and make the message due again at ``retry_at``."""

    def mark_abandoned(self, message_id: int, *, error: str, at: int) -> None:
        """Give up on a message (counts the attempt, keeps the error): it is never claimed again and no longer
        holds back the later messages of its proposal."""

    def outbox_stats(self, *, now: int) -> tuple[int, int]:
        """(messages neither delivered nor abandoned, age in seconds of the oldest one, 0 when none)."""

    def has_undelivered(self, proposal_id: int, *, kind: str) -> bool:
        """Whether the proposal has a message of ``kind`` neither delivered nor abandoned (queued, waiting for
        a retry, or in hand)."""

    def count_proposals(
        self, *, statuses: Sequence[Status] | None = None, end_after: int | None = None
    ) -> int:
        """How many proposals are stored (only those in ``statuses`` ending after ``end_after``, if given)."""

    def declare_sensitive(
        self,
        *,
        region_id: str,
        start_date: date,
        end_date: date,
        reason: str,
        actor: str,
        at: int,
        actor_name: str | None = None,
        region_name: str | None = None,
    ) -> SensitiveRow:
        """Record a sensitive period declared by ``actor``, and its audit event, in one transaction."""

    def lift_sensitive(
        self, period_id: int, *, actor: str, at: int, actor_name: str | None = None
    ) -> SensitiveRow | None:
        """Mark a declared period lifted (and record the audit event); None when there is no such period or it
        was already lifted."""

    def sensitive_periods(self, *, ending_on_or_after: date | None = None) -> list[SensitiveRow]:
        """Declared periods not lifted (ending on or after the date, when given), by start date."""

    def approvals_at(self, proposal_id: int, *, round: int) -> list[tuple[str, int]]:
        """Who approved this round and when, in the order they approved."""

    def reminders(self, proposal_id: int | None = None) -> list[ReminderRow]:
        """A change's reminders (every change's when None), by post_at."""

    def save_reminder(
        self,
        proposal_id: int,
        *,
        kind: str,
        post_at: int,
        channel: str,
        scheduled_message_id: str | None,
        scheduled_at: int | None,
    ) -> ReminderRow:
        """Insert or replace the change's reminder of this kind (``refreshed_at`` is cleared)."""

    def drop_reminder(self, reminder_id: int) -> None: ...

    def mark_reminder_refreshed(self, reminder_id: int, *, at: int) -> None: ...

    def scheduled_since(self, channel: str, *, since: int) -> list[int]:
        """When reminders still known in ``channel`` were scheduled, for those scheduled at or after ``since``."""

    def ping(self) -> None:
        """Raise if the database cannot be reached."""

    def close(self) -> None: ...


def open_store(url: str, *, audit_key: bytes | None = None) -> Store:
    """Open (and migrate) the store at ``url``: ``sqlite:///path.db``, ``sqlite://`` (memory) or
    ``postgresql://user@host:port/db``. With ``audit_key``, each change also writes a signed checkpoint."""
    from chatops.store.sql import SqlStore

    return SqlStore.open(url, audit_key=audit_key)
