"""Work held until the response has been sent (chatops.deferred): held in order, released once, never lost."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from chatops.deferred import after_response, holding, then_release
from chatops.observability import ContextThreadPoolExecutor, log_context, request_id


def test_outside_a_request_work_runs_at_once() -> None:
    done: list[str] = []
    after_response(lambda: done.append("now"))
    assert done == ["now"]


def test_held_work_waits_for_release_runs_in_order_once_and_first_goes_first() -> None:
    done: list[str] = []
    with holding() as held:
        after_response(lambda: done.append("a"))
        after_response(lambda: done.append("b"))
        held.add(lambda: done.append("log"), first=True)
        assert done == [] and held
    after_response(lambda: done.append("outside"))  # the hold ended with the block
    assert done == ["outside"]
    held.release()
    held.release()
    assert done == ["outside", "log", "a", "b"]
    held.add(lambda: done.append("late"))  # added after the release (a thread the request started): at once
    assert done[-1] == "late"


def test_a_failing_item_is_logged_and_the_rest_still_run(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []

    def fails() -> None:
        raise RuntimeError("boom")

    with holding() as held:
        after_response(fails)
        after_response(lambda: done.append("after"))
    held.release()
    assert done == ["after"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "work held until the response was sent failed to start"
    ]


def test_the_body_releases_after_its_last_chunk_is_taken() -> None:
    done: list[str] = []
    with holding() as held:
        after_response(lambda: done.append("x"))
    body = iter(then_release([b"one", b"two"], held))
    assert next(body) == b"one" and next(body) == b"two"
    assert done == []  # the server has the last chunk, but has not written it yet
    assert list(body) == []
    assert done == ["x"]


def test_closing_the_body_releases_it_even_unread() -> None:
    done: list[str] = []
    with holding() as held:
        after_response(lambda: done.append("x"))
    body = then_release([b"never read"], held)
    body.close()
    body.close()
    assert done == ["x"]


def test_a_listener_task_submitted_during_a_response_starts_after_it_in_the_submitters_context() -> None:
    with ContextThreadPoolExecutor(max_workers=1) as pool:
        with log_context(request_id="req-1"), holding() as held:
            future = pool.submit(request_id.get)
        assert not future.done()
        held.release()
        assert future.result(timeout=10) == "req-1"
        failing = pool.submit(lambda: 1 // 0)  # outside a hold: started at once, its error kept
        with pytest.raises(ZeroDivisionError):
            failing.result(timeout=10)


def test_a_shut_down_pool_still_refuses_new_work() -> None:
    pool = ContextThreadPoolExecutor(max_workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(print)
    assert isinstance(pool, ThreadPoolExecutor)


def test_a_held_task_cancelled_before_the_response_is_sent_never_runs() -> None:
    ran: list[int] = []
    with ContextThreadPoolExecutor(max_workers=1) as pool:
        with holding() as held:
            future = pool.submit(ran.append, 1)
        assert future.cancel()
        held.release()
        assert pool.submit(ran.append, 2).result(timeout=10) is None
    assert ran == [2]
