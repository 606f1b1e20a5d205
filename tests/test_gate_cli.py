"""`chatops gate CHG-12 [--at TIME] [--json]`: what a deploy pipeline runs before it starts the work."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatops.cli import main
from chatops.config import parse_regions
from chatops.service import ProposalRequest, Service
from chatops.store.sql import SqlStore

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=2)  # 2026-11-27T12:00Z, for one hour
CONFIG = parse_regions(
    '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-09:00"]\n',
    source="test",
)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def database(tmp_path: Path) -> tuple[str, int, int]:
    """A database with one approved change (CHG-1) and one pending change (CHG-2)."""
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    store = SqlStore.open(url)
    service = Service(
        store=store, config=CONFIG, channel="C1", approvers=lambda: frozenset({"UA"}), clock=lambda: NOW
    )
    ids = []
    for title in ("Core network upgrade", "Database failover drill"):
        request = ProposalRequest(
            idempotency_key=None,
            proposer="UP",
            title=title,
            start=START,
            duration=timedelta(hours=1),
            input_tz="UTC",
        )
        ids.append(service.propose(request).proposal.id)
    service.approve(ids[0], actor="UA")
    store.close()
    return url, ids[0], ids[1]


@pytest.mark.parametrize(
    ("at", "status", "words"),
    [
        ("2026-11-27T11:59:59Z", 1, "opens in 1 s"),
        ("2026-11-27T12:00Z", 0, "open, closes in 1 h"),
        (
            "2026-11-27T15:30+03:30",
            0,
            "is approved and its window is open, closes in 1 h: go",
        ),  # an offset: 12:00Z
        ("2026-11-27T12:59:59", 0, "open, closes in 1 s"),  # no offset: UTC
        ("2026-11-27T13:00Z", 1, "ended 0 s ago"),
    ],
)
def test_go_only_inside_the_approved_window(
    database: tuple[str, int, int], at: str, status: int, words: str
) -> None:
    url, approved, _ = database
    code, out, err = run("gate", f"CHG-{approved}", "--at", at, "--database-url", url)
    assert (code, err) == (status, "")
    assert words in out


def test_a_pending_change_never_goes_even_inside_its_window(database: tuple[str, int, int]) -> None:
    url, _, pending = database
    code, out, _ = run("gate", str(pending), "--at", "2026-11-27T12:30Z", "--database-url", url, "--json")
    assert code == 3
    answer = json.loads(out)
    assert answer["go"] is False
    assert answer["state"] == "not_approved"
    assert answer["status"] == "pending"
    assert answer["window"] == {"start": "2026-11-27T12:00:00Z", "end": "2026-11-27T13:00:00Z"}
    assert answer["exit_status"] == 3


def test_the_json_answer_counts_down_to_open_and_close(database: tuple[str, int, int]) -> None:
    url, approved, _ = database
    code, out, _ = run(
        "gate", f"chg-{approved}", "--at", "2026-11-27T11:00Z", "--json", "--database-url", url
    )
    answer = json.loads(out)
    assert (code, answer["state"], answer["seconds_to_open"], answer["seconds_to_close"]) == (
        1,
        "not_yet_open",
        3600,
        7200,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gate", "CHG-x"], "is not a change number"),
        (["gate", "99"], "there is no change CHG-99"),
        (["gate", "1", "--at", "next tuesday"], "next tuesday"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    database: tuple[str, int, int], argv: list[str], message: str
) -> None:
    url, _, _ = database
    code, out, err = run(*argv, "--database-url", url)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_a_missing_database_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    code, _, err = run("gate", "1", "--database-url", f"sqlite:///{missing}")
    assert code == 2
    assert "there is no database" in err
    assert not missing.exists()
