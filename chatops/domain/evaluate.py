"""How a window looks from each region: local times, peak minutes, sensitivity, flags and reasons.

A region is *sensitive during the window* when it is always sensitive or when any local date the window touches
falls in one of its sensitive periods. Its *sensitive peak minutes* are the window's peak minutes that fall on a
sensitive local date (all of them for a region that is always sensitive). It is *flagged* when it has at least
part of one sensitive peak minute: a window from 22:00 on an ordinary day to 02:00 on a sensitive one, with peak
hours 20:00-23:00, touches the sensitive date but spends no peak time on it, so it is not flagged. The window is
flagged when any region is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from chatops.domain import timeline
from chatops.domain.models import Evaluation, Freeze, Region, RegionResult, Window
from chatops.domain.suggest import Choice

_Fixed = tuple[
    Region,
    ZoneInfo,
    timeline.WeekTable | None,
    tuple[str, ...],
    tuple[tuple[timeline.Interval, str], ...],
    list[timeline.Interval],
]
"""What evaluating a region needs that does not depend on the window: the region (which keeps the entry's id
from being reused), its zone, its week of peak hours (``None``: no peak hours), the reason it is always
sensitive (if it is), each sensitive period's wall-clock span and reason, and those spans merged."""

_FIXED: dict[int, _Fixed] = {}


def _fixed(region: Region) -> _Fixed:
    entry = _FIXED.get(id(region))
    if entry is not None and entry[0] is region:
        return entry
    each, merged = timeline.period_walls(region.sensitive_periods)
    entry = (
        region,
        region.zone,
        timeline.WeekTable(region.peak_hours) if region.peak_hours else None,
        (region.sensitive_reason or "Always sensitive",) if region.sensitive else (),
        tuple(zip(each, (p.reason for p in region.sensitive_periods), strict=True)),
        merged,
    )
    if len(_FIXED) >= 10_000:  # regions are few and long-lived; this only bounds a process that reloads often
        _FIXED.clear()
    _FIXED[id(region)] = entry  # by identity: hashing a pydantic model each time would cost what this saves
    return entry


def evaluate_region(region: Region, window: Window, *, span: timeline.Interval | None = None) -> RegionResult:
    """How ``window`` looks from ``region``; ``span`` is the window in POSIX seconds, when already known."""
    start, end = span or (timeline.to_ts(window.start), timeline.to_ts(window.end))
    return _evaluate(region, window, start, end)


def _evaluate(region: Region, window: Window, start: int, end: int) -> RegionResult:
    _, zone, table, always, periods, merged = _fixed(region)
    segs = timeline.segments(zone, start, end)
    reasons = always
    peak = sensitive_peak = 0
    if len(segs) == 1:  # the usual case, written out: one UTC offset, one wall-clock range [lo, hi)
        offset = segs[0][2]
        lo, hi = start + offset, end + offset
        if periods:
            reasons += tuple(reason for (a, b), reason in periods if a < hi and lo < b)
        if table is not None:
            peak = table.between(lo, hi)
            if always:
                sensitive_peak = peak
            elif reasons and peak:
                sensitive_peak = sum(
                    table.between(max(a, lo), min(b, hi)) for a, b in merged if a < hi and lo < b
                )
    else:
        if periods:
            reasons += tuple(reason for wall, reason in periods if timeline.touches(segs, wall))
        if table is not None:
            peak = timeline.peak_seconds(segs, table)
            if always:
                sensitive_peak = peak
            elif reasons and peak:
                sensitive_peak = timeline.peak_seconds(segs, table, merged)
    # Positional, in the order of RegionResult's fields: keywords cost a third of the construction.
    return RegionResult(
        region.id,
        region.name,
        region.timezone,
        window.start.astimezone(zone),
        window.end.astimezone(zone),
        bool(reasons),
        -(-peak // 60),  # any overlap counts as a minute, so "flagged" and "minutes > 0" never disagree
        -(-sensitive_peak // 60),
        sensitive_peak > 0,
        reasons,
        region.peak_labels,
    )


def evaluate(window: Window, *, regions: Sequence[Region]) -> Evaluation:
    """Evaluate ``window`` against every region, in the order given."""
    start, end = timeline.to_ts(window.start), timeline.to_ts(window.end)
    return Evaluation(window=window, regions=tuple([_evaluate(r, window, start, end) for r in regions]))


def _suggestion(s: Window | Choice) -> dict[str, Any]:
    if isinstance(s, Choice):
        return {"start": s.start.isoformat(), "end": s.end.isoformat(), "kind": s.kind.value, "why": s.why}
    return {"start": s.start.isoformat(), "end": s.end.isoformat()}


def evaluation_document(
    evaluation: Evaluation, suggestions: Sequence[Window | Choice] = ()
) -> dict[str, Any]:
    """The JSON form of an evaluation and its suggestions: ``chatops check --json``, and the snapshot stored
    with a proposal and its audit events. Regions carry their peak hours, so a day strip can be drawn later."""
    return {
        "window": {"start": evaluation.window.start.isoformat(), "end": evaluation.window.end.isoformat()},
        "flagged": evaluation.flagged,
        "regions": [
            {
                "id": r.id,
                "name": r.name,
                "timezone": r.timezone,
                "local_start": r.local_start.isoformat(),
                "local_end": r.local_end.isoformat(),
                "sensitive": r.sensitive,
                "peak_overlap_minutes": r.peak_overlap_minutes,
                "sensitive_peak_minutes": r.sensitive_peak_minutes,
                "flagged": r.flagged,
                "reasons": list(r.reasons),
                "peak_hours": list(r.peak_hours),
            }
            for r in evaluation.regions
        ],
        "suggestions": [_suggestion(s) for s in suggestions],
        **({"freezes": [freeze_document(f) for f in evaluation.freezes]} if evaluation.freezes else {}),
    }


def freeze_document(freeze: Freeze) -> dict[str, str]:
    return {
        "summary": freeze.summary,
        "calendar": freeze.calendar,
        "start": freeze.start.isoformat(),
        "end": freeze.end.isoformat(),
    }
