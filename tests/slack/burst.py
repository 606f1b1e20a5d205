"""A bounded crash-and-outage burst over two instances sharing one PostgreSQL database.

Proposals are made, then approvals are clicked, spread over instances A and B from several threads, while Slack
fails, rate-limits and answers slowly; A is killed (-9) a third of the way through and restarted two thirds of
the way. A click whose request got no answer is sent again to the other instance with ``X-Slack-Retry-Num``, as
Slack retries. At the end every acknowledged decision must be stored and in its thread exactly once.

Used by ``tests/slack/test_burst.py`` (small) and ``benchmarks/burst.py`` (larger, prints the counts).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from conftest import (
    APPROVER_1,
    APPROVER_2,
    CHANNEL,
    PROPOSER,
    SECRET,
    Server,
    next_week,
    start_server,
    stop_server,
)
from crash import kill_instance
from slackfake import payloads
from slackfake.signing import SlackClientSim
from slackfake.standin import Message, SlackStandIn

from chatops.slack import ids
from chatops.store import open_store

ENV = {"CHATOPS_DELIVERY_LEASE_SECONDS": "4"}


def approve_flagged(
    sim: SlackClientSim, proposal_id: int, *, user: str, round: int = 1, version: int = 1, **send: Any
) -> httpx.Response:
    """Approve a flagged window: the justification modal Approve opens, submitted (``version``/``round``: the
    state the modal was opened for)."""
    return sim.view_submission(
        ids.APPROVE_VIEW,
        values={ids.JUSTIFICATION: {ids.JUSTIFICATION: payloads.plain_text_input("the upgrade cannot wait")}},
        private_metadata=json.dumps({"proposal": proposal_id, "version": version, "round": round}),
        user_id=user,
        **send,
    )


@dataclass
class Counts:
    proposals: int = 0
    sent: int = 0  # approval clicks
    retried: int = 0  # clicks sent again because the first request got no answer
    acknowledged: int = 0  # clicks answered 200 (first time or on a retry)
    refused: int = 0  # acknowledged with a private "not recorded" (told; nothing stored)
    stored: int = 0  # approvals in the database
    replies: int = 0  # "approved" replies in the threads
    duplicates: int = 0  # replies or parents in Slack more than once
    lost: int = 0  # acknowledged, not refused, and not stored or not in its thread
    lookups: int = 0  # conversations.history/replies calls: messages an earlier attempt may have posted
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def top_level(standin: SlackStandIn) -> list[Message]:
    return [m for m in standin.messages(CHANNEL).values() if m.thread_ts is None]


def run_burst(tmp_path: Path, standin: SlackStandIn, url: str, *, proposals: int, workers: int = 6) -> Counts:
    started = time.monotonic()
    counts = Counts(proposals=proposals)
    servers: dict[str, Server] = {
        "a": start_server(tmp_path, standin, url, name="a", extra_env=ENV),
        "b": start_server(tmp_path, standin, url, name="b", extra_env=ENV),
    }
    lock = threading.Lock()
    try:
        sims = {
            name: SlackClientSim(server.events_url, signing_secret=SECRET, standin=standin, timeout=10)
            for name, server in servers.items()
        }
        day = next_week(0)
        for n in range(proposals):
            sims["a" if n % 2 else "b"].command(
                f"propose {day} 22:00 America/Los_Angeles 1h Burst change {n}", user_id=PROPOSER
            )
        standin.wait_until(lambda: len(top_level(standin)) >= proposals, timeout=60, message="the parents")

        # Slack misbehaves while the clicks arrive.
        standin.fail_next("chat.postMessage", 6, status=500)
        standin.rate_limit_next("chat.update", 4, retry_after=1)
        standin.slow_next("chat.postMessage", 8, delay=1.5)

        # Each proposal is flagged: an approval is the justification form Approve opens, submitted.
        clicks = [(n + 1, user) for n in range(proposals) for user in (APPROVER_1, APPROVER_2)]
        counts.sent = len(clicks)
        acked: list[tuple[int, str]] = []

        def click(index: int) -> None:
            number, user = clicks[index]
            first = "a" if index % 2 else "b"
            order = [first, "b" if first == "a" else "a", first, "b" if first == "a" else "a"]
            for attempt, name in enumerate(order):
                with lock:
                    sim = sims[name]
                try:
                    extra = {"retry_num": attempt} if attempt else {}
                    answer = approve_flagged(sim, number, user=user, **extra)
                except httpx.HTTPError:
                    with lock:
                        counts.retried += 1
                    time.sleep(0.2)
                    continue
                if answer.status_code == 200:
                    with lock:
                        acked.append((number, user))
                        if answer.content and "errors" in answer.text:
                            counts.refused += 1  # answered inside the form: nothing stored, the user told
                    return
                return

        third = max(1, len(clicks) // 3)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(click, range(third)))
            kill_instance(servers["a"])  # kill -9, with whatever it had in hand
            list(pool.map(click, range(third, 2 * third)))
            servers["a"] = start_server(tmp_path, standin, url, name="a2", extra_env=ENV)
            with lock:
                sims["a"] = SlackClientSim(
                    servers["a"].events_url, signing_secret=SECRET, standin=standin, timeout=10
                )
            list(pool.map(click, range(2 * third, len(clicks))))
        counts.acknowledged = len(acked)

        store = open_store(url)
        try:
            deadline = time.monotonic() + 90
            while store.outbox_stats(now=int(time.time()))[0] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert store.outbox_stats(now=int(time.time()))[0] == 0, "the outbox did not drain"
            stored: set[tuple[int, str]] = set()
            by_ts = {}
            for n in range(1, proposals + 1):
                row = store.get_proposal(n)
                assert row is not None and row.message_ts
                by_ts[row.message_ts] = row
                for user in store.approvers(n, round=row.round):
                    stored.add((n, user))
            counts.stored = len(stored)
        finally:
            store.close()

        counts.lookups = len(standin.calls_to("conversations.history")) + len(
            standin.calls_to("conversations.replies")
        )
        seen_outbox: dict[object, int] = {}
        in_threads: set[tuple[int, str]] = set()
        for parent_ts, row in by_ts.items():
            for reply in standin.thread(CHANNEL, parent_ts):
                payload = (reply.metadata or {}).get("event_payload", {})
                seen_outbox[payload.get("outbox_id")] = seen_outbox.get(payload.get("outbox_id"), 0) + 1
                if payload.get("kind") == "approved":
                    counts.replies += 1
                    for user in (APPROVER_1, APPROVER_2):
                        if f"<@{user}> approved" in (reply.text or ""):
                            in_threads.add((row.id, user))
        # A reply or a parent in Slack more than once; a parent that is not the one the database names is an
        # orphan (with live buttons) and counts too.
        counts.duplicates = sum(n - 1 for n in seen_outbox.values() if n > 1)
        counts.duplicates += sum(1 for m in top_level(standin) if m.ts not in by_ts)
        # Lost: acknowledged without a "not recorded" note yet not stored, or stored but not in its thread.
        unstored = len(set(acked) - stored)
        counts.lost = max(0, unstored - counts.refused) + len(stored - in_threads)
        for sim in sims.values():
            sim.close()
    finally:
        for server in servers.values():
            stop_server(server)
    counts.seconds = round(time.monotonic() - started, 1)
    return counts
