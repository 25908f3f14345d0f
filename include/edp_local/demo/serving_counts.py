"""Figures of the serving layers: gold recomputed from silver, gold tables, warehouse fact tables.

The silver-side queries restate the gold definitions of :mod:`edp.batch.gold` in SQL, per ``event_date``:
all events (``app_errors_daily.events``), ``app_error`` events, sessions dated by their first event and
the events in them (``sessions``, ``sessions_daily``), distinct user keys (``daily_active_users``,
platform ``all``), and revenue: each order's first copy per day, ``quantity * price`` as
``decimal(18,2)`` summed exactly (``revenue_daily``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb

from edp.config import PlatformConfig
from edp.lake import SILVER_EVENTS
from edp.lake.gold import (
    GOLD_APP_ERRORS_DAILY,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_FUNNEL_DAILY,
    GOLD_REVENUE_DAILY,
    GOLD_SESSIONS,
    GOLD_SESSIONS_DAILY,
    GOLD_TABLES,
)
from edp.serving.local_warehouse import LocalWarehouse
from edp.serving.names import FACT_TABLES, local_warehouse_path
from edp_local.demo.lake_counts import lake_sql
from edp_local.demo.reconcile import Number, TableFigures

# The additive column summed to compare a gold table with its warehouse copy.
MEASURES: dict[str, str] = {
    GOLD_DAILY_ACTIVE_USERS.name: "dau",
    GOLD_SESSIONS.name: "event_count",
    GOLD_SESSIONS_DAILY.name: "sessions",
    GOLD_FUNNEL_DAILY.name: "viewers",
    GOLD_REVENUE_DAILY.name: "revenue",
    GOLD_APP_ERRORS_DAILY.name: "events",
}

SILVER = "silver_events"
SESSIONS_SQL = f"""
    SELECT CAST(min(occurred_at) AS DATE) AS day, count(*) AS events
    FROM {SILVER} GROUP BY anonymous_id, session_id
"""
REVENUE_SQL = f"""
    WITH purchases AS (
        SELECT event_date, properties_items AS items,
               row_number() OVER (PARTITION BY event_date, properties_order_id ORDER BY occurred_at, event_id) AS copy
        FROM {SILVER} WHERE event_type = 'purchase'
    ), items AS (SELECT event_date, unnest(items) AS item FROM purchases WHERE copy = 1)
    SELECT event_date, sum(item.quantity * CAST(item.price AS DECIMAL(18, 2))) FROM items GROUP BY 1
"""
# name: (silver per day, gold per day); gold tables are views named like gold_sessions.
RECONCILIATION: dict[str, tuple[str, str]] = {
    "events per day (app_errors_daily.events)": (
        f"SELECT event_date, count(*) FROM {SILVER} GROUP BY 1",
        "SELECT event_date, sum(events) FROM gold_app_errors_daily GROUP BY 1",
    ),
    "app_error events per day (app_errors_daily.errors)": (
        f"SELECT event_date, count(*) FROM {SILVER} WHERE event_type = 'app_error' GROUP BY 1",
        "SELECT event_date, sum(errors) FROM gold_app_errors_daily GROUP BY 1",
    ),
    "sessions per day (sessions rows)": (
        f"SELECT day, count(*) FROM ({SESSIONS_SQL}) GROUP BY 1",
        "SELECT event_date, count(*) FROM gold_sessions GROUP BY 1",
    ),
    "events in sessions per day (sessions.event_count)": (
        f"SELECT day, sum(events) FROM ({SESSIONS_SQL}) GROUP BY 1",
        "SELECT event_date, sum(event_count) FROM gold_sessions GROUP BY 1",
    ),
    "sessions per day (sessions_daily.sessions)": (
        f"SELECT day, count(*) FROM ({SESSIONS_SQL}) GROUP BY 1",
        "SELECT event_date, sum(sessions) FROM gold_sessions_daily GROUP BY 1",
    ),
    "active users per day (daily_active_users.dau, all platforms)": (
        f"SELECT event_date, count(DISTINCT coalesce(user_id, anonymous_id)) FROM {SILVER} GROUP BY 1",
        "SELECT event_date, sum(dau) FROM gold_daily_active_users WHERE platform = 'all' GROUP BY 1",
    ),
    "purchase revenue per day (revenue_daily.revenue)": (
        REVENUE_SQL,
        "SELECT event_date, sum(revenue) FROM gold_revenue_daily GROUP BY 1",
    ),
}


def _per_day(connection: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Number]:
    try:
        rows = connection.execute(sql).fetchall()
    except duckdb.CatalogException:  # the table was never written
        return {}
    return {str(day): _number(value) for day, value in rows if value is not None}


def _number(value: Any) -> Number:
    return value if isinstance(value, Decimal) else int(value)


def gold_vs_silver(config: PlatformConfig) -> dict[str, tuple[dict[str, Number], dict[str, Number]]]:
    """``{check name: (silver per day, gold per day)}`` over the whole lake (the demo's lake is its own)."""
    with lake_sql(config, SILVER_EVENTS, *GOLD_TABLES.values()) as sql:
        return {
            name: (_per_day(sql, silver), _per_day(sql, gold))
            for name, (silver, gold) in RECONCILIATION.items()
        }


def gold_figures(config: PlatformConfig) -> dict[str, TableFigures]:
    """Rows and measure total of each gold table (0 rows when missing)."""
    figures = {}
    with lake_sql(config, *GOLD_TABLES.values()) as sql:
        for name, measure in MEASURES.items():
            view = name.replace(".", "_")
            try:
                rows, total = sql.execute(f"SELECT count(*), sum({measure}) FROM {view}").fetchone() or (
                    0,
                    None,
                )
            except duckdb.CatalogException:
                rows, total = 0, None
            figures[name] = TableFigures(int(rows), measure, _number(total or 0))
    return figures


def warehouse_figures(config: PlatformConfig) -> dict[str, TableFigures | None]:
    """Rows and measure total of each warehouse fact table, keyed by its gold table; ``None`` if absent."""
    path = local_warehouse_path(config)
    if not path.exists():
        return dict.fromkeys(MEASURES)
    figures: dict[str, TableFigures | None] = {}
    schema = config.redshift.schema
    with LocalWarehouse(path).connect(read_only=True) as connection:
        for name, measure in MEASURES.items():
            try:
                rows, total = connection.execute(
                    f"SELECT count(*), sum({measure}) FROM {schema}.{FACT_TABLES[name]}"
                ).fetchone() or (0, None)
            except duckdb.CatalogException:
                figures[name] = None
                continue
            figures[name] = TableFigures(int(rows), measure, _number(total or 0))
    return figures
