"""Events written before the global chain (hash version 1) keep verifying: a database written by that code,
kept as a fixture (fixtures/v1_chain.db, and its export v1_chain.jsonl), is migrated and verified."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from chatops.audit import verify, verify_chain
from chatops.config import parse_regions
from chatops.domain.policy import Status
from chatops.service import Service
from chatops.store import EventRow, event_hash_v1
from chatops.store.schema import events
from chatops.store.sql import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
CONFIG = parse_regions(
    "[policy]\napprovals_required = 1\nflagged_approvals_required = 2\n"
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n'
    '[[regions]]\nid = "br"\nname = "Brazil"\ntimezone = "America/Sao_Paulo"\npeak_hours = ["08:00-22:00"]\n',
    source="fixture",
)


def test_the_exported_v1_chain_verifies_with_the_old_hash() -> None:
    records = [json.loads(line) for line in (FIXTURES / "v1_chain.jsonl").read_text().splitlines()]
    assert len(records) == 12
    for record in records:
        assert record["hash"] == event_hash_v1(
            prev_hash=record["prev_hash"],
            proposal_id=record["proposal_id"],
            seq=record["seq"],
            kind=record["kind"],
            actor=record["actor"],
            at=record["at"],
            reason=record["reason"],
            data=record["data"],
        )
    edited = {**records[1], "data": {**records[1]["data"], "approvals": 2}}
    assert edited["hash"] != event_hash_v1(
        **{k: edited[k] for k in ("prev_hash", "proposal_id", "seq", "kind", "actor", "at", "reason", "data")}
    )


def migrated(tmp_path: Path) -> SqlStore:
    copy = tmp_path / "old.db"
    shutil.copy(FIXTURES / "v1_chain.db", copy)
    return SqlStore.open(f"sqlite:///{copy}")


def test_an_old_database_migrates_and_verifies_then_grows_the_global_chain(tmp_path: Path) -> None:
    store = migrated(tmp_path)
    try:
        old = list(store.iter_events())
        assert [e.gseq for e in old] == list(range(1, 13))
        assert {e.hash_version for e in old} == {1}
        assert not verify(store).problems
        for event in old:
            event.payload  # every old event parses as its typed record  # noqa: B018

        service = Service(
            store=store,
            config=CONFIG,
            channel="C1",
            approvers=lambda: frozenset({"UA", "UB"}),
            admins=lambda: frozenset({"UADMIN"}),
            clock=lambda: NOW,
        )
        pending = [p for p in store.iter_proposals() if p.status is Status.PENDING]
        assert pending
        service.approve(pending[0].id, actor="UA")
        grown = list(store.iter_events())
        assert len(grown) == 13 and grown[-1].hash_version == 2 and grown[-1].prev_hash == grown[-2].hash
        report = verify(store)
        assert not report.problems, report.problems
    finally:
        store.close()


def test_an_edited_old_event_is_still_caught(tmp_path: Path) -> None:
    store = migrated(tmp_path)
    try:
        with store.engine.begin() as conn:
            conn.execute(update(events).where(events.c.gseq == 2).values(actor="UMALLORY"))
        problems = [str(p) for p in verify(store).problems]
        assert (
            "CHG-2 (event 2): its content does not match its hash (the proposed event was altered)"
            in problems
        )
        assert "CHG-2: proposer is 'UP' in the table but the events say 'UMALLORY'" in problems
        chain: list[EventRow] = list(store.iter_events())
        assert verify_chain(chain)
    finally:
        store.close()
