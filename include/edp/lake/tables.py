"""Table specs of the medallion lake: names, layers, paths and partition columns, in one place.

Paths are relative to the lake root (``edp.config.get_config().lake.root``: ``./data/lake`` locally,
``s3://<data bucket>/lake`` on AWS), so the same spec serves both environments. Standard library only.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path

from edp.config import PlatformConfig, get_config


class Layer(enum.StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    QUARANTINE = "quarantine"


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One table (or file area) of the lake.

    :param name: ``<layer>.<table>``, the name DAGs, tests and docs use.
    :param layer: medallion layer; also the first directory under the lake root.
    :param relative_path: location below the lake root, e.g. ``silver/events``.
    :param partition_columns: Hive-style partition columns, outermost first.
    :param description: one line for table comments and docs.
    :param format: ``delta`` for tables the platform writes with Spark; ``json`` for JSON Lines areas.
    :param properties: Delta table properties set at creation.
    """

    name: str
    layer: Layer
    relative_path: str
    partition_columns: tuple[str, ...]
    description: str
    format: str = "delta"
    properties: tuple[tuple[str, str], ...] = ()

    def path(self, lake_root: str | None = None) -> str:
        """Absolute location: ``<lake root>/<relative path>`` (a local path or an ``s3://`` URI)."""
        root = lake_root if lake_root is not None else get_config().lake.root
        return f"{root.rstrip('/')}/{self.relative_path}"


APPEND_ONLY = (("delta.appendOnly", "true"),)

BRONZE_EVENTS = TableSpec(
    name="bronze.events",
    layer=Layer.BRONZE,
    relative_path="bronze/events",
    partition_columns=("ingest_date",),
    description="Raw Kinesis records exactly as read, with stream/shard/sequence metadata; append-only.",
    properties=APPEND_ONLY,
)

SILVER_EVENTS = TableSpec(
    name="silver.events",
    layer=Layer.SILVER,
    relative_path="silver/events",
    partition_columns=("event_date",),
    description="Validated, typed, PII-handled events of the contract; one row per event_id.",
)

QUARANTINE_EVENTS = TableSpec(
    name="quarantine.events",
    layer=Layer.QUARANTINE,
    relative_path="quarantine/events",
    partition_columns=("ingest_date",),
    description="Stream records the streaming job rejected, with a reason code and details; append-only.",
    properties=APPEND_ONLY,
)

INGEST_REJECTS = TableSpec(
    name="quarantine.ingest_rejects",
    layer=Layer.QUARANTINE,
    relative_path="quarantine/ingest",
    partition_columns=("ingest_date",),
    description="JSON Lines of events the ingest Lambda rejected or could not write (one file per request).",
    format="json",
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec for spec in (BRONZE_EVENTS, SILVER_EVENTS, QUARANTINE_EVENTS, INGEST_REJECTS)
}

STREAM_EVENTS_QUERY = "stream_events"
"""Streaming query name of ``include/spark/stream_events.py``; also its checkpoint directory name."""

CHECKPOINTS_DIR = "_checkpoints"


def table(name: str) -> TableSpec:
    """The spec named ``name`` (``"silver.events"``); ``KeyError`` listing the known names otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown lake table {name!r}; known: {', '.join(sorted(TABLES))}") from None


def checkpoint_path(query_name: str = STREAM_EVENTS_QUERY, lake_root: str | None = None) -> str:
    """Checkpoint location of a streaming query: ``<lake root>/_checkpoints/<query name>``."""
    root = lake_root if lake_root is not None else get_config().lake.root
    return f"{root.rstrip('/')}/{CHECKPOINTS_DIR}/{query_name}"


def streaming_state_dir(config: PlatformConfig | None = None) -> Path:
    """Local-only files of the streaming job: ``<state dir>/streaming/``."""
    return (config or get_config()).state_dir / "streaming"


def streaming_metrics_path(config: PlatformConfig | None = None) -> Path:
    """The health file the streaming job rewrites on every progress (format in ``docs/lake.md``)."""
    return streaming_state_dir(config) / "metrics.json"


def source_metrics_path(config: PlatformConfig | None = None) -> Path:
    """Where the local ``kinesis_local`` source writes its lag facts (its ``metricsPath`` option)."""
    return streaming_state_dir(config) / "kinesis_source_metrics.json"
