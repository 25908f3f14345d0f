"""The serving layer end to end on real engines: gates, export, warehouse load, local Athena, dashboard.

Silver and gold are built by the real Spark jobs; the gates run the committed GX checkpoints; the
warehouse steps run the committed Redshift SQL files, rendered like Airflow renders them and transpiled
to DuckDB; the dashboard is rendered by headless Chromium.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from edp.alerting.alerts import QUALITY_GATE_FAILED, build_failure_alert
from edp.alerting.failures import QualityGateFailed
from edp.config import PlatformConfig, get_config
from edp.lake.gold import GOLD_DAILY_ACTIVE_USERS, GOLD_FUNNEL_DAILY, GOLD_REVENUE_DAILY
from edp.quality.gate import run_gate
from edp.quality.records import latest_records
from edp.serving.export import export_gold
from edp.serving.plan import LoadPlan, build_plan
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.integration.serving_lake import INTERVAL, build_lake, fact_snapshot, run_load_sql, scalar

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO_ROOT = Path(__file__).resolve().parents[2]


def configure(mp: pytest.MonkeyPatch, root: Path) -> PlatformConfig:
    mp.setenv("PLATFORM_ENV", "local")
    mp.setenv("PLATFORM__LOCAL_STATE_DIR", str(root / "state"))
    mp.setenv("PLATFORM__LAKE__ROOT", str(root / "lake"))
    return get_config()


@pytest.fixture(scope="module")
def platform(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A built lake, its load plan, and the outcome of running the three gates, export and load once."""
    root = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as mp:
        config = configure(mp, root)
        rows = build_lake(spark, config)
        plan = build_plan(config, INTERVAL, "manual__2025-06-02T00:00:00+00:00")
        records = {layer: run_gate(layer, plan, config) for layer in ("bronze", "silver", "gold")}
        export = export_gold(plan)
        run_load_sql(config, plan.to_dict())
        yield {
            "root": root,
            "config": config,
            "rows": rows,
            "plan": plan,
            "records": records,
            "export": export,
        }


def test_a_clean_interval_passes_the_bronze_silver_and_gold_gates(platform) -> None:
    records = platform["records"]
    assert {layer: r["success"] for layer, r in records.items()} == {
        "bronze": True,
        "silver": True,
        "gold": True,
    }
    gold_suites = {s["suite"]: s for s in records["gold"]["suites"]}
    assert gold_suites["gold.reconciliation"]["rows"] > 0, "reconciliation compared nothing"
    assert records["silver"]["suites"][0]["rows"] == len(platform["rows"])
    latest = latest_records(platform["config"])
    assert set(latest) == {"bronze", "silver", "gold"} and all(r["success"] for r in latest.values())
    assert Path(latest["gold"]["record"]).is_file()
    assert (platform["config"].state_dir / "quality" / "data_docs" / "index.html").is_file()


def test_the_plan_covers_the_interval_and_the_late_event_date(platform) -> None:
    plan: LoadPlan = platform["plan"]
    assert [d.isoformat() for d in plan.affected] == ["2025-05-31", "2025-06-01"]
    assert all(s.version is not None for s in plan.gold.values())


def test_the_warehouse_holds_exactly_the_gold_partitions_of_the_plan(platform, spark: SparkSession) -> None:
    config = platform["config"]
    for spec in (GOLD_REVENUE_DAILY, GOLD_FUNNEL_DAILY, GOLD_DAILY_ACTIVE_USERS):
        gold = spark.read.format("delta").load(spec.path(config.lake.root))
        fact = f"{config.redshift.schema}.fact_{spec.name.split('.')[1]}"
        assert scalar(config, f"SELECT COUNT(*) FROM {fact}") == gold.count() > 0
    gold_revenue = (
        spark.read.format("delta")
        .load(GOLD_REVENUE_DAILY.path(config.lake.root))
        .agg(F.sum("revenue"))
        .first()[0]
    )
    assert (
        scalar(config, f"SELECT SUM(revenue) FROM {config.redshift.schema}.fact_revenue_daily")
        == gold_revenue
    )
    assert scalar(config, f"SELECT COUNT(*) FROM {config.redshift.schema}.dim_product") >= 2
    kpis = scalar(config, f"SELECT COUNT(*) FROM {config.redshift.schema}.v_kpi_daily")
    assert kpis == 2  # 2025-05-31 (the late event) and 2025-06-01


def test_loading_the_same_interval_twice_leaves_identical_rows(platform) -> None:
    config, plan = platform["config"], platform["plan"]
    before = fact_snapshot(config)
    export_gold(plan)
    run_load_sql(config, plan.to_dict())
    assert fact_snapshot(config) == before
    audit_rows = scalar(
        config, f"SELECT COUNT(*) FROM {config.redshift.schema}.load_audit WHERE load_id = '{plan.load_id}'"
    )
    assert audit_rows == 6


def corrupt_gold(spark: SparkSession, lake_root: str) -> None:
    """Negative revenue and an inflated DAU on 2025-06-01: what a broken gold build could write."""
    revenue = (
        spark.read.format("delta")
        .load(GOLD_REVENUE_DAILY.path(lake_root))
        .where("event_date = DATE'2025-06-01'")
    )
    bad = revenue.withColumn("revenue", (F.col("revenue") * -1).cast("decimal(18,2)")).localCheckpoint()
    bad.write.format("delta").mode("overwrite").option("replaceWhere", "event_date = DATE'2025-06-01'").save(
        GOLD_REVENUE_DAILY.path(lake_root)
    )
    users = (
        spark.read.format("delta")
        .load(GOLD_DAILY_ACTIVE_USERS.path(lake_root))
        .where("event_date = DATE'2025-06-01'")
    )
    inflated = (
        users.withColumn("dau", F.col("dau") + 100).withColumn("wau", F.col("wau") + 100).localCheckpoint()
    )
    inflated.write.format("delta").mode("overwrite").option(
        "replaceWhere", "event_date = DATE'2025-06-01'"
    ).save(GOLD_DAILY_ACTIVE_USERS.path(lake_root))


def test_a_corrupted_gold_batch_fails_the_gate_and_its_alert_names_the_failing_expectations(
    platform, spark: SparkSession, tmp_path: Path
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        config = configure(mp, tmp_path)
        shutil.copytree(platform["config"].lake.root, config.lake.root)
        corrupt_gold(spark, config.lake.root)
        plan = build_plan(config, INTERVAL, "manual__corrupted")
        with pytest.raises(QualityGateFailed) as failure:
            run_gate("gold", plan, config)

        failed = failure.value.alert_details["failed_expectations"]
        assert any("expect_column_values_to_be_between(revenue)" in f for f in failed), failed
        assert any("gold.reconciliation" in f and "silver_max, gold_value" in f for f in failed), failed
        context = {
            "ti": type(
                "TI",
                (),
                {
                    "dag_id": "warehouse_load",
                    "task_id": "gate_gold",
                    "run_id": "r",
                    "try_number": 1,
                    "map_index": -1,
                },
            )(),
            "run_id": "r",
            "exception": failure.value,
        }
        alert = build_failure_alert(context, environment="local")
        assert alert["alert_kind"] == QUALITY_GATE_FAILED
        assert "expect_column_values_to_be_between(revenue)" in alert["error"]
        assert alert["details"]["failed_expectations"] == failed
        assert latest_records(config)["gold"]["success"] is False


# ---- the DAG itself: the gate blocks the load --------------------------------------------------


def test_the_warehouse_load_dag_publishes_a_clean_interval_and_blocks_a_corrupted_one(
    platform, spark: SparkSession, tmp_path: Path
) -> None:
    from tests.integration.dag_runner import run_warehouse_load_twice

    lake = tmp_path / "lake"
    shutil.copytree(platform["config"].lake.root, lake)
    result = run_warehouse_load_twice(
        tmp_path, lake, corrupt=lambda: corrupt_gold(spark, str(lake)), interval=INTERVAL
    )
    clean, bad = result["clean"], result["corrupted"]
    assert clean["state"] == "success", result["log_tail"]
    assert set(clean["tis"].values()) == {"success"}
    assert bad["state"] == "failed"
    assert bad["tis"]["gate_gold"] == "failed"
    for blocked in ("export_gold", "create_warehouse", "stage_gold", "merge_gold", "refresh_bi"):
        assert bad["tis"][blocked] == "upstream_failed", bad["tis"]
    # nothing from the corrupted batch reached the warehouse or the dashboard
    assert all(result["warehouse_after_clean"].values()), "the clean run loaded no rows"
    assert result["dashboard_mtime_after_clean"] is not None
    assert result["warehouse_after_clean"] == result["warehouse_after_corrupted"]
    assert result["min_revenue_after_corrupted"] >= 0
    assert result["dashboard_mtime_after_clean"] == result["dashboard_mtime_after_corrupted"]


# ---- local Athena ---------------------------------------------------------------------------------


def test_the_athena_ddl_registers_the_lake_for_ad_hoc_sql_locally(platform) -> None:
    from edp.lake import SILVER_EVENTS
    from edp.lake.gold import GOLD_TABLES
    from edp.serving.lake_catalog import LakeQueryEngine, LocalLakeCatalog
    from edp.serving.templating import render_sql_file

    config = platform["config"]
    catalog = LocalLakeCatalog(config.state_dir / "warehouse" / "lake_catalog.json")
    database = config.athena.database
    catalog.apply_ddl(render_sql_file("athena/create_database.sql", config, params={"database": database}))
    for spec in (SILVER_EVENTS, GOLD_TABLES["gold.revenue_daily"]):
        params = {
            "database": database,
            "table": spec.name.replace(".", "_"),
            "location": spec.path(config.lake.root),
        }
        catalog.apply_ddl(render_sql_file("athena/create_delta_table.sql", config, params=params))
    columns, rows = LakeQueryEngine(catalog).query(
        f"SELECT event_type, count(*) AS n FROM {database}.silver_events "
        "WHERE event_date = DATE '2025-06-01' GROUP BY event_type ORDER BY event_type"
    )
    assert columns == ["event_type", "n"]
    expected: dict[str, int] = {}
    for row in platform["rows"]:
        if row["event_date"].isoformat() == "2025-06-01":
            expected[row["event_type"]] = expected.get(row["event_type"], 0) + 1
    assert dict(rows) == expected


# ---- dashboard in headless Chromium ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dashboard_server(platform) -> Iterator[str]:
    """The plugin's FastAPI app over the built dashboard, on a free loopback port."""
    import uvicorn

    from edp.serving.dashboard.data import build_dashboard_data
    from edp.serving.dashboard.site import write_site
    from edp.serving.names import dashboard_dir
    from edp_dashboard import create_app

    config = platform["config"]
    write_site(dashboard_dir(config), build_dashboard_data(config))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(dashboard_dir(config)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "dashboard server did not start"
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_dashboard_renders_non_empty_charts_in_headless_chromium(dashboard_server: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(dashboard_server, wait_until="load")
            page.wait_for_function("window.__dashboard && window.__dashboard.ready", timeout=20_000)
            charts = page.evaluate(
                """() => Object.fromEntries(Object.entries(window.__dashboard.charts).map(([name, chart]) => {
                    const points = chart.data.datasets.reduce((n, d) => n + d.data.filter(v => v !== null && v !== 0).length, 0);
                    const canvas = chart.canvas, ctx = canvas.getContext('2d');
                    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                    let painted = 0;
                    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
                    return [name, {points, painted}];
                }))"""
            )
            tiles = page.locator("#tiles .tile").count()
            quality_rows = page.locator("#quality tbody tr").count()
            page.screenshot(path=str(SCREENSHOTS / "dashboard-local-build.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert set(charts) == {"users", "sessions", "funnel", "revenue", "categories", "errors"}
    for name, chart in charts.items():
        assert chart["points"] > 0, f"chart {name} has no data"
        assert chart["painted"] > 500, f"chart {name} painted almost nothing"
    assert tiles >= 6
    assert quality_rows == 3
    assert (SCREENSHOTS / "dashboard-local-build.png").stat().st_size > 10_000
