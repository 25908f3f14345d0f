"""Newest Delta commit: the delta-rs read (``edp.lake.delta_log``) against the hand-written ``_delta_log``
reader it replaced, as the log grows. The streaming supervisor and ``data_freshness`` ask this of
silver every few minutes, so the cost must stay flat as commits accumulate.

A real Delta table is written with delta-rs (one small append per commit, a checkpoint every 10 commits,
as Spark writes them); each reader is timed on the same table at every size (median of repeats). The
baseline (the hand-written reader, kept here for the comparison only) lists the whole ``_delta_log``
directory and reads the newest commit file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from edp.lake.delta_log import newest_commit

_COMMIT = re.compile(r"^(\d{20})\.json$")


def baseline_newest_commit(table: Path) -> datetime | None:
    """The replaced reader: list ``_delta_log``, read the highest-versioned commit's commitInfo."""
    log_dir = table / "_delta_log"
    try:
        names = [e.name for e in os.scandir(log_dir) if e.is_file() and _COMMIT.match(e.name)]
    except FileNotFoundError:
        return None
    if not names:
        return None
    for line in (log_dir / max(names)).read_text().splitlines():
        info = json.loads(line).get("commitInfo") if line.strip() else None
        if isinstance(info, dict) and "timestamp" in info:
            return datetime.fromtimestamp(info["timestamp"] / 1000, tz=UTC)
    return None


def timed(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,3000", help="commit counts to measure at")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "silver"
        batch = pa.table({"event_id": pa.array(["e"]), "n": pa.array([1], pa.int64())})
        config = {"delta.checkpointInterval": "10"}
        written = 0
        for size in sizes:
            while written < size:
                write_deltalake(
                    str(table), batch, mode="append", configuration=config if written == 0 else None
                )
                written += 1
            assert newest_commit(str(table)) == baseline_newest_commit(table)
            rows.append(
                (
                    size,
                    timed(lambda: newest_commit(str(table)), args.repeats),
                    timed(lambda: baseline_newest_commit(table), args.repeats),
                )
            )
    print("### Newest Delta commit (delta-rs vs the hand-written reader)\n")
    print("| commits in the log | delta-rs `newest_commit` (ms) | hand-written baseline (ms) |")
    print("| --- | --- | --- |")
    for size, ours, baseline in rows:
        print(f"| {size} | {ours:.2f} | {baseline:.2f} |")


if __name__ == "__main__":
    main()
