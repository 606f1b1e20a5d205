"""Settings come from the environment once; a missing one is named; secrets never show."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from chatops.config import load_settings
from chatops.errors import ConfigError

TOKEN = "xoxb-1111-2222-supersecrettoken"
SIGNING = "0123456789abcdef-signing-secret"


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CHATOPS_CHANNEL", "CHATOPS_APPROVERS"):
        assert f"{name} is not set" in message
    monkeypatch.setenv("CHATOPS_APPROVERS", " , ")
    with pytest.raises(ConfigError, match="CHATOPS_APPROVERS names nobody"):
        load_settings()


def test_secrets_stay_out_of_reprs_errors_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("CHATOPS_CHANNEL", "C1")
    monkeypatch.setenv("CHATOPS_APPROVERS", "U1, S2 U3")
    settings = load_settings()
    assert settings.approver_ids == {"U1", "S2", "U3"}
    assert settings.slack_bot_token.get_secret_value() == TOKEN
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert TOKEN not in text and SIGNING not in text
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("chatops").info("settings: %s", settings)
    assert TOKEN not in caplog.text and SIGNING not in caplog.text

    monkeypatch.setenv("SLACK_API_URL", "ftp://nowhere")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "SLACK_API_URL" in str(caught.value) and TOKEN not in str(caught.value)


def test_serve_without_settings_says_which_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chatops", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "SLACK_BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CHATOPS_TZ_SOURCE", "system", "CHATOPS_TZ_SOURCE must be one of: 'package', 'host'"),
        ("CHATOPS_DATABASE_WAIT", "-1", "CHATOPS_DATABASE_WAIT must be at least 0"),
        ("CHATOPS_DATABASE_WAIT", "soon", "CHATOPS_DATABASE_WAIT must be a whole number"),
        ("CHATOPS_DELIVERY_THREADS", "-1", "CHATOPS_DELIVERY_THREADS must be at least 0"),
        ("CHATOPS_DELIVERY_THREADS", "65", "CHATOPS_DELIVERY_THREADS must be at most 64"),
        ("CHATOPS_DELIVERY_THREADS", "many", "CHATOPS_DELIVERY_THREADS must be a whole number"),
    ],
)
def test_new_settings_are_checked_in_plain_words(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    for key, setting in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "CHATOPS_CHANNEL": "C1",
    }.items():
        monkeypatch.setenv(key, setting)
    monkeypatch.setenv("CHATOPS_APPROVERS", "U1")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message
