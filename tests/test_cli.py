"""``chatops check``: the JSON and text reports; exit status 0 clear, 1 flagged, 2 bad input (one line)."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatops.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "iran-2009.toml")
NOON = ["--start", "2026-06-16T12:00Z", "--duration", "1h"]
STORY = ["check", "--start", "2009-06-15T22:00", "--tz", "America/Los_Angeles", "--duration", "1h"]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_the_2009_window_as_json_is_the_issue_example() -> None:
    status, out, err = run(*STORY, "--config", EXAMPLE, "--json")
    assert (status, err) == (1, "")
    document = json.loads(out)
    assert list(document) == ["window", "flagged", "regions", "suggestions", "tzdata"]
    assert document["window"] == {"start": "2009-06-16T05:00:00+00:00", "end": "2009-06-16T06:00:00+00:00"}
    assert document["flagged"] is True
    iran, us_west = document["regions"]
    assert iran == {
        "id": "ir",
        "name": "Iran",
        "timezone": "Asia/Tehran",
        "local_start": "2009-06-16T09:30:00+04:30",
        "local_end": "2009-06-16T10:30:00+04:30",
        "sensitive": True,
        "peak_overlap_minutes": 60,
        "sensitive_peak_minutes": 60,
        "flagged": True,
        "reasons": ["Presidential election protests"],
        "peak_hours": ["08:00-23:00"],
    }
    assert (us_west["id"], us_west["flagged"], us_west["sensitive"], us_west["reasons"]) == (
        "us-west",
        False,
        False,
        [],
    )
    assert us_west["local_start"] == "2009-06-15T22:00:00-07:00"
    # Real choices, not neighbours: the earliest (inside team hours here) and the roomiest on a later day.
    assert [(c["start"], c["end"], c["kind"]) for c in document["suggestions"]] == [
        ("2009-06-16T18:30:00+00:00", "2009-06-16T19:30:00+00:00", "team_hours"),
        ("2009-06-17T22:30:00+00:00", "2009-06-17T23:30:00+00:00", "later_day"),
    ]
    assert all(c["why"] for c in document["suggestions"])


def test_the_moved_window_is_clear_with_no_suggestions() -> None:
    status, out, err = run(
        "check", "--start", "2009-06-16T14:00", "--tz", "America/Los_Angeles", "--duration", "1h",
        "--config", EXAMPLE, "--json",
    )  # fmt: skip
    assert (status, err) == (0, "")
    document = json.loads(out)
    assert document["flagged"] is False
    assert document["regions"][0]["local_start"] == "2009-06-17T01:30:00+04:30"
    assert (document["regions"][0]["sensitive"], document["regions"][0]["peak_overlap_minutes"]) == (True, 0)
    assert document["suggestions"] == []


def test_the_human_report_shows_the_table_and_suggestions_in_utc_and_the_given_zone() -> None:
    status, out, _ = run(*STORY, "--config", EXAMPLE)
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == "Window   Tue 2009-06-16 05:00 UTC (Mon 2009-06-15 22:00 PDT America/Los_Angeles)"
    assert lines[1].startswith(
        "      →  Tue 2009-06-16 06:00 UTC (Mon 2009-06-15 23:00 PDT America/Los_Angeles)"
    )
    assert lines[1].endswith("[1h]")
    header = next(line for line in lines if line.startswith("REGION"))
    assert header.split() == [
        "REGION",
        "ZONE",
        "LOCAL",
        "START",
        "LOCAL",
        "END",
        "PEAK",
        "MIN",
        "FLAG",
        "WHY",
    ]
    iran = next(line for line in lines if line.startswith("Iran (ir)"))
    assert iran.split()[2:] == [
        "Asia/Tehran", "Tue", "06-16", "09:30", "+0430", "Tue", "06-16", "10:30", "+0430", "60", "FLAGGED",
        "Presidential", "election", "protests",
    ]  # fmt: skip
    assert "FLAGGED: this window hits the daytime peak of a sensitive region (Iran)." in lines
    assert (
        "  1. Tue 2009-06-16 18:30 UTC (Tue 2009-06-16 11:30 PDT America/Los_Angeles) — Tue 23:00 +0430 in Iran"
        in lines
    )


def test_the_human_report_in_utc_shows_utc_only_and_says_clear() -> None:
    status, out, _ = run("check", "--start", "2009-06-16T21:00Z", "--duration", "1h", "--config", EXAMPLE)
    assert status == 0
    assert out.splitlines()[0] == "Window   Tue 2009-06-16 21:00 UTC"
    assert out.rstrip().endswith("Clear: no sensitive region is at its peak during this window.")


def test_the_bundled_regions_are_used_without_config_and_flag_nothing() -> None:
    # Nowruz: the bundled world has public holidays written but commented out, so even that day is clear.
    status, out, err = run("check", "--start", "2026-03-21T06:30Z", "--duration", "2h", "--json")
    document = json.loads(out)
    assert (status, err, document["flagged"], document["suggestions"]) == (0, "", False, [])
    assert len(document["regions"]) >= 200


def test_a_flagged_window_without_any_clear_slot_says_so(tmp_path: Path) -> None:
    config = tmp_path / "always.toml"
    config.write_text(
        '[policy]\nhorizon_days = 1\n[[regions]]\nid = "x"\nname = "Everywhere"\ntimezone = "UTC"\n'
        'peak_hours = ["00:00-24:00"]\nsensitive = true\nsensitive_reason = "Always"\n',
        encoding="utf-8",
    )
    status, out, _ = run("check", "--start", "2026-06-16T12:00Z", "--duration", "1h", "--config", str(config))
    assert status == 1
    assert "No unflagged window of this length was found within the horizon." in out


def _bad_config(tmp_path: Path) -> str:
    path = tmp_path / "bad.toml"
    path.write_text('[[regions]]\nid = "ir"\nname = "Iran"\ntimezone = "Asia/Teheran"\n', encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("case", "argv", "message"),
    [
        ("bad start", ["--start", "tomorrow", "--duration", "1h"], "'tomorrow' is not a date and time"),
        ("bad duration", ["--start", "2026-06-16T12:00Z", "--duration", "1.5h"], "'1.5h' is not a duration"),
        (
            "unknown zone",
            ["--start", "2026-06-16T12:00Z", "--tz", "Mars/Olympus", "--duration", "1h"],
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            "DST gap",
            ["--start", "2026-03-08T02:30", "--tz", "America/Los_Angeles", "--duration", "1h"],
            "2026-03-08 02:30 does not exist in America/Los_Angeles: clocks jump from 02:00 to 03:00",
        ),
        (
            "DST fold",
            ["--start", "2026-11-01T01:30", "--tz", "America/Los_Angeles", "--duration", "1h"],
            "give the offset to choose, e.g. 2026-11-01T01:30-07:00 or 2026-11-01T01:30-08:00",
        ),
        ("missing file", [*NOON, "--config", "{tmp}/nope.toml"], "nope.toml: no such file"),
        ("bad config", [*NOON, "--config", "{bad}"], "field timezone: unknown time zone 'Asia/Teheran'"),
        ("too long", [*NOON[:2], "--duration", "8d"], "the window lasts 8d, longer than the 7d allowed"),
        ("out of range", ["--start", "9999-12-31T00:00Z", "--duration", "2d"], "is out of range"),
        ("missing argument", ["--duration", "1h"], "the following arguments are required: --start"),
        ("unknown option", [*NOON, "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_input_is_exit_2_and_one_line_on_stderr(
    tmp_path: Path, case: str, argv: list[str], message: str
) -> None:
    argv = [a.format(tmp=tmp_path, bad=_bad_config(tmp_path)) for a in argv]
    status, out, err = run("check", *argv)
    assert status == 2, case
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(("chatops check: ", "chatops: "))  # argparse reports unknown options at the top
    assert message in err
    assert "Traceback" not in err


def test_help_goes_to_the_output_given_and_exits_0() -> None:
    status, out, err = run("check", "--help")
    assert (status, err) == (0, "")
    assert "--duration" in out and "--config" in out


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("chatops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "chatops.cli"]


@pytest.mark.parametrize(
    ("launcher", "argv", "status"),
    [
        ("script", [*STORY, "--config", "examples/iran-2009.toml", "--json"], 1),
        (
            "module",
            [*STORY[:2], "2009-06-16T14:00", *STORY[3:], "--config", "examples/iran-2009.toml", "--json"],
            0,
        ),
    ],
)
def test_the_installed_command_runs_as_a_real_process(launcher: str, argv: list[str], status: int) -> None:
    command = _console_script() if launcher == "script" else [sys.executable, "-m", "chatops.cli"]
    done = subprocess.run(
        [*command, *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (status, "")
    document = json.loads(done.stdout)
    assert document["flagged"] is bool(status)
    assert document["regions"][0]["local_start"].endswith("+04:30")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["check", "--start", "2026-03-08T02:30", "--tz", "America/Los_Angeles", "--duration", "1h"],
            "does not exist",
        ),
        (["check", "--duration", "1h"], "the following arguments are required: --start"),
        (["check", *NOON, "--config", "nope.toml"], "nope.toml: no such file"),
    ],
)
def test_a_real_process_reports_bad_input_in_one_line_and_exits_2(argv: list[str], message: str) -> None:
    done = subprocess.run(
        [*_console_script(), *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_check_starts_without_the_store_slack_or_the_server() -> None:
    """A cold ``chatops check`` must start fast: it imports neither the store (SQLAlchemy), Bolt, gunicorn nor
    pydantic-settings, nor, for a regions file without holidays or calendars, the calendar libraries (see
    docs/performance.md for the timings)."""
    probe = (
        "import sys\n"
        "from chatops.cli import main\n"
        f"status = main({[*STORY, '--config', EXAMPLE]!r}, out=open('/dev/null', 'w'))\n"
        "heavy = ('sqlalchemy', 'slack_bolt', 'slack_sdk', 'gunicorn', 'alembic', 'psycopg', 'pydantic_settings',\n"
        "         'httpx', 'holidays', 'icalendar', 'recurring_ical_events')\n"
        "print(status, sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "1 []\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "tomorrow", "--duration", "1h"], "'tomorrow' is not a date and time"),
        ([*NOON, "--config", "{bad}"], "field timezone: unknown time zone 'Asia/Teheran'"),
        ([*NOON, "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--duration", "1h"], "the following arguments are required: --start"),
        ([*NOON, "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_with_json_an_error_is_json_on_stdout_with_exit_2(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    argv = [a.format(bad=_bad_config(tmp_path)) for a in argv]
    status, out, err = run("check", *argv, "--json")
    assert (status, err) == (2, "")
    document = json.loads(out)
    assert list(document) == ["error"] and message in document["error"]
    assert out.count("\n") == 1


def test_a_real_process_with_json_reports_an_error_as_json() -> None:
    done = subprocess.run(
        [*_console_script(), "check", *NOON, "--config", "nope.toml", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (2, "")
    assert json.loads(done.stdout) == {"error": "nope.toml: no such file"}


def test_without_tz_the_report_says_which_zone_it_assumed() -> None:
    status, out, _ = run("check", "--start", "2009-06-16T21:00", "--duration", "1h", "--config", EXAMPLE)
    assert status == 0
    assert out.splitlines()[2] == (
        "         (no --tz given: a start without an offset is read as UTC, and times are shown in UTC)"
    )
    _, with_offset, _ = run("check", "--start", "2009-06-16T21:00Z", "--duration", "1h", "--config", EXAMPLE)
    assert with_offset.splitlines()[2] == "         (no --tz given: times are shown in UTC)"
    _, given, _ = run(
        "check", "--start", "2009-06-16T21:00", "--tz", "UTC", "--duration", "1h", "--config", EXAMPLE
    )
    assert "no --tz given" not in given


def test_local_end_carries_its_offset_on_a_dst_fold(tmp_path: Path) -> None:
    """01:30 -0400 to 01:30 -0500 is an hour, not nothing: both ends show their offset."""
    config = tmp_path / "ny.toml"
    config.write_text(
        '[[regions]]\nid = "ny"\nname = "New York"\ntimezone = "America/New_York"\npeak_hours = ["08:00-20:00"]\n',
        encoding="utf-8",
    )
    status, out, _ = run(
        "check", "--start", "2026-11-01T05:30Z", "--duration", "1h", "--config", str(config)
    )  # fmt: skip
    assert status == 0
    row = next(line for line in out.splitlines() if line.startswith("New York (ny)"))
    assert row.split()[4:12] == ["Sun", "11-01", "01:30", "-0400", "Sun", "11-01", "01:30", "-0500"]


def test_every_command_with_json_reports_errors_as_json(tmp_path: Path) -> None:
    from chatops.cli import JSON_COMMANDS, build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    with_json = {
        name
        for name, sub in commands.choices.items()
        if any("--json" in action.option_strings for action in sub._actions)
    }
    assert with_json == JSON_COMMANDS
    status, out, err = run("gate", "CHG-x", "--json", "--database-url", f"sqlite:///{tmp_path}/none.db")
    assert (status, err) == (2, "")
    assert json.loads(out) == {"error": "'CHG-x' is not a change number (write 12 or CHG-12)"}
    status, out, err = run("gate", "12", "--json", "--database-url", f"sqlite:///{tmp_path}/none.db")
    assert (status, err) == (2, "")
    assert "there is no database at" in json.loads(out)["error"]
