"""chatops/domain is the pure core: no Slack, no HTTP, no database, no environment, no logging, no clock."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import chatops.domain

DOMAIN = Path(chatops.domain.__file__).parent
MODULES = sorted(DOMAIN.rglob("*.py"))
FORBIDDEN = {
    "slack_bolt",
    "slack_sdk",
    "httpx",
    "sqlite3",
    "sqlalchemy",
    "psycopg",
    "os",
    "logging",
    "socket",
    "requests",
    "urllib",
    "time",  # the clock (datetime.time, the class, is fine)
}
CLOCK_CALLS = re.compile(r"\.now\(|utcnow|today\(|\btime\.time\(|monotonic\(|perf_counter\(")


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_package_has_modules_to_check() -> None:
    assert {p.name for p in MODULES} >= {
        "models.py",
        "evaluate.py",
        "suggest.py",
        "timeline.py",
        "windows.py",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_domain_module_imports_no_io_and_reads_no_clock(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert imported_roots(ast.parse(source)) & FORBIDDEN == set()
    assert CLOCK_CALLS.findall(source) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import os", {"os"}),
        ("import os.path as p", {"os"}),
        ("from slack_sdk.web import WebClient", {"slack_sdk"}),
        ("import time", {"time"}),
        ("from datetime import time", set()),
        ("from . import models", set()),
    ],
)
def test_the_import_walk_sees_every_form_of_import(source: str, found: set[str]) -> None:
    assert imported_roots(ast.parse(source)) & FORBIDDEN == found


@pytest.mark.parametrize("line", ["datetime.now(UTC)", "datetime.utcnow()", "date.today()", "time.time()"])
def test_the_clock_pattern_sees_clock_reads(line: str) -> None:
    assert CLOCK_CALLS.search(line)
