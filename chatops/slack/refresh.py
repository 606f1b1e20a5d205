"""Refreshing what the app remembers from Slack (group members, display names, zones) without a person waiting.

A lookup past its time to live still answers with what it remembers and asks Slack again in the background, one
question per key at a time (the next lookup finds the answer). Only a lookup with nothing to answer from, or with
an answer too old to count, asks Slack while the person waits; :func:`warm_up` asks those questions when a
serving process starts, so its first requests do not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatops.slack.directory import Directory, Workspace
    from chatops.slack.names import DisplayNames

logger = logging.getLogger(__name__)

WARM_NAMES = 25
"""At most this many approvers' display names are asked for at start (one users.info each)."""

Spawn = Callable[[Callable[[], None]], None]


def _in_a_thread(run: Callable[[], None]) -> None:
    threading.Thread(target=run, name="chatops-refresh", daemon=True).start()


class Refresher:
    """Runs refreshes in the background (``spawn``: a daemon thread each), at most one per key at a time."""

    def __init__(self, spawn: Spawn = _in_a_thread) -> None:
        self._spawn = spawn
        self._done = threading.Condition()
        self._running: set[Hashable] = set()

    def __call__(self, key: Hashable, refresh: Callable[[], object]) -> bool:
        """Start ``refresh`` unless one for ``key`` is still running; True if started."""
        with self._done:
            if key in self._running:
                return False
            self._running.add(key)

        def run() -> None:
            try:
                refresh()
            except Exception:  # a refresh logs its own Slack errors; anything else must not pass silently
                logger.exception("refreshing %s failed", key)
            finally:
                with self._done:
                    self._running.discard(key)
                    self._done.notify_all()

        try:
            self._spawn(run)
        except BaseException:  # no thread could be started: the key must not stay marked as running
            with self._done:
                self._running.discard(key)
            raise
        return True

    def wait(self, timeout: float = 10.0) -> bool:
        """Until no refresh is running (or ``timeout`` seconds); True if none is."""
        with self._done:
            return self._done.wait_for(lambda: not self._running, timeout)


def warm_up(
    *, workspace: Workspace | None, directory: Directory, names: DisplayNames, limit: int = WARM_NAMES
) -> None:
    """What a serving process's first requests would otherwise ask Slack for while a person waits: the
    installed workspace (``auth.test``, shared with Bolt), the members of the approver, admin and on-call
    groups, and the display names of up to ``limit`` approvers. Each lookup handles Slack's errors itself (a
    warning; the request that needs it asks again)."""
    try:
        if workspace is not None:
            workspace.warm()
        approvers = directory.approvers()
        directory.admins()
        directory.oncall()
        for user in sorted(approvers)[:limit]:
            names(user)
    except Exception:
        logger.exception("warming up the Slack lookups failed; requests will ask for themselves")
