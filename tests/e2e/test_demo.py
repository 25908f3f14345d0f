"""``make demo`` end to end: it passes, and its figures hold when checked here independently."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from edp.lake import SILVER_EVENTS
from edp.lake.gold import GOLD_APP_ERRORS_DAILY, GOLD_REVENUE_DAILY, GOLD_TABLES

# make demo runs in the first test's setup: allow it its own timeout and the test's on top.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
FACTS = {name: f"fact_{name.split('.', 1)[1]}" for name in GOLD_TABLES}


def output(demo) -> str:
    return f"exit {demo.returncode}\n--- stdout ---\n{demo.stdout[-6000:]}\n--- stderr ---\n{demo.stderr[-3000:]}"


def delta(demo, relative: str) -> DeltaTable:
    return DeltaTable(str(demo.lake_root / relative))


def test_make_demo_exits_zero_with_every_check_passed(demo_platform) -> None:
    assert demo_platform.returncode == 0, output(demo_platform)
    summary = demo_platform.summary
    assert summary["ok"] is True
    assert summary["failed_checks"] == []
    assert len(summary["checks"]) >= 20
    assert "Demo PASSED" in demo_platform.stdout


def test_traffic_had_every_kind_of_fault_and_every_sent_event_an_answer(demo_platform) -> None:
    traffic = demo_platform.summary["traffic"]
    assert traffic["generated"] == 3000
    assert traffic["duplicates"] > 0 and traffic["late"] > 0 and sum(traffic["invalid"].values()) > 0
    answered = traffic["accepted"] + traffic["rejected"] + traffic["duplicates_reported_by_api"]
    assert traffic["sent"] == traffic["generated"] + traffic["duplicates"] == answered


def test_silver_holds_exactly_the_expected_event_ids(demo_platform) -> None:
    ids = delta(demo_platform, SILVER_EVENTS.relative_path).to_pyarrow_table(columns=["event_id"])
    expected_file = demo_platform.state_dir / "demo" / "expected_event_ids.txt"
    expected = {line.strip().lower() for line in expected_file.read_text().splitlines() if line.strip()}
    assert ids.num_rows == len(expected) == demo_platform.summary["traffic"]["expected_valid_unique"]
    assert {i.lower() for i in ids.column("event_id").to_pylist()} == expected


def test_every_rejected_event_is_in_the_ingest_quarantine_with_its_reason(demo_platform) -> None:
    lines = [
        json.loads(line)
        for path in (demo_platform.lake_root / "quarantine" / "ingest").rglob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert len(lines) == demo_platform.summary["traffic"]["rejected"] > 0
    assert all(entry["reason"] and entry["stage"] == "validation" for entry in lines)


def test_gold_events_and_revenue_reconcile_with_silver(demo_platform) -> None:
    silver = delta(demo_platform, SILVER_EVENTS.relative_path).to_pyarrow_table(columns=["event_type"])
    errors = delta(demo_platform, GOLD_APP_ERRORS_DAILY.relative_path).to_pyarrow_table()
    assert pc.sum(errors.column("events")).as_py() == silver.num_rows
    revenue = delta(demo_platform, GOLD_REVENUE_DAILY.relative_path).to_pyarrow_table()
    assert revenue.num_rows > 0
    reported = demo_platform.summary["gold"][GOLD_REVENUE_DAILY.name]["total"]
    assert str(pc.sum(revenue.column("revenue")).as_py()) == reported


def test_warehouse_fact_tables_hold_the_gold_rows(demo_platform) -> None:
    warehouse = demo_platform.state_dir / "warehouse" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name, fact in FACTS.items():
            (rows,) = connection.execute(f"SELECT count(*) FROM gold.{fact}").fetchone()
            gold_rows = (
                delta(demo_platform, GOLD_TABLES[name].relative_path).to_pyarrow_dataset().count_rows()
            )
            assert rows == gold_rows > 0, name


def test_every_dag_ran_successfully_through_the_airflow_api(demo_platform) -> None:
    base = demo_platform.airflow_url
    login = urllib.request.Request(
        f"{base}/auth/token",
        data=json.dumps({"username": "admin", "password": "admin"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=30) as response:
        token = json.loads(response.read())["access_token"]
    for dag_id in sorted(p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")):
        request = urllib.request.Request(
            f"{base}/api/v2/dags/{dag_id}/dagRuns?limit=20", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            runs = [r for r in json.loads(response.read())["dag_runs"] if r["dag_run_id"].startswith("demo_")]
        assert runs and all(r["state"] == "success" for r in runs), (dag_id, runs)


def test_quality_gates_ran_for_every_layer_and_passed(demo_platform) -> None:
    quality = demo_platform.summary["quality"]
    layers = {suite["layer"] for suite in quality["suites"].values()}
    assert layers == {"bronze", "silver", "gold"}
    assert quality["gate_runs"] == quality["gate_runs_passed"] >= 6  # three gates, two warehouse loads
    assert all(s["failed"] == 0 and s["expectations"] > 0 for s in quality["suites"].values())


def test_stages_and_peak_memory_are_reported(demo_platform) -> None:
    summary = demo_platform.summary
    stages = {s["stage"]: s for s in summary["stages"]}
    for name in ("platform start", "send events", "stream drain", "DAG gold_build", "reconcile"):
        assert stages[name]["seconds"] > 0, name
    assert 0.5 < sum(s["share"] for s in stages.values()) <= 1.001
    memory = summary["memory"]
    assert memory["peak_mib"] > 500  # Airflow's four processes and a Spark JVM at the least
    assert memory["measure"] == "pss"
    assert 0 < memory["idle_mib"] <= memory["peak_mib"] <= memory["peak_rss_sum_mib"]
    components = {name.removesuffix(" (JVM)") for name in memory["peak_by_component_mib"]}
    assert {"airflow-scheduler", "streaming-job", "platform_demo"} <= components
