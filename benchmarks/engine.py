"""Engine benchmark: evaluate() and suggest() against the minute-by-minute oracle in tests/oracle.py.

Not part of the test run. From the repository root::

    .venv/bin/python benchmarks/engine.py [--json out.json] [--repeat N] [--clock cpu]

Each case is timed with ``time.perf_counter`` (``--clock cpu``: ``time.process_time``, the CPU time of this
process, which leaves out the time spent waiting for a core on a shared machine) over several runs and the
median is reported, for the engine and
for the oracle; the speed-up is oracle median / engine median. Every case also checks that both give the same
answer, so the figures compare equal work. For 400 regions over 7 and 30 days the oracle (minutes x regions
conversions) would take minutes, so it is checked and timed on every 40th region only, and the speed-up is per
region. The targets: the engine under 5 µs per region (400 regions) for any window up to a week
(``max_window_days``), and at least 100x the oracle. Results are in docs/performance.md ("Engine").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.oracle

from chatops.domain import evaluate, suggest
from chatops.domain.models import Region, SensitivePeriod, Team, Window
from tests import oracle

AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)
START = datetime(2026, 6, 16, 5, 0, tzinfo=UTC)
TEAM = Team(timezone="America/Los_Angeles", working_hours=("mon-fri 09:00-17:00",))


def canonical_zones() -> list[str]:
    """IANA zones named Area/Place (no Etc/, no legacy names such as US/Pacific or Iran), sorted."""
    return [k for k in sorted(zoneinfo.available_timezones()) if k.split("/")[0] in AREAS and "/" in k]


def world(count: int, *, spread: bool = True, sensitive_days: tuple[int, int] | None = None) -> list[Region]:
    """``count`` regions with realistic peak hours: the first ``count`` canonical zones, or (``spread``) zones
    taken at even steps through the sorted list, so that they span the world's offsets.

    Without ``sensitive_days`` every fourth region has a sensitive period covering the benchmark window and
    every tenth is always sensitive (so sensitivity is computed, and some regions flag). With
    ``sensitive_days=(a, b)`` every region is sensitive from day ``a`` to day ``b`` after START (local dates).
    """
    zones = canonical_zones()
    if len(zones) < count:
        raise SystemExit(f"only {len(zones)} canonical zones are installed; {count} are needed")
    chosen = zones[:: len(zones) // count][:count] if spread else zones[:count]
    regions = []
    for i, key in enumerate(chosen):
        periods: tuple[SensitivePeriod, ...] = ()
        always = False
        if sensitive_days is not None:
            first, last = (START.date() + timedelta(days=d) for d in sensitive_days)
            periods = (SensitivePeriod(start=first, end=last, reason="benchmark"),)
        elif i % 10 == 0:
            always = True
        elif i % 4 == 0:
            periods = (SensitivePeriod(start=date(2026, 6, 10), end=date(2026, 6, 20), reason="election"),)
        regions.append(
            Region(
                id=f"r{i}",
                name=key,
                timezone=key,
                peak_hours=("mon-fri 07:00-23:00", "sat-sun 09:00-24:00", "fri 23:00-01:00"),
                sensitive=always,
                sensitive_reason="always" if always else None,
                sensitive_periods=periods,
            )
        )
    return regions


@dataclass
class Result:
    case: str
    engine_ms: float
    oracle_ms: float  # for the regions the oracle was run on (all, or a sample: oracle_regions)
    speedup: float  # oracle time per region / engine time per region
    engine_runs: int
    oracle_runs: int
    answer: str
    regions: int = 0  # regions evaluated by the engine (0: not an evaluation case)
    oracle_regions: int = 0

    @property
    def us_per_region(self) -> float | None:
        return self.engine_ms * 1000 / self.regions if self.regions else None


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times = []
    value = None
    for _ in range(runs):
        began = clock()
        value = fn()
        times.append((clock() - began) * 1000)
    return statistics.median(times), value


def bench(
    case: str,
    engine: Callable[[], Any],
    slow: Callable[[], Any],
    *,
    runs: int,
    oracle_runs: int,
    answer: str,
    same: Callable[[Any, Any], bool] = lambda a, b: bool(a == b),
    oracle_share: float = 1.0,
) -> Result:
    """Time both; ``same(engine value, oracle value)`` must hold; the oracle did ``oracle_share`` of the work."""
    engine()  # warm caches (zoneinfo's, pydantic's) once, as a long-running app would have them
    engine_ms, fast_value = median_ms(engine, runs)
    oracle_ms, slow_value = median_ms(slow, oracle_runs)
    if not same(fast_value, slow_value):
        raise SystemExit(f"{case}: the engine and the oracle disagree:\n{fast_value}\n{slow_value}")
    return Result(case, engine_ms, oracle_ms, oracle_ms / oracle_share / engine_ms, runs, oracle_runs, answer)


Facts = list[tuple[str, int, bool, bool]]


def evaluation_case(
    window: Window, regions: list[Region], *, runs: int, oracle_runs: int, case: str, oracle_every: int = 1
) -> Result:
    """Evaluate ``window`` against ``regions``; the oracle runs on every ``oracle_every``-th region."""
    sample = regions[::oracle_every]

    def fast() -> Facts:
        return [
            (r.id, r.peak_overlap_minutes, r.sensitive, r.flagged)
            for r in evaluate(window, regions=regions).regions
        ]

    def slow() -> Facts:
        return [(r.id, r.peak_minutes, r.sensitive, r.flagged) for r in oracle.evaluate(window, sample)]

    flagged = sum(facts[-1] for facts in fast())
    result = bench(
        case,
        fast,
        slow,
        runs=runs,
        oracle_runs=oracle_runs,
        answer=f"{flagged} regions flagged",
        same=lambda mine, theirs: mine[::oracle_every] == theirs,
        oracle_share=len(sample) / len(regions),
    )
    result.regions, result.oracle_regions = len(regions), len(sample)
    return result


def suggestion_case(*, runs: int, oracle_runs: int) -> Result:
    regions = world(50, sensitive_days=(0, 9))
    window = Window.of(START, timedelta(hours=1))
    horizon = timedelta(days=14)

    def fast() -> list[Window]:
        return suggest(window, regions=regions, team=TEAM, horizon=horizon, count=3)

    def slow() -> list[Window]:
        return oracle.suggest(window, regions=regions, team=TEAM, horizon=horizon, count=3)

    found = fast()
    answer = ", ".join(f"{w.start:%m-%d %H:%M}Z" for w in found) or "none"
    return bench(
        "suggest: 1h, 14-day horizon, 50 sensitive regions, team hours",
        fast,
        slow,
        runs=runs,
        oracle_runs=oracle_runs,
        answer=answer,
    )


def run(repeat: int) -> list[Result]:
    one_hour = Window.of(START, timedelta(hours=1))
    seven_days = Window.of(START, timedelta(days=7))
    thirty_days = Window.of(START, timedelta(days=30))
    four_hundred = world(400, spread=False)
    return [
        evaluation_case(
            one_hour, world(1), runs=repeat * 10, oracle_runs=repeat, case="evaluate: 1h, 1 region"
        ),
        evaluation_case(
            one_hour, world(50), runs=repeat * 5, oracle_runs=repeat, case="evaluate: 1h, 50 regions"
        ),
        evaluation_case(one_hour, four_hundred, runs=repeat, oracle_runs=3, case="evaluate: 1h, 400 regions"),
        evaluation_case(
            seven_days,
            four_hundred,
            runs=repeat,
            oracle_runs=1,
            oracle_every=40,
            case="evaluate: 7 days, 400 regions",
        ),
        evaluation_case(
            thirty_days,
            four_hundred,
            runs=repeat,
            oracle_runs=1,
            oracle_every=40,
            case="evaluate: 30 days, 400 regions",
        ),
        evaluation_case(
            thirty_days, world(50), runs=repeat, oracle_runs=1, case="evaluate: 30 days, 50 regions"
        ),
        suggestion_case(runs=repeat, oracle_runs=1),
    ]


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tzdata_zones": len(zoneinfo.available_timezones()),
    }


def table(results: list[Result]) -> str:
    rows = [["case", "engine ms", "µs/region", "oracle ms", "speed-up", "answer"]]
    for r in results:
        per_region = f"{r.us_per_region:.2f}" if r.us_per_region is not None else ""
        oracle_ms = f"{r.oracle_ms:.1f}"
        if r.oracle_regions and r.oracle_regions != r.regions:
            oracle_ms += f" ({r.oracle_regions} regions)"
        rows.append([r.case, f"{r.engine_ms:.3f}", per_region, oracle_ms, f"{r.speedup:,.0f}x", r.answer])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    align = [str.ljust, str.rjust, str.rjust, str.rjust, str.rjust, str.ljust]
    return "\n".join(
        "  ".join(a(cell, w) for a, cell, w in zip(align, row, widths, strict=True)).rstrip() for row in rows
    )


def targets(results: list[Result]) -> list[tuple[str, bool, str]]:
    """(target, met, the figure) for the engine's targets."""
    large = [r for r in results if r.regions == 400]
    worst = max(large, key=lambda r: r.us_per_region or 0.0)
    slowest = min(results, key=lambda r: r.speedup)
    return [
        (
            "engine < 5 µs per region (400 regions, 1h to 30 days)",
            (worst.us_per_region or 0.0) < 5,
            f"highest {worst.us_per_region or 0.0:.2f} µs ({worst.case})",
        ),
        ("engine >= 100x the oracle (every case)", slowest.speedup >= 100, f"lowest {slowest.speedup:,.0f}x"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--repeat", type=int, default=20, help="engine runs per case (x10 and x5 for small ones)"
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default) or this process's CPU time",
    )
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    results = run(max(1, args.repeat))
    info = machine()
    print(f"Python {info['python']} ({info['implementation']}), {info['cpus']} CPUs, {info['platform']}")
    print(f"clock: {args.clock}, load average at the start: {os.getloadavg()[0]:.2f}")
    print(table(results))
    for name, met, figure in targets(results):
        print(f"target: {name}: {figure}: {'met' if met else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": info,
                    "results": [asdict(r) | {"us_per_region": r.us_per_region} for r in results],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
