"""Change freezes: a window that overlaps one is flagged, and suggestions keep clear of every one.

Freezes are plain values (:class:`~chatops.domain.models.Freeze`, instants in UTC) that the edge reads from freeze
calendars; this module only compares them with windows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from chatops.domain import timeline
from chatops.domain.models import Evaluation, Freeze, Window
from chatops.domain.timeline import Interval


def overlapping(window: Window, freezes: Iterable[Freeze]) -> tuple[Freeze, ...]:
    """The freezes that share some time with ``window``, in order of start."""
    hits = (f for f in freezes if f.start < window.end and window.start < f.end)
    return tuple(sorted(hits, key=lambda f: (f.start, f.end, f.summary)))


def with_freezes(evaluation: Evaluation, freezes: Iterable[Freeze]) -> Evaluation:
    """``evaluation`` with the freezes its window overlaps (which flag it)."""
    return dataclasses.replace(evaluation, freezes=overlapping(evaluation.window, freezes))


def frozen_starts(freezes: Sequence[Freeze], *, length: int) -> list[Interval]:
    """Window starts (POSIX seconds, merged) whose window of ``length`` seconds overlaps some freeze."""
    return timeline.merge((timeline.to_ts(f.start) - length + 1, timeline.to_ts(f.end)) for f in freezes)


def reason(freeze: Freeze) -> str:
    """``Change freeze: Year-end freeze (Release calendar)``."""
    where = f" ({freeze.calendar})" if freeze.calendar else ""
    return f"Change freeze: {freeze.summary}{where}"
