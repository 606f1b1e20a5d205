"""A serving process moves what start-up made out of the cyclic garbage collector's sight once its runtime is
built (``chatops.web.freeze_startup_objects``): a full collection otherwise walks every module, validator and
region in whichever request thread it falls on."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.app.base import BaseApplication
from pydantic import SecretStr

from chatops import web


def test_freezing_moves_the_start_up_objects_out_of_the_collectors_sight() -> None:
    # In a process of its own: freezing this test process would keep its garbage cycles for good.
    code = (
        "import gc\n"
        "from chatops.web import freeze_startup_objects\n"
        "assert gc.get_freeze_count() == 0\n"
        "freeze_startup_objects()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
        "assert gc.get_count()[0] < 50\n"  # nothing left waiting in the youngest generation
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_serving_worker_freezes_once_its_runtime_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    runtime = SimpleNamespace(settings=SimpleNamespace(slack_signing_secret=SecretStr("s")))
    monkeypatch.setattr(web, "build_runtime", lambda settings: order.append("built") or runtime)
    monkeypatch.setattr(web, "freeze_startup_objects", lambda: order.append("frozen"))
    loaded: list[Any] = []
    # gunicorn's run() would fork workers that each call load(); call it here instead.
    monkeypatch.setattr(BaseApplication, "run", lambda self: loaded.append(self.load()))
    settings: Any = SimpleNamespace(chatops_client_read_timeout=5.0)
    web.serve_http(settings, host="127.0.0.1", port=0, workers=1, threads=1)
    assert order == ["built", "frozen"]
    assert isinstance(loaded[0], web.WsgiApp) and loaded[0].runtime is runtime
