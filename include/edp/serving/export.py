"""Export one load's gold partitions as Parquet: the files the warehouse's ``COPY`` reads.

Layout below the plan's ``export_uri`` (``s3://<artifacts>/warehouse/exports/<load id>`` on AWS, the
state dir locally)::

    <table>/part-00000.parquet        one per gold table: its rows for the plan's dates (maybe none)
    load_dates/part-00000.parquet     (table_name, event_date): the partitions each fact table replaces
    _manifest.json                    the plan and row counts, for audits

Every table gets a file even when it has no rows, so ``COPY`` always finds its prefix and a partition
that became empty in gold is emptied in the warehouse too. Rows are read from the Delta versions the
plan pinned (what the quality gate validated); columns are conformed to ``edp.lake.gold`` order and
types, timestamps as zone-less UTC (Redshift ``TIMESTAMP``). A rerun rewrites the same file names.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from edp.lake.gold import GOLD_TABLES
from edp.lake.reader import arrow_filesystem, dates_filter, open_table, read, to_naive_utc
from edp.serving.arrow_schemas import gold_arrow_schema
from edp.serving.names import LOAD_DATES, short_name
from edp.serving.plan import LoadPlan

PART_FILE = "part-00000.parquet"
MANIFEST = "_manifest.json"
LOAD_DATES_SCHEMA = pa.schema(
    [pa.field("table_name", pa.string(), False), pa.field("event_date", pa.date32(), False)]
)


def conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """Exactly ``schema``'s columns, in its order and types (missing columns are an error)."""
    missing = [name for name in schema.names if name not in rows.column_names]
    if missing:
        raise ValueError(f"gold rows lack columns {missing}")
    return rows.select(schema.names).cast(schema)


def gold_rows(plan: LoadPlan, table: str, options: Mapping[str, str] | None = None) -> pa.Table:
    """The plan's partitions of one gold table, at the pinned version, in ``edp.lake.gold`` shape."""
    spec = GOLD_TABLES[table]
    pinned = plan.gold[table]
    schema = gold_arrow_schema(spec)
    if not pinned.dates or pinned.version is None:
        return schema.empty_table()
    delta = open_table(pinned.path, pinned.version, options)
    return conform(read(delta, schema, filter=dates_filter("event_date", pinned.dates)), schema)


def load_dates_table(plan: LoadPlan) -> pa.Table:
    pairs = [(name, d) for name, pinned in plan.gold.items() for d in pinned.dates]
    return pa.table(
        {"table_name": [p[0] for p in pairs], "event_date": [p[1] for p in pairs]}, schema=LOAD_DATES_SCHEMA
    )


def _location(uri: str) -> str:
    """pyarrow's S3FileSystem takes ``bucket/key``; local paths stay as they are."""
    return uri.removeprefix("s3://")


def export_gold(plan: LoadPlan, options: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write the plan's export (see the module docstring); returns row counts per folder."""
    filesystem = arrow_filesystem(options)
    root = plan.export_uri.rstrip("/")
    if filesystem is None:
        shutil.rmtree(root, ignore_errors=True)  # a rerun starts from an empty folder
    counts: dict[str, int] = {}
    outputs = {
        short_name(GOLD_TABLES[name]): to_naive_utc(gold_rows(plan, name, options)) for name in plan.gold
    }
    outputs[LOAD_DATES] = load_dates_table(plan)
    for folder, rows in outputs.items():
        target = f"{root}/{folder}/{PART_FILE}"
        if filesystem is None:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, _location(target), filesystem=filesystem)
        counts[folder] = rows.num_rows
    manifest = json.dumps({"plan": plan.to_dict(), "rows": counts}, indent=2, sort_keys=True)
    if filesystem is None:
        Path(root, MANIFEST).write_text(manifest)
    else:
        with filesystem.open_output_stream(_location(f"{root}/{MANIFEST}")) as out:
            out.write(manifest.encode())
    return {"export_uri": plan.export_uri, "rows": counts}
