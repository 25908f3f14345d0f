"""Source-lag facts the reader writes to ``metricsPath`` after every read (micro-batch planning).

Python data source readers run in Spark's Python worker processes, not in the driver's Python,
so the streaming job cannot ask the reader for its lag; it reads this file instead. The file is
replaced atomically, so a reader of it never sees half a document. Format (times are ISO-8601 UTC)::

    {
      "stream": "events",
      "readAt": "2026-01-01T00:00:01.250000+00:00",      # wall-clock time the read finished
      "readDurationMs": 41.7,                            # wall time the read took
      "recordsRead": 120,                                # in this read, all shards
      "maxMillisBehindLatest": 0,                        # max over shards; null if none reported
      "newestArrivalTimestamp": "2026-01-01T00:00:01.100000+00:00",  # max over shards, or null
      "shards": {
        "shardId-000000000000": {
          "recordsRead": 60,
          "millisBehindLatest": 0,                       # from the shard's last GetRecords; null if none
          "newestArrivalTimestamp": "...",               # newest approximateArrivalTimestamp this reader
                                                         # process has read from the shard; null if none yet
          "sequenceNumber": "4963...",                   # the offset after this read
          "getRecordsCalls": 1
        }
      }
    }
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edp.stream.kinesis_source.shards import ShardRead


def _iso(timestamp: dt.datetime | None) -> str | None:
    return None if timestamp is None else timestamp.astimezone(dt.UTC).isoformat()


def lag_facts(
    stream: str,
    reads: Mapping[str, ShardRead],
    newest_arrivals: Mapping[str, dt.datetime],
    offsets: Mapping[str, str | None],
    *,
    read_at: dt.datetime,
    duration_ms: float,
) -> dict[str, Any]:
    """The metrics document for one read (see the module docstring)."""
    behind = [r.millis_behind_latest for r in reads.values() if r.millis_behind_latest is not None]
    return {
        "stream": stream,
        "readAt": _iso(read_at),
        "readDurationMs": round(duration_ms, 3),
        "recordsRead": sum(len(r.rows) for r in reads.values()),
        "maxMillisBehindLatest": max(behind) if behind else None,
        "newestArrivalTimestamp": _iso(max(newest_arrivals.values(), default=None)),
        "shards": {
            shard_id: {
                "recordsRead": len(read.rows),
                "millisBehindLatest": read.millis_behind_latest,
                "newestArrivalTimestamp": _iso(newest_arrivals.get(shard_id)),
                "sequenceNumber": offsets.get(shard_id),
                "getRecordsCalls": read.get_records_calls,
            }
            for shard_id, read in sorted(reads.items())
        },
    }


def write_metrics(path: str | os.PathLike[str], facts: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``facts`` as JSON, atomically (write a sibling, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(facts, indent=2))
    tmp.replace(target)
