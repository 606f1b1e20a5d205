"""Start-up and the database URL: a URL that can never work is one line naming the setting, at once; a database
that is not up yet is waited for, bounded and logged; a real server that says no is not waited for."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dbs import POSTGRES_URL
from sqlalchemy.engine import make_url

from chatops.errors import ConfigError
from chatops.store.connect import check_database_url, not_up_yet, open_when_up
from chatops.store.sql import SqlStore

ROOT = Path(__file__).resolve().parent.parent.parent
REFUSED = "postgresql://chatops@127.0.0.1:1/y"  # nothing listens on port 1: connection refused


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "CHATOPS_DATABASE_URL 'nonsense' is not a database URL (e.g. sqlite:///chatops.db"),
        ("mysql://app@db/chatops", "CHATOPS_DATABASE_URL 'mysql://app@db/chatops': mysql is not supported"),
        ("postgresql+asyncpg://h/d", "the asyncpg driver is not supported (write postgresql://…)"),
        ("sqlite+pysqlcipher:///x.db", "the pysqlcipher driver is not supported (write sqlite:///…)"),
        ("postgresql://h:99999/d", "port 99999 is not a port number (1-65535)"),
        ("postgresql://h:x/d", "is not a database URL"),
    ],
)
def test_a_url_that_can_never_work_is_refused_naming_the_setting(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_database_url(url)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_password_is_never_shown() -> None:
    assert (
        check_database_url("postgresql://app:s3cret@db:5432/chatops")
        == "postgresql://app:***@db:5432/chatops"
    )
    with pytest.raises(ConfigError) as caught:
        check_database_url("mysql://app:s3cret@db/chatops")
    assert "s3cret" not in str(caught.value)


def test_good_urls_pass() -> None:
    for url in ("sqlite:///chatops.db", "sqlite://", "postgresql://u@h:5432/d", "postgresql+psycopg://u@h/d"):
        check_database_url(url)


def _failure(url: str) -> Exception:
    try:
        SqlStore.open(url).close()
    except Exception as exc:
        return exc
    raise AssertionError(f"{url} opened")


def test_refused_is_not_up_yet_but_a_server_that_says_no_is_not() -> None:
    assert not_up_yet(_failure(REFUSED))
    wrong_role = (
        make_url(POSTGRES_URL).set(username="no_such_role_here").render_as_string(hide_password=False)
    )
    assert not not_up_yet(_failure(wrong_role))  # the real server answered: waiting will not help
    assert not not_up_yet(_failure("sqlite:////no/such/directory/chatops.db"))


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_database_that_comes_up_is_waited_for_and_each_retry_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeTime()
    refused = _failure(REFUSED)
    attempts: list[float] = []

    def opener() -> str:
        attempts.append(fake.now)
        if len(attempts) < 4:
            raise refused
        return "store"

    with caplog.at_level(logging.WARNING, logger="chatops.store.connect"):
        got = open_when_up(opener, shown="postgresql://db/x", wait=60, sleep=fake.sleep, clock=fake.clock)
    assert got == "store"
    assert fake.sleeps == [0.5, 1.0, 2.0]  # backoff
    retries = [r.getMessage() for r in caplog.records]
    assert len(retries) == 3
    assert retries[0].startswith("the database at postgresql://db/x is not up yet (connection to server at")
    assert "Connection refused" in retries[0] and "attempt 1 failed, retrying in 0.5 s" in retries[0]


def test_the_wait_is_bounded() -> None:
    fake = FakeTime()
    refused = _failure(REFUSED)

    def opener() -> str:
        raise refused

    with pytest.raises(ConfigError) as caught:
        open_when_up(opener, shown="postgresql://db/x", wait=20, sleep=fake.sleep, clock=fake.clock)
    assert fake.now == 20 and max(fake.sleeps) <= 10
    message = str(caught.value)
    assert message.startswith("CHATOPS_DATABASE_URL: the database at postgresql://db/x is not reachable (")
    assert message.endswith("in 20 s (CHATOPS_DATABASE_WAIT)") and "\n" not in message


def test_a_permanent_failure_is_not_retried() -> None:
    fake = FakeTime()
    failure = _failure("sqlite:////no/such/directory/chatops.db")

    def opener() -> str:
        raise failure

    with pytest.raises(
        ConfigError, match="cannot open the database at sqlite:///x: unable to open database file"
    ):
        open_when_up(opener, shown="sqlite:///x", wait=60, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == []


def _serve(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CHATOPS_", "SLACK_"))}
    environ.update(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="secret",
        CHATOPS_CHANNEL="C1",
        CHATOPS_APPROVERS="U1",
        CHATOPS_DATABASE_URL=url,
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "chatops", "serve", "--port", "1"],  # never reached: start-up fails first
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://app@db/chatops",
            "chatops serve: CHATOPS_DATABASE_URL 'mysql://app@db/chatops': mysql is not",
        ),
        ("nonsense", "chatops serve: CHATOPS_DATABASE_URL 'nonsense' is not a database URL"),
    ],
)
def test_serve_refuses_a_url_that_can_never_work_at_once(url: str, message: str) -> None:
    done = _serve(url)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr


def test_serve_waits_for_a_refused_database_then_gives_up_in_one_line() -> None:
    done = _serve(REFUSED, CHATOPS_DATABASE_WAIT="1")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr and "exc_info" not in done.stderr
    assert "starting" in lines[0] and "time zone rules IANA" in lines[0]  # the start-up line
    assert any("is not up yet" in line and "retrying in" in line for line in lines[1:-1])
    assert lines[-1].startswith(
        "chatops serve: CHATOPS_DATABASE_URL: the database at postgresql://chatops@127.0.0.1:1/y is not reachable"
    )


def test_a_bad_wait_setting_is_one_line() -> None:
    done = _serve("sqlite://", CHATOPS_DATABASE_WAIT="soon")
    assert (done.returncode, done.stderr) == (
        2,
        "chatops serve: CHATOPS_DATABASE_WAIT must be a whole number\n",
    )


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["db", "upgrade", "--database-url", "mysql://app@db/chatops"],
            {},
            "chatops db: --database-url 'mysql://app@db/chatops': mysql is not supported (use sqlite:///chatops.db "
            "or postgresql://user@host:5432/db)",
        ),
        (
            ["audit", "verify"],
            {"CHATOPS_DATABASE_URL": REFUSED},
            "chatops audit: CHATOPS_DATABASE_URL: cannot open the database at postgresql://chatops@127.0.0.1:1/y: "
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
        ),
        (
            ["db", "upgrade"],
            {"CHATOPS_DATABASE_URL": "sqlite:////no/such/directory/chatops.db"},
            "chatops db: CHATOPS_DATABASE_URL: cannot open the database at sqlite:////no/such/directory/chatops.db: "
            "unable to open database file",
        ),
    ],
)
def test_one_shot_commands_report_a_bad_database_in_one_line(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], message: str
) -> None:
    import io

    from chatops.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 2
    assert (out.getvalue(), err.getvalue()) == ("", message + "\n")
