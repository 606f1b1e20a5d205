"""How a window looks from each region: local times, peak minutes, sensitivity, flags and reasons.

A region is *sensitive during the window* when it is always sensitive or when any local date the window touches
falls in one of its sensitive periods. It is *flagged* when it is sensitive during the window and the window spends
at least part of a minute inside its peak hours. The window is flagged when any region is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatops.domain import timeline
from chatops.domain.models import Evaluation, Freeze, Region, RegionResult, Window


def _peak_minutes(seconds: int) -> int:
    # Any overlap counts as at least one minute, so "flagged" and "peak minutes > 0" never disagree.
    return -(-seconds // 60)


def sensitivity_reasons(region: Region, segs: Sequence[timeline.Segment]) -> list[str]:
    """Why ``region`` is sensitive during the span its segments cover; empty when it is not."""
    reasons: list[str] = []
    if region.sensitive:
        reasons.append(region.sensitive_reason or "Always sensitive")
    if region.sensitive_periods:
        for period in region.sensitive_periods:
            if timeline.instants(segs, timeline.wall_dates(period.start, period.end)):
                reasons.append(period.reason)
    return reasons


def evaluate_region(region: Region, window: Window, *, span: timeline.Interval | None = None) -> RegionResult:
    """How ``window`` looks from ``region``; ``span`` is the window in POSIX seconds, when already known."""
    zone = region.zone
    start, end = span or (timeline.to_ts(window.start), timeline.to_ts(window.end))
    segs = timeline.segments(zone, start, end)
    minutes = _peak_minutes(timeline.total(timeline.in_wall_hours(segs, region.peak_hours)))
    reasons = sensitivity_reasons(region, segs)
    sensitive = bool(reasons)
    return RegionResult(
        id=region.id,
        name=region.name,
        timezone=region.timezone,
        local_start=window.start.astimezone(zone),
        local_end=window.end.astimezone(zone),
        sensitive=sensitive,
        peak_overlap_minutes=minutes,
        flagged=sensitive and minutes > 0,
        reasons=tuple(reasons),
        peak_hours=region.peak_labels,
    )


def evaluate(window: Window, *, regions: Sequence[Region]) -> Evaluation:
    """Evaluate ``window`` against every region, in the order given."""
    span = (timeline.to_ts(window.start), timeline.to_ts(window.end))
    return Evaluation(window=window, regions=tuple(evaluate_region(r, window, span=span) for r in regions))


def evaluation_document(evaluation: Evaluation, suggestions: Sequence[Window] = ()) -> dict[str, Any]:
    """The JSON form of an evaluation and its suggestions: ``chatops check --json``, and the snapshot stored
    with a proposal and its audit events."""
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
                "flagged": r.flagged,
                "reasons": list(r.reasons),
            }
            for r in evaluation.regions
        ],
        "suggestions": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in suggestions],
        **({"freezes": [freeze_document(f) for f in evaluation.freezes]} if evaluation.freezes else {}),
    }


def freeze_document(freeze: Freeze) -> dict[str, str]:
    return {
        "summary": freeze.summary,
        "calendar": freeze.calendar,
        "start": freeze.start.isoformat(),
        "end": freeze.end.isoformat(),
    }
