"""`chatops audit export|show|verify` and `chatops db upgrade`, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from chatops.cli import main
from chatops.config import parse_regions
from chatops.service import ProposalRequest, Service
from chatops.store.schema import events
from chatops.store.sql import SqlStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = parse_regions(
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n',
    source="test",
)


def history(store: SqlStore) -> tuple[int, int]:
    service = Service(
        store=store,
        config=CONFIG,
        channel="C1",
        approvers=lambda: frozenset({"UA"}),
        clock=lambda: NOW,
        display_name={"UA": "Ana Approver"}.get,
    )

    def propose(title: str) -> int:
        request = ProposalRequest(
            idempotency_key=None,
            proposer="UP",
            title=title,
            start=NOW + timedelta(days=2),
            duration=timedelta(hours=1),
            input_tz="UTC",
        )
        return service.propose(request).proposal.id

    first, second = propose("Core upgrade"), propose("DNS move")
    service.approve(first, actor="UA")
    service.reject(second, actor="UA", reason='clashes with the freeze, "quoted", comma')
    return first, second


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_export_show_and_verify(store: SqlStore, db_url: str) -> None:
    first, second = history(store)

    code, out, err = run("audit", "export", "--database-url", db_url)
    assert code == 0 and not err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["gseq"], r["proposal_id"], r["seq"], r["kind"]) for r in records] == [
        (1, first, 1, "proposed"),
        (2, second, 1, "proposed"),
        (3, first, 2, "approved"),
        (4, second, 2, "rejected"),
    ]
    assert (
        records[2]["actor"] == "UA"
        and records[0]["prev_hash"] == ""
        and all(r["prev_hash"] == before["hash"] for before, r in itertools.pairwise(records))
    )
    assert records[0]["data"]["title"] == "Core upgrade" and records[0]["data"]["app_version"]
    assert records[0]["data"]["evaluation"]["regions"][0]["id"] == "ir"  # what the actor saw

    code, out, _ = run("audit", "export", "--format", "csv", "--database-url", db_url)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 4 and rows[3]["reason"] == 'clashes with the freeze, "quoted", comma'

    code, out, _ = run("audit", "export", "--since", "2100-01-01", "--database-url", db_url)
    assert code == 0 and out == ""

    code, out, _ = run("audit", "show", f"CHG-{first}", "--database-url", db_url)
    assert code == 0 and "Core upgrade" in out and "approved" in out and "not posted yet" in out
    lines = out.splitlines()
    assert any("proposed" in line and "title: Core upgrade" in line for line in lines)
    assert any("approved" in line and "by UA (Ana Approver)" in line and "(1 of 1)" in line for line in lines)

    code, out, _ = run("audit", "verify", "--database-url", db_url)
    assert code == 0 and "audit log intact: 4 events, 2 changes" in out


def test_verify_finds_a_tampered_event(store: SqlStore, db_url: str) -> None:
    first, _ = history(store)
    with store.engine.begin() as conn:
        conn.execute(
            update(events)
            .where(events.c.proposal_id == first, events.c.seq == 2)
            .values(actor="U_SOMEONE_ELSE")
        )
    code, out, _ = run("audit", "verify", "--database-url", db_url)
    assert code == 1
    assert f"CHG-{first} (event 3): its content does not match its hash" in out


def test_db_upgrade_and_bad_urls(db_url: str) -> None:
    code, out, _ = run("db", "upgrade", "--database-url", db_url)
    assert code == 0 and "schema revision" in out
    code, out, _ = run("db", "upgrade", "--database-url", db_url)  # twice is fine
    assert code == 0
    code, _, err = run("audit", "show", "CHG-999", "--database-url", db_url)
    assert code == 2 and err.count("\n") == 1 and "no change CHG-999" in err
    code, _, err = run("audit", "show", "yesterday", "--database-url", db_url)
    assert code == 2 and "not a change number" in err
    code, _, err = run("audit", "verify", "--database-url", "postgresql://nobody:s3cret@127.0.0.1:1/x")
    assert code == 2 and err.count("\n") == 1 and "cannot open the database" in err and "s3cret" not in err


def test_audit_commands_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for command in (("verify",), ("export",), ("show", "CHG-1")):
        code, out, err = run("audit", *command, "--database-url", f"sqlite:///{missing}")
        assert code == 2 and out == "" and err.count("\n") == 1 and "no database" in err, (command, err)
        assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    code, _, err = run("audit", "verify", "--database-url", f"sqlite:///{empty}")
    assert code == 2 and "no chatops schema" in err
