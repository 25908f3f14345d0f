"""Names and locations of the serving layer: warehouse tables, exports, SQL files, Assets. Stdlib only.

What serves each row below is the environment's resource (:mod:`edp.resources`); this module names things.

DAG files import this module at parse time, so it must stay cheap: no sqlglot, duckdb or providers.

| what | ``aws`` | ``local`` |
| --- | --- | --- |
| warehouse | Redshift Serverless ``redshift.workgroup`` / ``redshift.database``, schema ``redshift.schema`` | DuckDB file ``<state dir>/warehouse/warehouse.duckdb``, same schema names |
| gold export (COPY source) | ``s3://<artifacts bucket>/warehouse/exports/<load id>/`` | ``<state dir>/warehouse/exports/<load id>/`` |
| ad hoc SQL over the lake | Athena workgroup ``athena.workgroup``, Glue database ``athena.database`` | DuckDB over delta-rs, catalog ``<state dir>/warehouse/lake_catalog.json`` |
| BI | QuickSight datasets ``quicksight.dataset_ids`` (SPICE) | static dashboard ``<state dir>/dashboard/``, served by the Airflow plugin |
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from edp.config import PlatformConfig
from edp.lake.gold import GOLD_TABLES
from edp.lake.tables import TableSpec

if TYPE_CHECKING:
    from airflow.sdk import Asset

SQL_DIR = Path("include") / "sql"
REDSHIFT_SQL = "redshift"
ATHENA_SQL = "athena"
DASHBOARD_SQL = "dashboard"
LOAD_DATES = "load_dates"
"""Staging table (and export folder) listing the ``event_date`` partitions each fact table replaces."""
EXPORT_PREFIX = "warehouse/exports"
DASHBOARD_URL_PREFIX = "/edp-dashboard"
ASSET_GROUP = "serving"
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")


def short_name(spec: TableSpec) -> str:
    """``gold.revenue_daily`` -> ``revenue_daily``: the export folder and the staging table's name."""
    return spec.name.split(".", 1)[1]


def fact_table(spec: TableSpec) -> str:
    """The warehouse fact table a gold table loads into: ``fact_<short name>``."""
    return f"fact_{short_name(spec)}"


FACT_TABLES: dict[str, str] = {name: fact_table(spec) for name, spec in GOLD_TABLES.items()}


def sql_dir(config: PlatformConfig) -> Path:
    """Root of the SQL files; DAGs put it on ``template_searchpath``."""
    return config.project_root / SQL_DIR


def staging_schema(config: PlatformConfig) -> str:
    return f"{config.redshift.schema}_staging"


def warehouse_state_dir(config: PlatformConfig) -> Path:
    return config.state_dir / "warehouse"


def local_warehouse_path(config: PlatformConfig) -> Path:
    """The local warehouse: one DuckDB file, Redshift's stand-in."""
    return warehouse_state_dir(config) / "warehouse.duckdb"


def lake_catalog_path(config: PlatformConfig) -> Path:
    """The local Glue catalog: the Athena DDL the ``lake_catalog`` DAG applied, as JSON."""
    return warehouse_state_dir(config) / "lake_catalog.json"


def export_root(config: PlatformConfig) -> str:
    """Where gold exports go: one folder per load below this root, in the artifacts storage."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping loads its factories lazily

    return resources(config).artifacts.uri(EXPORT_PREFIX)


def dashboard_dir(config: PlatformConfig) -> Path:
    """The local dashboard site (HTML, data JSON, vendored JS) the BI step writes."""
    return config.state_dir / "dashboard"


def dashboard_url(config: PlatformConfig) -> str:
    """Where the Airflow API server serves the local dashboard (the ``edp_dashboard`` plugin)."""
    return f"http://127.0.0.1:{config.ports.airflow}{DASHBOARD_URL_PREFIX}/"


def safe_id(text: str, limit: int = 128) -> str:
    """``[A-Za-z0-9_-]`` only, at most ``limit`` characters: run ids as S3 keys and QuickSight ids."""
    cleaned = _SAFE_ID.sub("-", text).strip("-") or "run"
    return cleaned[:limit]


def redshift_host(config: PlatformConfig) -> str:
    """Endpoint host of the Redshift Serverless workgroup (used for lineage URIs only)."""
    return (
        f"{config.redshift.workgroup}.{config.aws_account_id}.{config.stream.region}"
        ".redshift-serverless.amazonaws.com"
    )


def warehouse_table_uri(config: PlatformConfig, table: str) -> str:
    """``redshift://host:5439/db/schema/table`` on AWS; ``duckdb:///<file>/<schema>/<table>`` locally."""
    from edp.resources import resources  # noqa: PLC0415

    return resources(config).warehouse.table_uri(table)


def warehouse_assets(config: PlatformConfig) -> list[Asset]:
    """One Asset per warehouse fact table, named ``warehouse.<fact table>``."""
    from airflow.sdk import Asset  # noqa: PLC0415 - keep this module importable without Airflow

    return [
        Asset(
            name=f"warehouse.{table}",
            uri=warehouse_table_uri(config, table),
            group=ASSET_GROUP,
            extra={"layer": "warehouse", "source": gold},
        )
        for gold, table in FACT_TABLES.items()
    ]


def dashboard_asset(config: PlatformConfig) -> Asset:
    """The BI layer: the QuickSight SPICE datasets on AWS, the local dashboard page locally."""
    from airflow.sdk import Asset  # noqa: PLC0415

    from edp.resources import resources  # noqa: PLC0415

    uri = resources(config).bi.asset_uri()
    return Asset(name="dashboard.kpis", uri=uri, group=ASSET_GROUP, extra={"layer": "bi"})


TEMPLATE_FILTERS = {"safe_id": safe_id}
"""Jinja filters the serving DAGs add (``user_defined_filters``): ``{{ run_id | safe_id }}``."""
