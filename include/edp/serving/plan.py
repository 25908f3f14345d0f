"""The load plan: which data interval a serving run covers, which gold partitions it publishes, at which versions.

Every step of ``warehouse_load`` (quality gates, export, COPY/MERGE, BI refresh) works from one plan,
built once by its first task and passed on as XCom, so the steps agree on what they handle:

* **interval** — runs are triggered by the gold Assets, and Airflow 3 gives asset-triggered runs no data
  interval of their own. In order: the ``interval_start``/``interval_end`` params of a manual run; else
  the union over the triggering asset events (several may queue up) of each event's interval, which is
  its ``extra["interval_start"/"interval_end"]`` if the producer set them, else the data interval of
  the run that emitted it (``gold_build``), else that run's ``start_date``/``end_date`` conf (whole days,
  ``lake_backfill``); else the run's own data interval;
* **dates** — the ``event_date`` partitions each gold table rebuilt for that interval, from the same
  :class:`edp.lake.intervals.GoldPlan` the gold build uses (interval dates, late rows' dates, and the
  dates WAU and sessions depend on);
* **versions** — the Delta version of every table read, pinned at planning: the gate validates exactly
  the rows the export then publishes, even if a later gold build commits in between.

Rebuilding the plan for the same interval gives the same dates, so every step is idempotent per interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from edp.config import PlatformConfig
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.gold import (
    GOLD_APP_ERRORS_DAILY,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_FUNNEL_DAILY,
    GOLD_REVENUE_DAILY,
    GOLD_SESSIONS,
    GOLD_SESSIONS_DAILY,
    GOLD_TABLES,
)
from edp.lake.intervals import GoldPlan, Interval, day_interval, ingest_event_date_bounds, parse_instant
from edp.serving.names import export_root, safe_id

PLAN_FORMAT = "edp.load_plan/v1"
# Which GoldPlan field lists the partitions each gold table rebuilds (as in edp.batch.gold_build).
TABLE_DATES: dict[str, str] = {
    GOLD_DAILY_ACTIVE_USERS.name: "active_users",
    GOLD_SESSIONS.name: "sessions",
    GOLD_SESSIONS_DAILY.name: "sessions",
    GOLD_FUNNEL_DAILY.name: "daily",
    GOLD_REVENUE_DAILY.name: "daily",
    GOLD_APP_ERRORS_DAILY.name: "daily",
}


class NoIntervalError(ValueError):
    """The run has neither interval params, nor triggering gold events, nor a data interval."""


@dataclasses.dataclass(frozen=True)
class TableSlice:
    """One table as the plan pins it: where it is, which version, which partitions matter."""

    name: str
    path: str
    version: int | None  # None: the table does not exist (yet)
    dates: tuple[date, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "version": self.version,
            "dates": [d.isoformat() for d in self.dates],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSlice:
        return cls(
            name=str(data["name"]),
            path=str(data["path"]),
            version=None if data.get("version") is None else int(data["version"]),
            dates=tuple(date.fromisoformat(d) for d in data.get("dates", ())),
        )


@dataclasses.dataclass(frozen=True)
class LoadPlan:
    """What one serving run publishes. ``to_dict()`` is its XCom; the SQL templates read these keys:

    ``load_id`` (``[A-Za-z0-9_-]``), ``export_uri``, ``interval_start_utc``/``interval_end_utc``
    (``YYYY-MM-DD HH:MM:SS``, UTC).
    """

    load_id: str
    interval: Interval
    export_uri: str
    affected: tuple[date, ...]
    gold: dict[str, TableSlice]
    silver: TableSlice
    bronze: TableSlice

    def dates_of(self, table: str) -> tuple[date, ...]:
        return self.gold[table].dates

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "load_id": self.load_id,
            "interval_start": self.interval.start.isoformat(),
            "interval_end": self.interval.end.isoformat(),
            "interval_start_utc": _sql_timestamp(self.interval.start),
            "interval_end_utc": _sql_timestamp(self.interval.end),
            "export_uri": self.export_uri,
            "affected": [d.isoformat() for d in self.affected],
            "gold": {name: s.to_dict() for name, s in self.gold.items()},
            "silver": self.silver.to_dict(),
            "bronze": self.bronze.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadPlan:
        if data.get("format") != PLAN_FORMAT:
            raise ValueError(f"not a load plan ({data.get('format')!r}); expected {PLAN_FORMAT}")
        return cls(
            load_id=str(data["load_id"]),
            interval=Interval(parse_instant(data["interval_start"]), parse_instant(data["interval_end"])),
            export_uri=str(data["export_uri"]),
            affected=tuple(date.fromisoformat(d) for d in data["affected"]),
            gold={name: TableSlice.from_dict(s) for name, s in data["gold"].items()},
            silver=TableSlice.from_dict(data["silver"]),
            bronze=TableSlice.from_dict(data["bronze"]),
        )


def _sql_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _as_instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return parse_instant(value.isoformat())
    return parse_instant(str(value))


def _event_interval(event: Any) -> tuple[datetime, datetime] | None:
    """The data interval one triggering asset event stands for (see :func:`interval_from_context`)."""
    extra = getattr(event, "extra", None) or {}
    start, end = _as_instant(extra.get("interval_start")), _as_instant(extra.get("interval_end"))
    if start is not None and end is not None and end > start:
        return start, end
    run = getattr(event, "source_dag_run", None)
    start = _as_instant(getattr(run, "data_interval_start", None))
    end = _as_instant(getattr(run, "data_interval_end", None))
    if start is not None and end is not None and end > start:
        return start, end
    conf = getattr(run, "conf", None) or {}
    first, last = conf.get("start_date"), conf.get("end_date")
    if first and last:  # a lake_backfill run: whole UTC days, both inclusive
        interval = day_interval(date.fromisoformat(str(first)), date.fromisoformat(str(last)))
        return interval.start, interval.end
    return None


def _source_intervals(triggering_events: Any) -> list[tuple[datetime, datetime]]:
    """Data intervals behind the triggering asset events (duck-typed Airflow objects)."""
    if not triggering_events:
        return []
    found = [_event_interval(event) for events in triggering_events.values() for event in events]
    return [interval for interval in found if interval is not None]


def interval_from_context(context: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> Interval:
    """The run's interval: explicit params, else the triggering gold runs' union, else its data interval."""
    params = params or {}
    start, end = _as_instant(params.get("interval_start")), _as_instant(params.get("interval_end"))
    if (start is None) != (end is None):
        raise NoIntervalError("give both interval_start and interval_end, or neither")
    if start is not None and end is not None:
        return Interval(start, end)
    sources = _source_intervals(context.get("triggering_asset_events"))
    if sources:
        return Interval(min(s for s, _ in sources), max(e for _, e in sources))
    start, end = (
        _as_instant(context.get("data_interval_start")),
        _as_instant(context.get("data_interval_end")),
    )
    if start is not None and end is not None and end > start:
        return Interval(start, end)
    raise NoIntervalError(
        "this run has no data interval: trigger it with interval_start/interval_end params, "
        "or let a gold_build run trigger it through the gold assets"
    )


def late_dates(silver: Any, interval: Interval) -> list[date]:
    """``event_date`` values of silver rows ingested during the interval (``silver`` is a DeltaTable)."""
    if silver is None:
        return []
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    first, last = ingest_event_date_bounds(interval)
    in_window = (
        (pc.field("event_date") >= pa.scalar(first, pa.date32()))
        & (pc.field("event_date") <= pa.scalar(last, pa.date32()))
        & (pc.field("ingested_at") >= pa.scalar(interval.start, pa.timestamp("us", tz="UTC")))
        & (pc.field("ingested_at") < pa.scalar(interval.end, pa.timestamp("us", tz="UTC")))
    )
    rows = silver.to_pyarrow_dataset().to_table(filter=in_window, columns=["event_date"])
    return sorted(set(rows.column("event_date").to_pylist()))


def build_plan(
    config: PlatformConfig,
    interval: Interval,
    run_id: str,
    options: Mapping[str, str] | None = None,
) -> LoadPlan:
    """Plan the serving run for ``interval`` from the lake as it is now (see the module docstring)."""
    from edp.lake.reader import open_table, partition_dates  # noqa: PLC0415 - needs deltalake

    lake_root = config.lake.root
    silver = open_table(SILVER_EVENTS.path(lake_root), options=options)
    newest = max(partition_dates(silver), default=None) if silver is not None else None
    gold_plan = GoldPlan.build(interval, late_dates(silver, interval), newest)
    gold = {}
    for name, spec in GOLD_TABLES.items():
        table = open_table(spec.path(lake_root), options=options)
        gold[name] = TableSlice(
            name=name,
            path=spec.path(lake_root),
            version=None if table is None else table.version(),
            dates=tuple(getattr(gold_plan, TABLE_DATES[name])),
        )
    bronze = open_table(BRONZE_EVENTS.path(lake_root), options=options)
    load_id = safe_id(run_id)
    return LoadPlan(
        load_id=load_id,
        interval=interval,
        export_uri=f"{export_root(config).rstrip('/')}/{load_id}",
        affected=tuple(gold_plan.daily),
        gold=gold,
        silver=TableSlice(
            SILVER_EVENTS.name,
            SILVER_EVENTS.path(lake_root),
            None if silver is None else silver.version(),
            tuple(gold_plan.daily),
        ),
        bronze=TableSlice(
            BRONZE_EVENTS.name, BRONZE_EVENTS.path(lake_root), None if bronze is None else bronze.version()
        ),
    )
