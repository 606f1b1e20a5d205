"""A serving process moves what start-up made out of the cyclic garbage collector's sight once its runtime is
built, and collects its youngest generation less often (``chatops.web.tune_gc_for_serving``): a full collection
otherwise walks every module, validator and region in whichever request thread it falls on, and a proposal with
the shipped regions paid for several young collections."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.app.base import BaseApplication
from pydantic import SecretStr

from chatops import web


def test_tuning_freezes_the_start_up_objects_and_collects_young_objects_in_larger_batches() -> None:
    # In a process of its own: freezing this test process would keep its garbage cycles for good.
    code = (
        "import gc\n"
        "from chatops.web import GC_YOUNG_THRESHOLD, tune_gc_for_serving\n"
        "assert gc.get_freeze_count() == 0\n"
        "older = gc.get_threshold()[1:]\n"
        "tune_gc_for_serving()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
        "assert gc.get_count()[0] < 50\n"  # nothing left waiting in the youngest generation
        "assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *older) and GC_YOUNG_THRESHOLD > 700\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_serving_worker_tunes_the_collector_once_its_runtime_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []
    runtime = SimpleNamespace(
        settings=SimpleNamespace(slack_signing_secret=SecretStr("s")),
        start_warm_up=lambda: order.append("warming"),
    )
    monkeypatch.setattr(web, "build_runtime", lambda settings: order.append("built") or runtime)
    monkeypatch.setattr(web, "tune_gc_for_serving", lambda: order.append("tuned"))
    loaded: list[Any] = []
    # gunicorn's run() would fork workers that each call load(); call it here instead.
    monkeypatch.setattr(BaseApplication, "run", lambda self: loaded.append(self.load()))
    settings: Any = SimpleNamespace(chatops_client_read_timeout=5.0)
    web.serve_http(settings, host="127.0.0.1", port=0, workers=1, threads=1)
    assert order == ["built", "tuned", "warming"]  # warm-up's lookups are not frozen as start-up's objects
    assert isinstance(loaded[0], web.WsgiApp) and loaded[0].runtime is runtime
