"""The ack benchmark's baseline (``benchmarks/bare_app.py``) must really run its listeners.

The benchmark compares chatops with a bare Bolt app that only acks. If that app cannot authorise (a bot token
the Web API refuses), Bolt answers every request with its "please reinstall" text and never reaches the
listener, so the baseline measures a failed ``auth.test`` instead of an ack. These tests build the bare app
with the settings the benchmark gives it and dispatch the benchmark's own signed requests in process.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from slack_bolt import BoltRequest, BoltResponse
from slack_sdk import WebClient
from slackfake.app_setup import regions_file, shipped_regions_file
from slackfake.standin import SlackStandIn

from chatops.config import load_regions
from chatops.domain import Window, evaluate

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ack = _load("ack")
bare_app = _load("bare_app")


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=ack.TOKEN) as slack:
        yield slack


def _dispatch(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], request: tuple[bytes, dict[str, str]]
) -> tuple[BoltResponse, list[str]]:
    """Build the bare app from ``env`` as gunicorn would, dispatch one signed request; the response and the
    listener middleware's record of which requests reached the listeners."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = bare_app.create_application().app
    reached: list[str] = []

    def spy(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        # Custom middleware runs after Bolt's authorization; only authorised requests get here.
        reached.append(body.get("command") or body.get("type", "?"))
        return next()

    app.use(spy)
    body, headers = request
    response = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
    return response, reached


def _requests(standin: SlackStandIn) -> list[tuple[bytes, dict[str, str]]]:
    return [
        ack.command(standin, f"propose {ack.window_text()} benchmark"),
        ack.command(standin, f"check {ack.window_text()}"),
        ack.approve_click(standin, 1, user=ack.APPROVER_1),
    ]


@pytest.mark.parametrize("process_before_response", [False, True])
def test_the_bare_app_acks_the_benchmark_requests_in_its_listeners(
    monkeypatch: pytest.MonkeyPatch, standin: SlackStandIn, process_before_response: bool
) -> None:
    env = ack.bare_env(standin, process_before_response=process_before_response)
    for request in _requests(standin):
        response, reached = _dispatch(monkeypatch, env, request)
        assert (response.status, response.body) == (200, "")  # an empty ack, not the "reinstall" text
        assert len(reached) == 1
    auth = [call for call in standin.calls if call.method == "auth.test"]
    assert auth and all(call.ok for call in auth)


def test_with_a_token_the_api_refuses_the_listener_is_never_reached(
    monkeypatch: pytest.MonkeyPatch, standin: SlackStandIn
) -> None:
    # The anchor as it was: the bare app's token was not the stand-in's. This is what the test above rules out.
    env = ack.bare_env(standin, process_before_response=True) | {"BARE_BOT_TOKEN": "xoxb-bare"}
    response, reached = _dispatch(monkeypatch, env, ack.command(standin, f"check {ack.window_text()}"))
    assert reached == []
    assert response.body != ""
    assert [call.ok for call in standin.calls if call.method == "auth.test"] == [False]


def test_the_bolt_floor_sends_the_calls_it_is_given(standin: SlackStandIn) -> None:
    """``benchmarks/cpu.py``'s Bolt floor must really reach its listeners and send, after each ack, the Slack
    calls chatops made (Web API calls, and replies to a ``response_url``, sent to the request's own), or its
    figure is the cost of a refusal."""
    floor = _load("floor")
    web = WebClient(token=ack.TOKEN, base_url=standin.url)
    parent = web.chat_postMessage(channel=ack.CHANNEL, text="recorded parent")["ts"]
    web.chat_postMessage(channel=ack.CHANNEL, thread_ts=parent, text="recorded reply")
    httpx.post(standin.response_url("recorded", channel=ack.CHANNEL), json={"text": "recorded answer"})
    recorded = [c for c in standin.calls if c.method in ("chat.postMessage", "response_url")]
    assert len(recorded) == 3

    with floor.bolt_floor(standin, secret=ack.SECRET, token=ack.TOKEN) as (replay, sim, _timed):
        replay.load(recorded, 2)  # two requests: the first sends the first call, the second the other two
        for _ in range(2):
            assert sim.command("list", user_id=ack.PROPOSER).status_code == 200
        standin.wait_until(
            lambda: sum(c.method == "response_url" for c in standin.calls) == 2,
            timeout=10,
            message="the answer",
        )
    replay.check_done()
    texts = [m.text for m in standin.messages(ack.CHANNEL).values()]
    assert texts.count("recorded parent") == 2  # once recorded, once sent again by the floor
    assert texts.count("recorded reply") == 2
    assert [e.text for e in standin.ephemerals()].count("recorded answer") == 2


def test_the_shipped_regions_the_benchmarks_run_with_flag_what_the_tests_regions_flag(tmp_path: Path) -> None:
    """``--regions shipped`` runs the benchmarks with every region the app ships with and Iran marked sensitive as
    in the tests' own file: the same window must be flagged for the same region, among all the others."""
    today = datetime.now(UTC).date()
    shipped = load_regions(shipped_regions_file(tmp_path / "shipped.toml", today=today))
    small = load_regions(regions_file(tmp_path / "small.toml", today=today))
    assert len(shipped.regions) == len(load_regions().regions) > 200
    assert shipped.policy == small.policy
    start = datetime.combine(today + timedelta(days=3), time(6, 0), tzinfo=UTC)  # 09:30 in Tehran
    window = Window.of(start, timedelta(hours=1))
    for config in (shipped, small):
        assert [r.id for r in evaluate(window, regions=config.regions).flagged_regions] == ["ir"]
