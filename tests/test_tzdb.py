"""The time-zone rules are the tzdata package's on every machine, or the host's when CHATOPS_TZ_SOURCE=host;
the version in use is shown and stored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import tzdata  # type: ignore[import-untyped]

from chatops import tzdb
from chatops.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "iran-2009.toml")
CHECK = ["check", "--start", "2009-06-16T05:00Z", "--duration", "1h", "--config", EXAMPLE, "--json"]


@pytest.fixture
def odd_host(tmp_path: Path) -> Path:
    """A host zoneinfo directory whose rules differ on purpose: its Asia/Tehran is really UTC, release 1999z."""
    host = tmp_path / "zoneinfo"
    (host / "Asia").mkdir(parents=True)
    utc = resources.files("tzdata.zoneinfo").joinpath("UTC").read_bytes()
    (host / "Asia" / "Tehran").write_bytes(utc)
    (host / "tzdata.zi").write_text("# version 1999z\n# a test directory\n", encoding="utf-8")
    return host


def _chatops(*argv: str, host: Path, source: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATOPS_")}
    env["PYTHONTZPATH"] = str(host)
    if source is not None:
        env["CHATOPS_TZ_SOURCE"] = source
    return subprocess.run(
        [sys.executable, "-m", "chatops", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _tehran(document: dict) -> str:
    return next(r["local_start"] for r in document["regions"] if r["id"] == "ir")


def test_the_package_rules_win_over_a_host_directory_with_other_rules(odd_host: Path) -> None:
    done = _chatops(*CHECK, host=odd_host)
    assert (done.returncode, done.stderr) == (1, "")
    document = json.loads(done.stdout)
    assert _tehran(document) == "2009-06-16T09:30:00+04:30"
    assert document["tzdata"] == {
        "source": "package",
        "version": tzdata.IANA_VERSION,
        "package_version": tzdata.__version__,
    }


def test_the_host_setting_switches_to_the_host_rules(odd_host: Path) -> None:
    done = _chatops(*CHECK, host=odd_host, source="host")
    assert done.stderr == ""
    document = json.loads(done.stdout)
    assert _tehran(document) == "2009-06-16T05:00:00+00:00"  # the odd host's Tehran is UTC
    assert document["tzdata"] == {"source": "host", "version": "1999z", "path": str(odd_host)}
    assert document["flagged"] is False and done.returncode == 0  # 05:00 in "Tehran" is before its peak


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (None, f"time zone rules IANA {tzdata.IANA_VERSION} from the tzdata package {tzdata.__version__}"),
        (
            "package",
            f"time zone rules IANA {tzdata.IANA_VERSION} from the tzdata package {tzdata.__version__}",
        ),
        ("host", "time zone rules IANA 1999z from the host ({host})"),
    ],
)
def test_version_shows_the_rules_in_use(odd_host: Path, source: str | None, shown: str) -> None:
    done = _chatops("--version", host=odd_host, source=source)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("chatops ")
    assert done.stdout.rstrip().endswith(shown.format(host=odd_host))


def test_a_bad_source_is_one_line_and_exit_2(odd_host: Path) -> None:
    done = _chatops(*CHECK[:-1], host=odd_host, source="system")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "chatops: CHATOPS_TZ_SOURCE 'system' is not one of: package, host\n"
    as_json = _chatops(*CHECK, host=odd_host, source="system")
    assert (as_json.returncode, as_json.stderr) == (2, "")
    assert json.loads(as_json.stdout) == {"error": "CHATOPS_TZ_SOURCE 'system' is not one of: package, host"}


def test_a_host_without_zoneinfo_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONTZPATH", str(tmp_path / "missing"))
    try:
        with pytest.raises(
            ConfigError, match="CHATOPS_TZ_SOURCE=host, but the host has no zoneinfo directory"
        ):
            tzdb.use("host")
    finally:
        tzdb.use("package")


def test_the_host_version_is_read_from_tzdata_zi_or_version_file(tmp_path: Path) -> None:
    assert tzdb._host_version(tmp_path) is None
    (tmp_path / "+VERSION").write_text("2024a\n", encoding="utf-8")
    assert tzdb._host_version(tmp_path) == "2024a"
    shutil.copy(resources.files("tzdata.zoneinfo").joinpath("tzdata.zi"), tmp_path / "tzdata.zi")
    assert tzdb._host_version(tmp_path) == tzdata.IANA_VERSION


def test_switching_rules_in_process_forgets_what_was_computed_under_the_old_ones(
    odd_host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from chatops.config import parse_regions
    from chatops.domain import evaluate
    from chatops.domain.models import Window

    config = parse_regions(
        '[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Tehran"\npeak_hours = ["08:00-23:00"]\n',
        source="t.toml",
    )
    window = Window.of(datetime(2009, 6, 16, 5, 0, tzinfo=UTC), timedelta(hours=1))

    def tehran() -> tuple[str, int]:
        (result,) = evaluate(window, regions=config.regions).regions
        return result.local_start.isoformat(), result.peak_overlap_minutes

    assert tehran() == ("2009-06-16T09:30:00+04:30", 60)
    monkeypatch.setenv("PYTHONTZPATH", str(odd_host))
    try:
        assert tzdb.use("host").version == "1999z"
        assert tehran() == ("2009-06-16T05:00:00+00:00", 0)  # the same region object, the odd host's rules
    finally:
        monkeypatch.delenv("PYTHONTZPATH")
        tzdb.use("package")
    assert tehran() == ("2009-06-16T09:30:00+04:30", 60)
    assert tzdb.use("package") == tzdb.current()  # choosing the same rules again changes nothing
