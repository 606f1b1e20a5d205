"""Nothing lost, doubled or reordered: Slack outages, rate limits, a killed process, and two instances racing."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    PROPOSER,
    SECRET,
    all_text,
    confirm_approval,
    next_week,
    start_server,
    stop_server,
)
from dbs import fresh_url
from slackfake.signing import SlackClientSim
from slackfake.standin import SlackStandIn

from chatops.store import open_store


def top_level(standin: SlackStandIn) -> list:
    return [m for m in standin.messages(CHANNEL).values() if m.thread_ts is None]


def test_outage_then_rate_limits_every_decision_reaches_the_thread_in_order(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    server = start_server(tmp_path, standin, database_url)
    try:
        with SlackClientSim(server.events_url, signing_secret=SECRET, standin=standin) as slack:
            standin.fail_next("chat.postMessage", 3, status=500)
            standin.rate_limit_next("chat.postMessage", 2, retry_after=1)
            slack.command(
                f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Core network upgrade", user_id=PROPOSER
            )
            standin.wait_until(
                lambda: len(top_level(standin)) == 1, timeout=30, message="the parent, after the outage"
            )
            parent = top_level(standin)[0]
            standin.fail_next("chat.update", 2, status=503)
            standin.rate_limit_next(None, 1, retry_after=1)
            confirm_approval(slack, APPROVER_1)  # a flagged window: approved through the confirmation
            confirm_approval(slack, APPROVER_2)
            standin.wait_until(
                lambda: len(standin.thread(CHANNEL, parent.ts)) == 3, timeout=30, message="3 replies"
            )
            standin.wait_until(
                lambda: "Approved" in all_text(standin.message(CHANNEL, parent.ts)),
                timeout=30,
                message="Approved",
            )
            texts = [m.text or "" for m in standin.thread(CHANNEL, parent.ts)]
            assert "proposed" in texts[0]
            assert "1 of 2" in texts[1] and "2 of 2" in texts[2]
            assert len(top_level(standin)) == 1
            failed = [c for c in standin.calls if c.status in (429, 500, 503)]
            assert len(failed) >= 5
    finally:
        stop_server(server)


def test_killed_between_commit_and_delivery_the_message_goes_out_once_after_restart(
    tmp_path: Path, standin: SlackStandIn, database_url: str
) -> None:
    first = start_server(tmp_path, standin, database_url, name="first")
    with SlackClientSim(first.events_url, signing_secret=SECRET, standin=standin) as slack:
        standin.fail_next("chat.postMessage", 10_000, status=500)  # Slack is down for posting
        response = slack.command(f"propose {next_week(0)} 22:00 UTC 1h Survives a crash", user_id=PROPOSER)
        assert response.status_code == 200
        standin.wait_for("response_url")  # the proposer was told: the proposal is committed
        standin.wait_for("chat.postMessage")  # and delivery was tried, and failed
    stop_server(first, sig=signal.SIGKILL)
    assert not top_level(standin)
    standin.clear()  # Slack is back

    second = start_server(tmp_path, standin, database_url, name="second")
    try:
        standin.wait_until(
            lambda: (
                len(standin.thread(CHANNEL, top_level(standin)[0].ts)) == 1 if top_level(standin) else False
            ),
            # Killed while its attempt was in flight, the message stays leased to the dead worker for the
            # lease (60 s) before the next start may take it: that can take longer than 30 s on a busy machine.
            timeout=75,
            message="delivery after restart",
        )
        assert len(top_level(standin)) == 1
        assert "Survives a crash" in all_text(top_level(standin)[0])
    finally:
        stop_server(second)
    store = open_store(database_url)
    try:
        # Slack has the reply a moment before the worker records it as delivered: poll for that commit.
        deadline = time.monotonic() + 10
        while store.outbox_stats(now=2**40)[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.outbox_stats(now=2**40)[0] == 0
    finally:
        store.close()


def test_two_instances_on_postgresql_count_racing_clicks_once(tmp_path: Path, standin: SlackStandIn) -> None:
    with fresh_url("postgresql", tmp_path) as url:
        a = start_server(tmp_path, standin, url, name="a")
        b = start_server(tmp_path, standin, url, name="b")
        try:
            with (
                SlackClientSim(a.events_url, signing_secret=SECRET, standin=standin) as sim_a,
                SlackClientSim(b.events_url, signing_secret=SECRET, standin=standin) as sim_b,
            ):
                sim_a.command(
                    f"propose {next_week(0)} 22:00 America/Los_Angeles 1h Raced change", user_id=PROPOSER
                )
                standin.wait_until(lambda: len(top_level(standin)) == 1, message="the parent")
                parent = top_level(standin)[0]
                standin.wait_until(
                    lambda: len(standin.thread(CHANNEL, parent.ts)) == 1, message="proposed reply"
                )

                barrier = threading.Barrier(8)

                refused: list[str] = []

                def click(sim: SlackClientSim, user: str) -> None:
                    barrier.wait()
                    answer = confirm_approval(sim, user)  # the confirmation of a flagged approval
                    assert answer.status_code == 200
                    if answer.content:
                        refused.append(json.dumps(answer.json()["errors"]))

                clicks = [
                    threading.Thread(target=click, args=(sim, user))
                    for sim in (sim_a, sim_b)
                    for user in (APPROVER_1, APPROVER_2, APPROVER_1, APPROVER_2)
                ]
                for t in clicks:
                    t.start()
                for t in clicks:
                    t.join()
                standin.wait_until(
                    lambda: "Approved" in all_text(standin.message(CHANNEL, parent.ts)), message="Approved"
                )
                assert len(refused) == 6 and all("already" in r for r in refused), refused
                standin.wait_until(
                    lambda: len(standin.thread(CHANNEL, parent.ts)) >= 3, message="both approvals"
                )
        finally:
            stop_server(a)
            stop_server(b)
        texts = [m.text or "" for m in standin.thread(CHANNEL, parent.ts)]
        assert len(texts) == 3, standin.dump()
        assert sum("now approved" in t for t in texts) == 1
        store = open_store(url)
        try:
            events = store.events(1)
            assert [e.kind for e in events] == ["proposed", "approved", "approved"]
            assert {e.actor for e in events[1:]} == {APPROVER_1, APPROVER_2}
            row = store.get_proposal(1)
            assert row is not None and row.status.value == "approved"
        finally:
            store.close()
        for server in (a, b):
            assert "Traceback" not in server.output(), server.output()
