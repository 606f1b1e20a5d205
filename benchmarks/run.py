"""All the benchmarks in one run: the ack path against bare Bolt, the engine against its oracle, the store at
scale. From the repository root, with the test extras installed and PostgreSQL at 127.0.0.1:5432 (database
``test``, trust; ``CHATOPS_BENCH_POSTGRES_URL`` to use another)::

    .venv/bin/python benchmarks/run.py [--quick] [--json benchmarks/results/latest.json]
        [--only ack,engine,scale]

``--quick`` is a smoke check (fewer requests, 10,000 proposals only). Prints the tables and the targets; with
``--json`` also writes every figure. About 8 minutes in full on 2 cores; see docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import ack, engine, scale  # noqa: E402

PARTS = ("ack", "engine", "scale")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "load_average_at_start": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run, as a smoke check")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated subset of ack,engine,scale")
    parser.add_argument(
        "--ack-database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the database chatops serves the ack benchmark from (PostgreSQL: CHATOPS_BENCH_POSTGRES_URL)",
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    info = machine()
    print(
        f"Python {info['python']} ({info['implementation']}), {info['cpus']} CPUs ({info['cpu_model']}), "
        f"{info['platform']}; load average {info['load_average_at_start']}"
    )
    report: dict[str, Any] = {"machine": info, "quick": args.quick}
    targets: list[tuple[str, bool, str]] = []
    began = time.monotonic()

    if "ack" in parts:
        print(
            "\n== Ack path: chatops serve vs bare Bolt (gunicorn gthread 2 workers x 4 threads), "
            f"chatops on {args.ack_database} =="
        )
        results = ack.run(quick=args.quick, backend=args.ack_database)
        summary = ack.summary(results)
        print(ack.table(results))
        print()
        print(ack.ratio_table(summary))
        report["ack"] = {"results": ack.as_json(results), "summary": summary}
        t = summary["targets"]
        targets.append(
            (
                "ack p50 <= 5 ms at 1 client",
                t["ack_p50_1_client_ms"]["met"],
                f"worst {t['ack_p50_1_client_ms']['worst']:.2f} ms",
            )
        )
        targets.append(
            (
                "ack p99 <= 25 ms at 8 clients",
                t["ack_p99_8_clients_ms"]["met"],
                f"worst {t['ack_p99_8_clients_ms']['worst']:.1f} ms",
            )
        )
        targets.append(
            (
                "throughput >= 70% of the faster bare Bolt",
                t["throughput_ratio"]["met"],
                f"lowest {t['throughput_ratio']['lowest']:.0%}",
            )
        )

    if "engine" in parts:
        print("\n== Engine: evaluate() and suggest() vs the minute-by-minute oracle ==")
        results_e = engine.run(5 if args.quick else 20)
        print(engine.table(results_e))
        report["engine"] = [r.__dict__ | {"us_per_region": r.us_per_region} for r in results_e]
        targets.extend(engine.targets(results_e))

    if "scale" in parts:
        print("\n== Store at scale ==")
        results_s = scale.run(quick=args.quick)
        print(scale.table(results_s))
        growth = scale.growth(results_s)
        report["scale"] = {"results": scale.as_json(results_s), "growth": growth}
        if growth:
            # log10(100k) / log10(10k) = 1.25; allow noise up to 2x for a lookup that is logarithmic.
            worst = max(growth, key=lambda g: g["ratio_100k_over_10k"])
            targets.append(
                (
                    "store: 10x the rows costs <= 2x per query (per event for the export)",
                    worst["ratio_100k_over_10k"] <= 2.0,
                    f"worst {worst['ratio_100k_over_10k']:.2f}x ({worst['backend']}, {worst['op']})",
                )
            )

    print(f"\n== Targets ({time.monotonic() - began:.0f} s in all) ==")
    for name, met, detail in targets:
        print(f"  {'met    ' if met else 'NOT met'}  {name}: {detail}")
    report["targets"] = [{"target": n, "met": m, "detail": d} for n, m, d in targets]
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
