"""Reconcile gold with silver: totals per date recomputed from silver in DuckDB, compared in GX.

For each date the plan publishes (``affected``), and per currency for money:

| metric | gold | silver |
| --- | --- | --- |
| ``events`` | ``sum(app_errors_daily.events)`` | rows |
| ``app_errors`` | ``sum(app_errors_daily.errors)`` | ``app_error`` rows |
| ``dau`` | ``daily_active_users.dau`` where ``platform = 'all'`` | distinct ``coalesce(user_id, anonymous_id)`` |
| ``units`` | ``sum(revenue_daily.units)`` | item quantities of each order's first copy |
| ``revenue_cents`` | ``sum(revenue_daily.revenue) * 100`` | item ``quantity * price`` (as decimal(18,2)), same orders |

Silver keeps growing while gold is rebuilt (the stream writes every few seconds), so the comparison is
a bracket, not an equality: gold must count at least the silver rows ingested before the interval's end
minus :data:`SETTLE_GRACE` (those were committed before the gold build read silver), and at most what
silver holds now (``silver_min <= gold_value <= silver_max``). With no writes in between, both bounds
are the same number and the check is exact. Every metric is monotone in the rows, so a gold table that
lost rows, double counted, or was corrupted falls outside the bracket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from edp.lake.gold import GOLD_APP_ERRORS_DAILY, GOLD_DAILY_ACTIVE_USERS, GOLD_REVENUE_DAILY
from edp.lake.reader import dates_filter, open_table, read
from edp.serving.arrow_schemas import silver_arrow_schema
from edp.serving.export import gold_rows
from edp.serving.plan import LoadPlan

if TYPE_CHECKING:
    import pandas as pd

# A micro-batch commits within seconds of its ingested_at; a gold build starts after its interval ends.
SETTLE_GRACE = timedelta(minutes=10)
SILVER_COLUMNS = (
    "event_id",
    "event_type",
    "occurred_at",
    "user_id",
    "anonymous_id",
    "event_date",
    "properties_order_id",
    "properties_currency",
    "properties_items",
    "ingested_at",
)

SILVER_TOTALS = """
WITH s AS (SELECT * FROM silver WHERE ingested_at < $cutoff),
orders AS (
    SELECT * FROM s WHERE event_type = 'purchase'
    QUALIFY row_number() OVER (PARTITION BY event_date, properties_order_id ORDER BY occurred_at, event_id) = 1
),
items AS (
    SELECT event_date, properties_currency AS currency, UNNEST(properties_items) AS item FROM orders
)
SELECT 'events' AS metric, event_date, '' AS dimension, COUNT(*) AS value FROM s GROUP BY event_date
UNION ALL
SELECT 'app_errors', event_date, '', COUNT(*) FROM s WHERE event_type = 'app_error' GROUP BY event_date
UNION ALL
SELECT 'dau', event_date, '', COUNT(DISTINCT COALESCE(user_id, anonymous_id)) FROM s GROUP BY event_date
UNION ALL
SELECT 'units', event_date, currency, SUM(item.quantity) FROM items GROUP BY event_date, currency
UNION ALL
SELECT 'revenue_cents', event_date, currency,
       CAST(SUM(item.quantity * CAST(item.price AS DECIMAL(18, 2))) * 100 AS BIGINT)
FROM items GROUP BY event_date, currency
"""

GOLD_TOTALS = """
SELECT 'events' AS metric, event_date, '' AS dimension, SUM(events) AS value FROM app_errors GROUP BY event_date
UNION ALL
SELECT 'app_errors', event_date, '', SUM(errors) FROM app_errors GROUP BY event_date
UNION ALL
SELECT 'dau', event_date, '', SUM(dau) FROM active_users WHERE platform = 'all' GROUP BY event_date
UNION ALL
SELECT 'units', event_date, currency, SUM(units) FROM revenue GROUP BY event_date, currency
UNION ALL
SELECT 'revenue_cents', event_date, currency, CAST(SUM(revenue) * 100 AS BIGINT) FROM revenue GROUP BY event_date, currency
"""

COMPARE = """
SELECT metric, event_date, dimension,
       COALESCE(g.value, 0) AS gold_value,
       COALESCE(lo.value, 0) AS silver_min,
       COALESCE(hi.value, 0) AS silver_max
FROM gold_totals AS g
FULL OUTER JOIN silver_min AS lo USING (metric, event_date, dimension)
FULL OUTER JOIN silver_max AS hi USING (metric, event_date, dimension)
WHERE event_date IN (SELECT event_date FROM affected)
ORDER BY metric, event_date, dimension
"""


def reconciliation_table(plan: LoadPlan, options: Mapping[str, str] | None = None) -> pa.Table:
    """One row per (metric, event_date, dimension): ``gold_value``, ``silver_min``, ``silver_max`` (int64)."""
    silver_table = (
        open_table(plan.silver.path, plan.silver.version, options)
        if plan.silver.version is not None
        else None
    )
    silver = read(
        silver_table,
        silver_arrow_schema(),
        filter=dates_filter("event_date", plan.affected) if plan.affected else None,
        columns=list(SILVER_COLUMNS),
    )
    inputs = {
        "silver": silver,
        "app_errors": gold_rows(plan, GOLD_APP_ERRORS_DAILY.name, options),
        "active_users": gold_rows(plan, GOLD_DAILY_ACTIVE_USERS.name, options),
        "revenue": gold_rows(plan, GOLD_REVENUE_DAILY.name, options),
        "affected": pa.table({"event_date": pa.array(plan.affected, pa.date32())}),
    }
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for name, table in inputs.items():
            connection.register(name, table)
        lower = plan.interval.end - SETTLE_GRACE
        connection.execute(f"CREATE TEMP TABLE silver_min AS {SILVER_TOTALS}", {"cutoff": lower})
        # the newest possible instant: every row counts toward the upper bound
        connection.execute(
            f"CREATE TEMP TABLE silver_max AS {SILVER_TOTALS}",
            {"cutoff": plan.interval.end + timedelta(days=36500)},
        )
        connection.execute(f"CREATE TEMP TABLE gold_totals AS {GOLD_TOTALS}")
        result = connection.sql(COMPARE).to_arrow_table()
    finally:
        connection.close()
    return result.cast(
        pa.schema(
            [
                pa.field("metric", pa.string()),
                pa.field("event_date", pa.date32()),
                pa.field("dimension", pa.string()),
                pa.field("gold_value", pa.int64()),
                pa.field("silver_min", pa.int64()),
                pa.field("silver_max", pa.int64()),
            ]
        )
    )


def reconciliation_frame(plan: LoadPlan, options: Mapping[str, str] | None = None) -> pd.DataFrame:
    return reconciliation_table(plan, options).to_pandas()
