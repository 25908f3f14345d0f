"""Every SQL file under include/sql runs locally: rendered like Airflow does, transpiled, executed on DuckDB.

Gold tables are written with delta-rs (no Spark), exported by the real export, staged and merged by the
real SQL files; the warehouse DDL is checked against ``edp.lake.gold``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import deltalake
import duckdb
import pyarrow as pa
import pytest

from edp.config import PlatformConfig, get_config
from edp.lake.columns import Column
from edp.lake.gold import (
    ALL_PLATFORMS,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_REVENUE_DAILY,
    GOLD_TABLES,
    gold_columns,
)
from edp.lake.intervals import parse_interval
from edp.serving.arrow_schemas import gold_arrow_schema
from edp.serving.dialect_rules import redshift_violations
from edp.serving.export import export_gold
from edp.serving.lake_catalog import CatalogError, LakeQueryEngine, LocalLakeCatalog
from edp.serving.local_warehouse import LocalWarehouse
from edp.serving.names import FACT_TABLES, local_warehouse_path, short_name, sql_dir, staging_schema
from edp.serving.plan import LoadPlan, build_plan
from edp.serving.templating import PLAN_TASK_ID, redshift_params, render_sql_file

pytestmark = pytest.mark.unit

DAY = date(2025, 6, 1)
INTERVAL = parse_interval("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z")
LOAD_FILES = (
    "redshift/create_warehouse.sql",
    "redshift/bi_views.sql",
    "redshift/stage_gold.sql",
    "redshift/merge_gold.sql",
)
TYPE_FAMILIES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "decimal(18,2)": "DECIMAL(18,2)",
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformConfig:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path / "lake"))
    return get_config()


def value(column: Column, scale: int) -> Any:
    """A valid value of a gold column (keys vary with ``scale`` so rows stay unique)."""
    named = {"platform": "web", "country_code": "US", "currency": "USD", "event_date": DAY}
    if column.name in named:
        return named[column.name]
    if column.name.endswith("_rate"):
        return 0.5
    return {
        "string": lambda: f"{column.name}-{scale}",
        "bigint": lambda: 10 * scale,
        "double": lambda: 1.5 * scale,
        "boolean": lambda: True,
        "timestamp": lambda: datetime(2025, 6, 1, 10, scale, tzinfo=UTC),
        "date": lambda: DAY,
        "decimal(18,2)": lambda: Decimal("12.34") * scale,
    }[column.sql_type]()


def write_gold(config: PlatformConfig, rows_per_table: int = 2) -> None:
    for spec in GOLD_TABLES.values():
        rows = [{c.name: value(c, n + 1) for c in gold_columns(spec)} for n in range(rows_per_table)]
        if spec.name != GOLD_REVENUE_DAILY.name:  # one row per (date, platform) grain elsewhere
            rows = rows[:1]
        if spec.name == GOLD_DAILY_ACTIVE_USERS.name:
            rows[0]["platform"] = ALL_PLATFORMS  # the row the KPI view reads
        table = pa.Table.from_pylist(rows, schema=gold_arrow_schema(spec))
        deltalake.write_deltalake(
            spec.path(config.lake.root), table, partition_by=["event_date"], mode="overwrite"
        )


def load(config: PlatformConfig, plan: LoadPlan) -> None:
    export_gold(plan)
    warehouse = LocalWarehouse(local_warehouse_path(config))
    for path in LOAD_FILES:
        warehouse.run_script(
            render_sql_file(path, config, params=redshift_params(config), xcom={PLAN_TASK_ID: plan.to_dict()})
        )


def rows(config: PlatformConfig, sql: str) -> list[tuple]:
    with LocalWarehouse(local_warehouse_path(config)).connect(read_only=True) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture
def loaded(config: PlatformConfig) -> Iterator[LoadPlan]:
    write_gold(config)
    plan = build_plan(config, INTERVAL, "manual__1")
    load(config, plan)
    yield plan


def test_every_redshift_and_dashboard_sql_file_renders_and_runs_on_the_local_warehouse(
    config, loaded
) -> None:
    warehouse = LocalWarehouse(local_warehouse_path(config))
    files = sorted(p.relative_to(sql_dir(config)).as_posix() for p in sql_dir(config).glob("*/*.sql"))
    redshift = [f for f in files if f.startswith(("redshift/", "dashboard/"))]
    assert set(LOAD_FILES) <= set(redshift) and any(f.startswith("dashboard/") for f in redshift)
    for path in redshift:
        sql = render_sql_file(
            path,
            config,
            params={**redshift_params(config), "days": 30},
            xcom={PLAN_TASK_ID: loaded.to_dict()},
        )
        if path.startswith("dashboard/"):
            assert warehouse.query(sql), f"{path} returned no rows"
        else:
            assert warehouse.run_script(sql), f"{path} has no statements"


def test_fact_tables_mirror_lake_layout_gold_plus_the_load_id(config, loaded) -> None:
    schema = config.redshift.schema
    for name, fact in FACT_TABLES.items():
        described = rows(
            config,
            f"SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{fact}' ORDER BY ordinal_position",
        )
        expected = [
            (c.name, TYPE_FAMILIES[c.sql_type], "YES" if c.nullable else "NO")
            for c in gold_columns(GOLD_TABLES[name])
        ]
        assert described == [*expected, ("load_id", "VARCHAR", "NO")], fact


def test_staging_tables_take_the_export_columns_in_order(config, loaded) -> None:
    for name in FACT_TABLES:
        staged = rows(
            config,
            f"SELECT column_name FROM information_schema.columns WHERE table_schema = "
            f"'{staging_schema(config)}' AND table_name = '{short_name(GOLD_TABLES[name])}' ORDER BY ordinal_position",
        )
        assert [r[0] for r in staged] == [c.name for c in gold_columns(GOLD_TABLES[name])]


def test_the_load_publishes_the_gold_rows_and_their_dimensions(config, loaded) -> None:
    schema = config.redshift.schema
    assert rows(config, f"SELECT COUNT(*), SUM(revenue) FROM {schema}.fact_revenue_daily") == [
        (2, Decimal("37.02"))
    ]
    assert rows(config, f"SELECT COUNT(*) FROM {schema}.dim_product") == [(2,)]
    assert rows(config, f"SELECT DISTINCT load_id FROM {schema}.fact_sessions") == [(loaded.load_id,)]
    audit = rows(
        config, f"SELECT table_name, partitions, row_count FROM {schema}.load_audit ORDER BY table_name"
    )
    assert ("fact_revenue_daily", 1, 2) in audit and len(audit) == len(FACT_TABLES)


def test_loading_the_same_plan_twice_leaves_the_same_rows(config, loaded) -> None:
    query = f"SELECT * FROM {config.redshift.schema}.fact_revenue_daily ORDER BY product_id"
    before = rows(config, query)
    load(config, loaded)
    assert rows(config, query) == before


def test_a_partition_emptied_in_gold_is_emptied_in_the_warehouse(config, loaded) -> None:
    empty = gold_arrow_schema(GOLD_REVENUE_DAILY).empty_table()
    deltalake.write_deltalake(
        GOLD_REVENUE_DAILY.path(config.lake.root),
        empty,
        mode="overwrite",
        predicate="event_date = '2025-06-01'",
        partition_by=["event_date"],
    )
    load(config, build_plan(config, INTERVAL, "manual__2"))
    assert rows(config, f"SELECT COUNT(*) FROM {config.redshift.schema}.fact_revenue_daily") == [(0,)]
    assert rows(config, f"SELECT COUNT(*) FROM {config.redshift.schema}.fact_sessions") == [(1,)]


def test_every_redshift_file_as_rendered_keeps_to_redshifts_grammar_and_limits(config, loaded) -> None:
    files = sorted(p.relative_to(sql_dir(config)).as_posix() for p in sql_dir(config).glob("redshift/*.sql"))
    assert set(LOAD_FILES) <= set(files)
    for path in files:
        sql = render_sql_file(
            path, config, params=redshift_params(config), xcom={PLAN_TASK_ID: loaded.to_dict()}
        )
        assert redshift_violations(sql) == [], path


def test_a_failing_merge_changes_nothing(config, loaded) -> None:
    schema, staging = config.redshift.schema, staging_schema(config)
    before = rows(config, f"SELECT * FROM {schema}.fact_revenue_daily ORDER BY product_id")
    with duckdb.connect(str(local_warehouse_path(config))) as connection:  # a duplicate key in staging
        connection.execute(
            f"INSERT INTO {staging}.revenue_daily SELECT * FROM {staging}.revenue_daily LIMIT 1"
        )
    merge = render_sql_file(
        "redshift/merge_gold.sql",
        config,
        params=redshift_params(config),
        xcom={PLAN_TASK_ID: loaded.to_dict()},
    )
    with pytest.raises(duckdb.ConstraintException):
        LocalWarehouse(local_warehouse_path(config)).run_script(merge)
    assert rows(config, f"SELECT * FROM {schema}.fact_revenue_daily ORDER BY product_id") == before


def test_the_athena_ddl_builds_a_local_catalog_queryable_with_athena_sql(config) -> None:
    write_gold(config)
    catalog = LocalLakeCatalog(config.state_dir / "catalog.json")
    database = config.athena.database
    table_params = {
        "database": database,
        "table": "gold_revenue_daily",
        "location": GOLD_REVENUE_DAILY.path(config.lake.root),
    }
    create_table = render_sql_file("athena/create_delta_table.sql", config, params=table_params)
    with pytest.raises(CatalogError, match="does not exist"):
        catalog.apply_ddl(create_table)
    catalog.apply_ddl(render_sql_file("athena/create_database.sql", config, params={"database": database}))
    assert catalog.apply_ddl(create_table) == [
        f"registered {database}.gold_revenue_daily at {table_params['location']}"
    ]
    assert catalog.apply_ddl(create_table) == [f"table {database}.gold_revenue_daily exists"]  # IF NOT EXISTS
    columns, result = LakeQueryEngine(catalog).query(
        f"SELECT currency, sum(units) AS units FROM {database}.gold_revenue_daily WHERE event_date = DATE '2025-06-01' GROUP BY 1"
    )
    assert columns == ["currency", "units"] and result == [("USD", 30)]


def test_the_local_catalog_refuses_tables_athena_could_not_read_as_delta(config) -> None:
    catalog = LocalLakeCatalog(config.state_dir / "catalog.json")
    catalog.apply_ddl("CREATE DATABASE db")
    with pytest.raises(CatalogError, match="table_type=DELTA"):
        catalog.apply_ddl(
            "CREATE EXTERNAL TABLE db.t LOCATION '/tmp/x' TBLPROPERTIES ('table_type' = 'ICEBERG')"
        )
