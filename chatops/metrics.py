"""Prometheus metrics, served at ``GET /metrics``.

- ``chatops_http_requests_total{path,status}``: requests answered (unknown paths count as ``path="other"``).
- ``chatops_slack_ack_seconds``: time from a ``/slack/events`` request in to its response out (Slack wants
  an answer within 3 s).
- ``chatops_decisions_total{kind}``: committed proposals and decisions (proposed, approved, rejected,
  postponed, cancelled).
- ``chatops_outbox_depth`` and ``chatops_outbox_oldest_age_seconds``: messages not yet delivered to Slack and
  the age of the oldest, read from the database at scrape time (so the same in every process and instance);
  ``chatops_database_up`` is 0 when that read failed.

Under gunicorn, several worker processes answer requests; ``chatops serve`` then sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory *before this module is imported* (prometheus_client picks
its storage at import), and a scrape of any worker adds up the counters of all of them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from chatops.store import Store

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
KNOWN_PATHS = frozenset({"/slack/events", "/healthz", "/readyz", "/metrics"})

_REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "chatops_http_requests",
    "HTTP requests answered, by path and status.",
    ("path", "status"),
    registry=_REGISTRY,
)
ACK_SECONDS = Histogram(
    "chatops_slack_ack_seconds",
    "Time from a /slack/events request in to its response out.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
    registry=_REGISTRY,
)
DECISIONS = Counter(
    "chatops_decisions",
    "Committed proposals and decisions, by kind.",
    ("kind",),
    registry=_REGISTRY,
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def observe_request(path: str, status: int, seconds: float) -> None:
    REQUESTS.labels(path=path if path in KNOWN_PATHS else "other", status=str(status)).inc()
    if path == "/slack/events":
        ACK_SECONDS.observe(seconds)


def count_decision(kind: str) -> None:
    DECISIONS.labels(kind=kind).inc()


class OutboxCollector(Collector):
    """Outbox depth and the oldest message's age, read from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("chatops_database_up", "1 when the database answered this scrape, else 0.")
        try:
            depth, age = self.store.outbox_stats(now=int(time.time()))
        except Exception as exc:
            logger.warning(
                "metrics: cannot read the outbox (%s: %s)", exc.__class__.__name__, _first_line(exc)
            )
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "chatops_outbox_depth", "Slack messages neither delivered nor given up on.", value=depth
        )
        yield GaugeMetricFamily(
            "chatops_outbox_oldest_age_seconds",
            "Age of the oldest undelivered Slack message (0 when none).",
            value=age,
        )


def render(store: Store) -> tuple[bytes, str]:
    """The text exposition of every metric (added up over all worker processes in multiprocess mode)."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, ACK_SECONDS, DECISIONS):
            registry.register(collector)
    registry.register(OutboxCollector(store))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters stay counted); a no-op outside multiprocess mode."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
