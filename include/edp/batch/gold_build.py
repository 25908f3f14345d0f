"""One gold build: plan the interval's partitions, read silver once, rebuild each gold table.

See :class:`edp.lake.intervals.GoldPlan` for which ``event_date`` partitions an interval rebuilds.
Every rebuilt partition is computed from *all* silver rows of the dates it depends on, as silver is
when the job runs (not only the interval's rows): a rebuild is complete, and rerunning an old interval
never replaces a partition with a less complete one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from edp.batch import enrichment, gold
from edp.batch import silver as s
from edp.batch.delta_io import overwrite_partitions
from edp.lake import SILVER_EVENTS, TableSpec
from edp.lake.gold import (
    GOLD_APP_ERRORS_DAILY,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_FUNNEL_DAILY,
    GOLD_REVENUE_DAILY,
    GOLD_SESSIONS,
    GOLD_SESSIONS_DAILY,
    GOLD_TABLES,
)
from edp.lake.intervals import GoldPlan, Interval, ingest_event_date_bounds

log = logging.getLogger(__name__)


def late_event_dates(silver: DataFrame, interval: Interval) -> list[date]:
    """``event_date`` values of silver rows whose ``ingested_at`` lies in the interval."""
    first, last = ingest_event_date_bounds(interval)
    rows = (
        silver.where(F.col(s.EVENT_DATE).between(first, last))
        .where((F.col(s.INGESTED_AT) >= interval.start) & (F.col(s.INGESTED_AT) < interval.end))
        .select(s.EVENT_DATE)
        .distinct()
        .collect()
    )
    return sorted(row[0] for row in rows)


def newest_event_date(silver: DataFrame) -> date | None:
    return silver.select(F.max(s.EVENT_DATE)).collect()[0][0]


Builder = Callable[[DataFrame, GoldPlan], DataFrame]


def builders(spark: SparkSession) -> dict[str, Builder]:
    """Gold table name -> its build from the silver rows of the plan's read window."""
    catalog, geo = enrichment.products(spark), enrichment.countries(spark)
    return {
        GOLD_DAILY_ACTIVE_USERS.name: lambda ev, plan: gold.daily_active_users(ev, plan.active_users),
        GOLD_SESSIONS.name: lambda ev, plan: gold.sessions(ev, plan.sessions),
        GOLD_SESSIONS_DAILY.name: lambda ev, plan: gold.sessions_daily(gold.sessions(ev, plan.sessions)),
        GOLD_FUNNEL_DAILY.name: lambda ev, plan: gold.funnel_daily(ev, plan.daily),
        GOLD_REVENUE_DAILY.name: lambda ev, plan: gold.revenue_daily(ev, plan.daily, catalog, geo),
        GOLD_APP_ERRORS_DAILY.name: lambda ev, plan: gold.app_errors_daily(ev, plan.daily),
    }


def select_tables(names: Sequence[str] | None) -> list[TableSpec]:
    """Gold specs by name (``gold.sessions`` or ``sessions``); all of them for ``None``/empty."""
    if not names:
        return list(GOLD_TABLES.values())
    specs = []
    for name in names:
        full = name if name.startswith("gold.") else f"gold.{name}"
        if full not in GOLD_TABLES:
            raise ValueError(f"unknown gold table {name!r}; known: {', '.join(GOLD_TABLES)}")
        specs.append(GOLD_TABLES[full])
    return specs


def build_gold_tables(
    spark: SparkSession, lake_root: str, interval: Interval, tables: Sequence[TableSpec] | None = None
) -> dict[str, Any]:
    """Rebuild the interval's partitions of ``tables`` (default: all gold tables); a summary for logs."""
    started = time.monotonic()
    silver = spark.read.format("delta").load(SILVER_EVENTS.path(lake_root))
    s.require_columns(silver.columns)
    plan = GoldPlan.build(interval, late_event_dates(silver, interval), newest_event_date(silver))
    first, last = plan.read_window
    events = silver.where(F.col(s.EVENT_DATE).between(first, last)).select(*s.USED_COLUMNS).persist()
    summary: dict[str, Any] = {"interval": str(interval), "plan": plan.to_dict(), "tables": {}}
    try:
        summary["silver_rows_read"] = events.count()
        build = builders(spark)
        for spec in tables or list(GOLD_TABLES.values()):
            table_started, dates = time.monotonic(), plan.dates_for(spec.name)
            overwrite_partitions(build[spec.name](events, plan), spec, dates, lake_root)
            summary["tables"][spec.name] = {
                "partitions": len(dates),
                "seconds": round(time.monotonic() - table_started, 3),
            }
            log.info("rebuilt %s for %d dates", spec.name, len(dates))
    finally:
        events.unpersist()
    summary["seconds"] = round(time.monotonic() - started, 3)
    return summary
