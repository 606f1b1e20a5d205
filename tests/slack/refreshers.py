"""Refreshers for tests: one that runs each background refresh at once (deterministic), one that holds them
until the test runs them (to show that a lookup answered without waiting for Slack)."""

from __future__ import annotations

from collections.abc import Callable

from chatops.slack.refresh import Refresher


def inline() -> Refresher:
    """Each refresh runs in the calling thread before the lookup answers (with what it knew before)."""
    return Refresher(spawn=lambda run: run())


class Held:
    """A refresher whose refreshes wait in ``pending`` until :meth:`run` runs them."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []
        self.refresher = Refresher(spawn=self.pending.append)

    def run(self) -> int:
        """Run the refreshes started so far; how many there were."""
        ran, self.pending[:] = list(self.pending), []
        for refresh in ran:
            refresh()
        return len(ran)
