"""The audit log, read back: export, one proposal's history, and verification of the hash chains.

Each event carries the hash of the previous event of its proposal (see :func:`chatops.store.event_hash`), so
changing, removing or reordering a stored event breaks its chain from that point on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from chatops.domain.timeline import from_ts
from chatops.store import EventRow, canonical_json

CSV_FIELDS = ("proposal_id", "seq", "at", "at_iso", "kind", "actor", "reason", "data", "prev_hash", "hash")


@dataclass(frozen=True)
class ChainProblem:
    proposal_id: int
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"proposal {self.proposal_id}, event {self.seq}: {self.problem}"


def verify_chains(events: Iterable[EventRow]) -> list[ChainProblem]:
    """Check every proposal's chain; events must come in (proposal, seq) order, as the store streams them."""
    problems: list[ChainProblem] = []
    current: int | None = None
    expected_seq = 1
    prev_hash = ""
    for event in events:
        if event.proposal_id != current:
            current, expected_seq, prev_hash = event.proposal_id, 1, ""
        if event.seq != expected_seq:
            problems.append(ChainProblem(event.proposal_id, event.seq, f"expected event {expected_seq} here"))
        if event.prev_hash != prev_hash:
            problems.append(
                ChainProblem(event.proposal_id, event.seq, "does not follow the previous event's hash")
            )
        if event.recomputed_hash() != event.hash:
            problems.append(ChainProblem(event.proposal_id, event.seq, "its content does not match its hash"))
        expected_seq = event.seq + 1
        prev_hash = event.hash
    return problems


def _record(event: EventRow) -> dict[str, object]:
    return {
        "proposal_id": event.proposal_id,
        "seq": event.seq,
        "at": event.at,
        "at_iso": from_ts(event.at).isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "reason": event.reason,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
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
    line = f"{event.seq:>3}  {when}  {event.kind:<10} by {event.actor}"
    data = event.data
    if event.kind == "approved":
        line += f"  ({data.get('approvals')} of {data.get('required')})"
        if data.get("justification"):
            line += f"  justification: {data['justification']}"
    elif event.kind == "postponed":
        line += f"  {data.get('from', {}).get('start')} -> {data.get('to', {}).get('start')}"
    elif event.kind == "proposed":
        window = data.get("window", {})
        flagged = data.get("evaluation", {}).get("flagged")
        line += f"  {window.get('start')} -> {window.get('end')}{'  FLAGGED' if flagged else ''}"
    if event.reason:
        line += f"  reason: {event.reason}"
    return line
