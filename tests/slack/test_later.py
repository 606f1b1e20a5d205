"""What follows an ack runs in the app's after-ack pool with the request's own objects (chatops.slack.later), not
through Bolt's lazy listeners, which deep-copy the request first: the private answers and the modals still come,
and Bolt's copy is never made."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from conftest import APPROVER_1, PROPOSER, next_week, parent_of
from inprocess import in_process
from slack_bolt.listener import thread_runner
from slackfake.standin import SlackStandIn

from chatops.slack import ids
from chatops.slack.later import acked_then


class Inline(Executor):
    """Runs what it is given at once, and remembers the order."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.log.append("submitted")
        done: Future[Any] = Future()
        done.set_result(fn(*args, **kwargs))
        return done


def given() -> dict[str, Any]:
    return {name: object() for name in ("ack", "body", "context", "respond", "client", "request")}


def test_later_runs_after_now_with_the_same_objects_and_only_what_it_names() -> None:
    log: list[str] = []
    seen: dict[str, Any] = {}

    def now(ack: Any, context: Any) -> None:
        log.append("now")
        seen["now"] = (ack, context)

    def later(body: Any, respond: Any, client: Any, command: Any) -> None:
        log.append("later")
        seen["later"] = (body, respond, client, command)

    args = given()
    acked_then(Inline(log), now, later)(**args)
    assert log == ["now", "submitted", "later"]
    assert seen["now"] == (args["ack"], args["context"])
    assert seen["later"] == (args["body"], args["respond"], args["client"], args["body"])


def test_later_starts_even_when_now_raised_and_what_later_raises_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    def now(ack: Any) -> None:
        raise RuntimeError("now failed")

    def later(context: Any) -> None:
        log.append("later")
        raise ValueError("later failed")

    listener = acked_then(Inline(log), now, later)
    with pytest.raises(RuntimeError, match="now failed"):  # Bolt's error handler answers the request
        listener(**given())
    assert log == ["submitted", "later"]
    [record] = [r for r in caplog.records if r.name == "chatops.slack.later"]
    assert record.levelno == logging.ERROR and "later" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], ValueError)


def test_a_function_asking_for_what_no_listener_is_given_is_refused_when_registered() -> None:
    def later(say: Any) -> None:
        raise AssertionError("never run")

    with pytest.raises(TypeError, match="'later' asks for \\['say'\\]"):
        acked_then(Inline([]), lambda ack: None, later)


def test_the_apps_answers_after_the_ack_come_without_bolts_copy_of_the_request(
    tmp_path: Path, standin: SlackStandIn, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[object] = []
    real_copy = thread_runner.create_copy

    def counted(original: Any) -> Any:
        copies.append(original)
        return real_copy(original)

    monkeypatch.setattr(thread_runner, "create_copy", counted)
    with in_process(tmp_path, standin, database_url) as (_, slack):
        # An informative command: answered after the ack.
        assert slack.command(f"check {next_week()} 22:00 America/Los_Angeles 1h").status_code == 200
        standin.wait_until(lambda: len(standin.ephemerals()) == 1, message="the check's answer")
        assert "Check" in str(standin.ephemerals()[0].blocks)
        # A proposal, confirmed after the ack; flagged, so Approve opens the justification form after the ack.
        slack.command(f"propose {next_week()} 10:00 Asia/Tehran 1h Core upgrade", user_id=PROPOSER)
        parent = parent_of(standin)
        standin.wait_until(lambda: len(standin.ephemerals()) == 2, message="the proposal's confirmation")
        assert slack.block_action(ids.APPROVE, message=parent, user_id=APPROVER_1).status_code == 200
        standin.wait_for("views.open")
        # A refusal, said privately after the ack: the proposer may not approve their own change.
        assert slack.block_action(ids.APPROVE, message=parent, user_id=PROPOSER).status_code == 200
        standin.wait_until(lambda: len(standin.ephemerals()) == 3, message="the refusal")
        assert "cannot approve it yourself" in (standin.ephemerals()[-1].text or "")
        # A button whose form opens after the ack.
        assert slack.block_action(ids.REJECT, message=parent, user_id=APPROVER_1).status_code == 200
        standin.wait_for("views.open", count=2)
    assert copies == []
