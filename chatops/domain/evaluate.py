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

from chatops.domain import timeline
from chatops.domain.models import Evaluation, Region, RegionResult, Window


def _peak_minutes(seconds: int) -> int:
    # Any overlap counts as at least one minute, so "flagged" and "sensitive peak minutes > 0" never disagree.
    return -(-seconds // 60)


def sensitivity_reasons(region: Region, segs: Sequence[timeline.Segment]) -> list[str]:
    """Why ``region`` is sensitive during the span its segments cover; empty when it is not."""
    reasons: list[str] = []
    if region.sensitive:
        reasons.append(region.sensitive_reason or "Always sensitive")
    if region.sensitive_periods:
        each, _ = timeline.period_walls(region.sensitive_periods)
        for period, wall in zip(region.sensitive_periods, each, strict=True):
            if timeline.touches(segs, wall):
                reasons.append(period.reason)
    return reasons


def evaluate_region(region: Region, window: Window, *, span: timeline.Interval | None = None) -> RegionResult:
    """How ``window`` looks from ``region``; ``span`` is the window in POSIX seconds, when already known."""
    zone = region.zone
    start, end = span or (timeline.to_ts(window.start), timeline.to_ts(window.end))
    segs = timeline.segments(zone, start, end)
    reasons = sensitivity_reasons(region, segs) if region.sensitive or region.sensitive_periods else []
    peak = sensitive_peak = 0
    if region.peak_hours:
        table = timeline.week_table(region.peak_hours)
        peak = timeline.peak_seconds(segs, table)
        if region.sensitive:
            sensitive_peak = peak
        elif reasons and peak:
            sensitive_peak = timeline.peak_seconds(
                segs, table, timeline.period_walls(region.sensitive_periods)[1]
            )
    # Positional, in the order of RegionResult's fields: keywords cost a third of the construction.
    return RegionResult(
        region.id,
        region.name,
        region.timezone,
        window.start.astimezone(zone),
        window.end.astimezone(zone),
        bool(reasons),
        _peak_minutes(peak),
        _peak_minutes(sensitive_peak),
        sensitive_peak > 0,
        tuple(reasons),
        region.peak_labels,
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
                "sensitive_peak_minutes": r.sensitive_peak_minutes,
                "flagged": r.flagged,
                "reasons": list(r.reasons),
            }
            for r in evaluation.regions
        ],
        "suggestions": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in suggestions],
    }
