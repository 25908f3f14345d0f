"""The lake layout: table specs and paths, and silver's columns derived from the event contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import edp.lake as lake_layout
from edp.config import get_config
from edp.contract import field_catalog, meta_field_catalog, pii_fields
from edp.lake import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    checkpoint_path,
    event_columns,
    silver_columns,
    streaming_metrics_path,
    table,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key == "PLATFORM_ENV" or key.startswith("PLATFORM__"):
            monkeypatch.delenv(key)


def test_table_paths_resolve_under_the_local_lake_and_under_s3_on_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert SILVER_EVENTS.path() == f"{get_config().lake.root}/silver/events"
    assert BRONZE_EVENTS.path("/tmp/lake/") == "/tmp/lake/bronze/events"

    monkeypatch.setenv("PLATFORM_ENV", "aws")
    assert SILVER_EVENTS.path() == "s3://edp-lake/lake/silver/events"
    assert QUARANTINE_EVENTS.path() == "s3://edp-lake/lake/quarantine/events"
    assert checkpoint_path() == "s3://edp-lake/lake/_checkpoints/stream_events"


def test_tables_are_partitioned_by_event_date_in_silver_and_by_ingest_date_elsewhere() -> None:
    assert SILVER_EVENTS.partition_columns == ("event_date",)
    assert BRONZE_EVENTS.partition_columns == ("ingest_date",)
    assert QUARANTINE_EVENTS.partition_columns == ("ingest_date",)
    assert ("delta.appendOnly", "true") in BRONZE_EVENTS.properties
    assert ("delta.appendOnly", "true") in QUARANTINE_EVENTS.properties
    assert SILVER_EVENTS.properties == ()


def test_every_partition_column_is_a_non_null_column_of_its_table() -> None:
    columns = {
        BRONZE_EVENTS: lake_layout.bronze_columns(),
        SILVER_EVENTS: silver_columns(),
        QUARANTINE_EVENTS: lake_layout.quarantine_columns(),
    }
    for spec, table_columns in columns.items():
        by_name = {c.name: c for c in table_columns}
        assert all(not by_name[p].nullable for p in spec.partition_columns), spec.name


def test_silver_has_a_column_for_every_contract_leaf_except_fields_marked_drop() -> None:
    leaves = {
        spec.path.replace(".", "_")
        for spec in [*field_catalog(), *meta_field_catalog()]
        if spec.json_type != "object" and "[]" not in spec.path and spec.pii != "drop"
    }
    names = [c.name for c in event_columns()]

    assert set(names) == leaves
    assert len(names) == len(set(names))
    assert {"device_ip", "properties_email"}.isdisjoint(c.name for c in silver_columns())
    assert {"device_ip", "properties_email"} <= {c.name for c in event_columns(include_dropped=True)}


def test_pii_columns_keep_their_marking_and_say_how_they_were_treated() -> None:
    by_path = {c.source_path: c for c in silver_columns() if c.source_path}
    for path, action in pii_fields().items():
        if action == "drop":
            assert path not in by_path
            continue
        column = by_path[path]
        assert (column.pii, column.sql_type) == (action, "string")
        assert column.description
    assert "Salted SHA-256" in by_path["user_id"].description
    assert "query string" in by_path["properties.url"].description
    assert "e-mail" in by_path["properties.message"].description


def test_silver_types_follow_the_contract_json_types_and_formats() -> None:
    by_name = {c.name: c for c in silver_columns()}

    assert (by_name["occurred_at"].sql_type, by_name["occurred_at"].nullable) == ("timestamp", False)
    assert by_name["meta_received_at"].sql_type == "timestamp"
    assert by_name["device_screen_width"].sql_type == "bigint"
    assert by_name["properties_revenue"].sql_type == "double"
    assert by_name["properties_fatal"].sql_type == "boolean"
    assert by_name["user_id"].nullable and not by_name["anonymous_id"].nullable
    items = by_name["properties_items"]
    assert items.sql_type == "array"
    assert [(f.name, f.sql_type) for f in items.fields] == [
        ("product_id", "string"),
        ("quantity", "bigint"),
        ("price", "double"),
    ]
    assert [c.name for c in silver_columns()[-4:]] == [
        "ingested_at",
        "kinesis_shard_id",
        "kinesis_sequence_number",
        "event_date",
    ]


def test_streaming_files_live_under_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path))

    assert streaming_metrics_path() == tmp_path / "streaming" / "metrics.json"
    assert lake_layout.source_metrics_path() == tmp_path / "streaming" / "kinesis_source_metrics.json"


def test_unknown_table_names_are_a_clear_error() -> None:
    assert table("silver.events") is SILVER_EVENTS
    with pytest.raises(KeyError, match=r"unknown lake table 'silver\.evnts'; known: .*silver\.events"):
        table("silver.evnts")


def test_importing_the_layout_does_not_import_pyspark() -> None:
    code = "import sys, edp.lake; edp.lake.silver_columns(); print('pyspark' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "include")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "False"
