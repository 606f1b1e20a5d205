"""The regions file's ``[[services]]``: names and owners, checked by ``chatops config validate`` with lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from chatops.cli import main
from chatops.config import parse_regions
from chatops.errors import ConfigError

REGION = '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-09:00"]\n'


def validate(tmp_path: Path, text: str) -> tuple[int, list[str], str]:
    path = tmp_path / "regions.toml"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["config", "validate", str(path)], out=out, err=err)
    return code, err.getvalue().splitlines(), str(path)


def test_services_and_their_owners_are_read() -> None:
    config = parse_regions(
        REGION + '[[services]]\nname = "api"\nowners = ["S0API", "U0ALICE"]\n[[services]]\nname = "db"\n'
        '[[services]]\nname = "edge"\nowners = ["U0ALICE", "W0BOB"]\n[policy]\nconflict_extra_approvals = 1\n',
        source="test",
    )
    assert config.service_names == ("api", "db", "edge")
    assert config.owners_of(("edge", "api")) == ("S0API", "U0ALICE", "W0BOB")
    assert config.owners_of(("db",)) == ()
    assert config.policy.approvals_for(flagged=False, conflicting=True) == 2
    assert config.policy.approvals_for(flagged=True, conflicting=True) == 3
    assert config.policy.approvals_for(flagged=True) == 2


def test_no_services_is_fine_and_the_policy_adds_nothing_by_default() -> None:
    config = parse_regions(REGION, source="test")
    assert config.services == () and config.policy.conflict_extra_approvals == 0
    assert config.policy.approvals_for(flagged=False, conflicting=True) == 1


def test_validate_reports_each_service_problem_at_its_line(tmp_path: Path) -> None:
    text = (
        REGION
        + '\n[[services]]\nname = "API"\nowners = ["bob"]\n\n[[services]]\nname = "db"\n\n[[services]]\nname = "db"\n'
    )
    code, lines, path = validate(tmp_path, text)
    assert code == 2
    assert lines == [
        f"{path}:8: field services[0].name: may contain only lower-case letters, digits, '.', '_' and '-' "
        "(at most 64 characters) (not 'API')",
        f"{path}:9: field services[0].owners[0]: must be a Slack user (U…, W…) or user-group (S…) id (not 'bob')",
        f"{path}:15: field services[2].name: service 'db' is listed twice (first by services[1] at line 12)",
        f"{path}: 3 problems",
    ]


def test_a_service_listed_twice_is_reported_once(tmp_path: Path) -> None:
    code, lines, path = validate(tmp_path, REGION + '[[services]]\nname = "db"\n[[services]]\nname = "db"\n')
    assert code == 2
    assert lines == [
        f"{path}:9: field services[1].name: service 'db' is listed twice (first by services[0] at line 7)",
        f"{path}: 1 problem",
    ]


@pytest.mark.parametrize("extra", [-1, 6])
def test_conflict_extra_approvals_is_bounded(extra: int) -> None:
    with pytest.raises(ConfigError, match="conflict_extra_approvals"):
        parse_regions(REGION + f"[policy]\nconflict_extra_approvals = {extra}\n", source="test")
