"""The GX file context and the silver/bronze gates, without Spark (tables written with delta-rs).

Integration because GX takes seconds to import; no services are started.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import deltalake
import pyarrow as pa
import pytest

from edp.alerting.failures import QualityGateFailed
from edp.config import PlatformConfig, get_config
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.intervals import parse_interval
from edp.quality.build_context import build_into, differences, managed_paths
from edp.quality.context import gx_dir
from edp.quality.gate import run_gate
from edp.quality.records import latest_records
from edp.serving.arrow_schemas import silver_arrow_schema
from edp.serving.plan import build_plan
from tests.integration.serving_lake import bronze_table, silver_dataset

pytestmark = pytest.mark.integration

INTERVAL = parse_interval("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformConfig:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path / "lake"))
    return get_config()


def write_silver(config: PlatformConfig, rows: list[dict]) -> None:
    schema = pa.schema([f.with_nullable(True) for f in silver_arrow_schema()])  # let bad rows be written
    deltalake.write_deltalake(
        SILVER_EVENTS.path(config.lake.root),
        pa.Table.from_pylist(rows, schema=schema),
        partition_by=["event_date"],
    )


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in managed_paths(root)
    }


def test_the_committed_context_is_exactly_what_the_builder_produces(config, tmp_path: Path) -> None:
    first = build_into(tmp_path / "one" / "great_expectations", config)
    second = build_into(tmp_path / "two" / "great_expectations", config)
    assert digest(first) == digest(second), "building twice must give identical files"
    assert differences(first, gx_dir(config)) == [], (
        "run `python -m edp.quality.build_context` and commit the result"
    )


def test_a_silver_batch_breaking_the_contract_fails_its_gate_and_the_alert_names_the_violations(
    config,
) -> None:
    rows = silver_dataset()
    rows[1]["event_id"] = rows[0]["event_id"]  # a duplicate
    rows[2]["event_type"] = "teleport"  # not in the contract
    rows[3]["user_id"] = "raw-user-42"  # PII that escaped hashing
    rows[4]["session_id"] = None  # a required field missing
    write_silver(config, rows)
    committed = digest(gx_dir(config))
    plan = build_plan(config, INTERVAL, "manual__bad_silver")

    with pytest.raises(QualityGateFailed) as failure:
        run_gate("silver", plan, config)

    failed = failure.value.alert_details["failed_expectations"]
    for expected in (
        "expect_column_values_to_be_unique(event_id)",
        "expect_column_values_to_be_in_set(event_type)",
        "expect_column_values_to_match_regex(user_id)",
        "expect_column_values_to_not_be_null(session_id)",
    ):
        assert expected in failed, failed
    assert "silver.events" in str(failure.value)
    record = latest_records(config)["silver"]
    assert record["success"] is False and Path(record["record"]).is_file()
    assert any(f["samples"] for f in record["suites"][0]["failed"]), "failures carry identifying samples"
    assert digest(gx_dir(config)) == committed, "a gate run must not modify the committed context"


def test_an_interval_without_bronze_records_fails_the_volume_expectation(config) -> None:
    rows = silver_dataset()
    deltalake.write_deltalake(
        BRONZE_EVENTS.path(config.lake.root),
        bronze_table(rows, config.stream.name),
        partition_by=["ingest_date"],
    )
    empty_hour = parse_interval("2025-06-03T00:00:00Z", "2025-06-03T01:00:00Z")
    with pytest.raises(QualityGateFailed) as failure:
        run_gate("bronze", build_plan(config, empty_hour, "manual__quiet"), config)
    assert failure.value.alert_details["failed_expectations"] == ["expect_table_row_count_to_be_between()"]
    # the same records pass for the interval they arrived in
    assert run_gate("bronze", build_plan(config, INTERVAL, "manual__busy"), config)["success"] is True
