"""``make demo`` end to end at 100k and 1M events: wall time, where it goes, and the platform's peak memory.

Each size runs ``python -m edp_local.demo`` in its own process, on a fresh isolated demo instance (the
default ports, so ``make stop`` first), and reads back its JSON summary. Baselines measured in the same
run: the idle platform's memory (sampled once every component is up, before any event is sent), and
for wall time the smaller size: the slope between the two sizes is the per-event cost, the intercept
the fixed cost of starting the platform and running every DAG once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (100_000, 1_000_000)
MEMORY_TARGET_MIB = 6 * 1024


def run_demo(events: int, summary_path: Path) -> tuple[dict[str, Any], float, int]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edp_local.demo",
            "--events",
            str(events),
            "--summary-json",
            str(summary_path),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "include")},
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - started
    if not summary_path.exists():
        raise RuntimeError(f"make demo --events {events} wrote no summary:\n{result.stderr[-3000:]}")
    return json.loads(summary_path.read_text()), took, result.returncode


def _stage_row(summary: dict[str, Any], name: str) -> tuple[float, float]:
    for stage in summary.get("stages", []):
        if stage["stage"] == name:
            return stage["seconds"], stage["share"]
    return 0.0, 0.0


def stage_table(summaries: dict[int, dict[str, Any]]) -> str:
    sizes = sorted(summaries)
    names: list[str] = []
    for size in sizes:
        names += [s["stage"] for s in summaries[size].get("stages", []) if s["stage"] not in names]
    head = "| stage | " + " | ".join(f"{size:,} events: s (share)" for size in sizes) + " |"
    lines = [head, "|---|" + "---:|" * len(sizes)]
    for name in names:
        cells = []
        for size in sizes:
            seconds, share = _stage_row(summaries[size], name)
            cells.append(f"{seconds:,.1f} ({share:.0%})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"**{summaries[size]['wall_seconds']:,.0f}**" for size in sizes)
    lines.append(f"| **whole demo** | {totals} |")
    return "\n".join(lines)


def memory_table(summaries: dict[int, dict[str, Any]]) -> str:
    lines = [
        "| events | idle platform (baseline) MiB | peak MiB (PSS) | peak RSS sum MiB | peak during | target | verdict |",
        "|---:|---:|---:|---:|---|---:|---|",
    ]
    for size in sorted(summaries):
        memory = summaries[size].get("memory", {})
        idle = memory.get("idle_mib", float("nan"))
        peak = memory.get("peak_mib", float("nan"))
        verdict = "met" if peak < MEMORY_TARGET_MIB else "NOT met"
        lines.append(
            f"| {size:,} | {idle:,.0f} | {peak:,.0f} | {memory.get('peak_rss_sum_mib', float('nan')):,.0f} | "
            f"{memory.get('peak_stage', '?')} | "
            f"{MEMORY_TARGET_MIB:,} | {verdict} |"
        )
    return "\n".join(lines)


def components_table(summary: dict[str, Any]) -> str:
    by_component = summary.get("memory", {}).get("peak_by_component_mib", {})
    lines = ["| component | MiB at the peak |", "|---|---:|"]
    for name, mib in sorted(by_component.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {mib:,.0f} |")
    return "\n".join(lines)


def throughput_line(summaries: dict[int, dict[str, Any]]) -> str:
    parts = []
    for size in sorted(summaries):
        summary = summaries[size]
        accepted = summary.get("traffic", {}).get("accepted", 0)
        parts.append(
            f"{size:,} events: {accepted / summary['wall_seconds']:,.0f} accepted events/s end to end, "
            f"reconciliation {'passed' if summary.get('ok') else 'FAILED: ' + ', '.join(summary.get('failed_checks', []))}"
        )
    sizes = sorted(summaries)
    if len(sizes) >= 2:
        small, large = summaries[sizes[0]], summaries[sizes[-1]]
        slope = (large["wall_seconds"] - small["wall_seconds"]) / (sizes[-1] - sizes[0])
        fixed = small["wall_seconds"] - slope * sizes[0]
        parts.append(f"fitted: {fixed:,.0f} s fixed + {slope * 1e6:,.0f} µs per event")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.platform_demo", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--summaries-dir", type=Path, help="keep each run's JSON summary here (default: a tmp dir)"
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="print the tables from the summaries already in --summaries-dir",
    )
    args = parser.parse_args(argv)
    if args.render_only and not args.summaries_dir:
        parser.error("--render-only needs --summaries-dir")
    summaries: dict[int, dict[str, Any]] = {}
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        directory = args.summaries_dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            path = directory / f"demo-{size}.json"
            if args.render_only:
                summaries[size] = json.loads(path.read_text())
                continue
            print(f"make demo with {size:,} events ...", file=sys.stderr, flush=True)
            summary, _, returncode = run_demo(size, path)
            summaries[size] = summary
            failed |= returncode != 0
    load_note = "" if args.render_only else f" Load average after the runs {os.getloadavg()[0]:.1f}."
    print("### Whole platform: `make demo` (`python -m benchmarks.platform_demo`)\n")
    print(
        f"Each size is a fresh isolated instance: platform start, send through the gateway (rate 0, "
        f"duplicates, late and invalid events), the streaming job's drain into bronze/silver, every DAG "
        f"driven once through the Airflow REST API, then reconciliation.{load_note} Memory is the PSS sum (proportional set size: each shared page split between "
        f"the processes mapping it) of every process of the platform (Airflow, Spark JVMs, moto, gateway, "
        f"the demo driver itself, ...) sampled every 0.5 s; the RSS sum, which counts shared pages once "
        f"per process, is shown as an upper bound.\n"
    )
    print(stage_table(summaries) + "\n")
    print(throughput_line(summaries) + "\n")
    print(memory_table(summaries) + "\n")
    largest = max(summaries)
    print(f"Memory by component at the peak of the {largest:,}-event run:\n")
    print(components_table(summaries[largest]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
