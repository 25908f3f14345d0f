"""The medallion lake's layout: table names, paths, partitioning and schemas, defined once.

Jobs, DAGs and tests import table locations and schemas from here, never as literals:

* :mod:`edp.lake.tables` — :class:`TableSpec` per table (name, layer, path below the lake root,
  partition columns, description), checkpoint and local metrics-file locations;
* :mod:`edp.lake.columns` — column lists; silver's are derived from the event contract's
  ``field_catalog()``, so no event field is hand-written here;
* :mod:`edp.lake.spark_schemas` — the same lists as Spark ``StructType``s (imports pyspark lazily).

Importing the package costs the standard library plus ``platform_config`` and ``event_contract``.

Schema-evolution policy (enforced by ``edp.stream.tables.ensure_table``, described in docs/lake.md):

1. Delta schema enforcement stays on: writers never set ``mergeSchema``/``overwriteSchema``, so a
   write whose schema differs from the table's fails instead of silently changing the table.
2. The only allowed change is **adding nullable columns**. It ships with a contract *minor* bump
   (``edp.contract.CONTRACT_VERSION`` 1.0 -> 1.1, enforced by ``edp.contract.compatibility``);
   the streaming job adds the new columns at start-up with ``ALTER TABLE ... ADD COLUMNS`` and old
   rows read them as null.
3. Columns are **never retyped, renamed or removed**, and nullable columns never become NOT NULL.
   Such a change needs a new contract major version (``schemas/v2``) and new tables written side by
   side (``silver/events_v2``), backfilled from bronze, which keeps every raw record.
4. Partition columns never change.
"""

from edp.lake.columns import (
    Column,
    bronze_columns,
    column_name,
    event_columns,
    is_url_field,
    quarantine_columns,
    silver_columns,
)
from edp.lake.tables import (
    BRONZE_EVENTS,
    INGEST_REJECTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    STREAM_EVENTS_QUERY,
    TABLES,
    Layer,
    TableSpec,
    checkpoint_path,
    source_metrics_path,
    streaming_metrics_path,
    streaming_state_dir,
    table,
)

__all__ = [
    "BRONZE_EVENTS",
    "INGEST_REJECTS",
    "QUARANTINE_EVENTS",
    "SILVER_EVENTS",
    "STREAM_EVENTS_QUERY",
    "TABLES",
    "Column",
    "Layer",
    "TableSpec",
    "bronze_columns",
    "checkpoint_path",
    "column_name",
    "event_columns",
    "is_url_field",
    "quarantine_columns",
    "silver_columns",
    "source_metrics_path",
    "streaming_metrics_path",
    "streaming_state_dir",
    "table",
]
