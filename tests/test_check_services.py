"""`chatops check --services api,db`: a pipeline asks about a window it has not proposed: the names are checked
against the regions file and, with a database, open changes overlapping the window on them are reported."""

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

REGIONS = """
[[regions]]
id = "ir"
name = "Iran"
timezone = "Asia/Tehran"
peak_hours = ["08:00-09:00"]

[[services]]
name = "api"
owners = ["S0API"]

[[services]]
name = "db"
"""
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def regions(tmp_path: Path) -> str:
    path = tmp_path / "regions.toml"
    path.write_text(REGIONS, encoding="utf-8")
    return str(path)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """CHG-1 on api (approved), CHG-2 on db (pending), both 12:00–13:00 UTC on 2026-11-27."""
    url = f"sqlite:///{tmp_path / 'chatops.db'}"
    store = SqlStore.open(url)
    service = Service(
        store=store,
        config=parse_regions(REGIONS, source="test"),
        channel="C1",
        approvers=lambda: frozenset({"UA"}),
        clock=lambda: NOW,
    )
    for title, services in (("Api upgrade", ("api",)), ("Db drill", ("db",))):
        row = service.propose(
            ProposalRequest(
                idempotency_key=None,
                proposer="UP",
                title=title,
                start=START,
                duration=timedelta(hours=1),
                input_tz="UTC",
                services=services,
            )
        ).proposal
        if title == "Api upgrade":
            service.approve(row.id, actor="UA")
    store.close()
    return url


def check(regions: str, start: str, *extra: str) -> tuple[int, str, str]:
    return run("check", "--config", regions, "--start", start, "--duration", "1h", *extra)


def test_without_a_database_only_the_names_are_checked_and_it_says_so(regions: str) -> None:
    status, out, err = check(regions, "2026-11-27T12:30Z", "--services", "api,db")
    assert status == 0, err
    assert "Services: api, db (known to the regions file)" in out
    assert "No database given" in out and "only the names were checked" in out


def test_unknown_services_exit_2_naming_the_known_ones(regions: str) -> None:
    status, out, err = check(regions, "2026-11-27T12:30Z", "--services", "api,cache")
    assert status == 2 and out == ""
    assert err.strip().endswith("unknown service cache; the known services are api, db")
    assert len(err.strip().splitlines()) == 1


def test_an_overlap_on_a_named_service_is_reported_and_exits_1(regions: str, database: str) -> None:
    status, out, _ = check(regions, "2026-11-27T12:30Z", "--services", "api", "--database-url", database)
    assert status == 1
    assert "CONFLICT: 1 open change(s)" in out
    assert "CHG-1 'Api upgrade' (approved) on api: 2026-11-27 12:00–2026-11-27 13:00 UTC" in out
    assert "CHG-2" not in out


def test_the_database_comes_from_the_environment_too(
    regions: str, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATOPS_DATABASE_URL", database)
    status, out, _ = check(regions, "2026-11-27T12:59Z", "--services", "db,api", "--json")
    assert status == 1
    document = json.loads(out)["services"]
    assert document["checked"] == "database" and document["names"] == ["db", "api"]
    assert [(c["change"], c["services"]) for c in document["conflicts"]] == [
        ("CHG-1", ["api"]),
        ("CHG-2", ["db"]),
    ]


def test_a_window_after_them_has_no_conflict(regions: str, database: str) -> None:
    status, out, _ = check(regions, "2026-11-27T13:00Z", "--services", "api", "--database-url", database)
    assert status == 0
    assert "No open change overlaps this window on them (database checked)" in out


def test_a_database_without_services_is_a_usage_error(regions: str, database: str) -> None:
    status, _, err = check(regions, "2026-11-27T13:00Z", "--database-url", database)
    assert status == 2 and "--database-url is for --services" in err


def test_check_without_services_is_unchanged(regions: str) -> None:
    status, out, _ = check(regions, "2026-11-27T13:00Z", "--json")
    assert status == 0 and "services" not in json.loads(out)
