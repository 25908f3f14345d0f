"""Data intervals and the partition dates each batch job touches. Pure Python, no Spark.

A job runs for a half-open interval ``[start, end)`` of UTC instants, the Airflow run's data interval
(``{{ data_interval_start }}`` / ``{{ data_interval_end }}``), never "now". Which partitions it reads
and rewrites is a function of that interval plus facts read from the tables, so a rerun of the same
interval touches the same partitions:

* :func:`interval_dates` — the UTC dates overlapping the interval;
* :func:`closed_dates` — the dates that ended by the interval's end (compaction leaves the current,
  still-written day alone);
* :class:`GoldPlan` — which ``event_date`` partitions each gold table rebuilds and which silver dates
  that needs (see ``docs/batch.md`` for the lateness rules).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from edp.contract import MAX_CLOCK_SKEW, MAX_EVENT_AGE
from edp.lake.gold import (
    GOLD_APP_ERRORS_DAILY,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_FUNNEL_DAILY,
    GOLD_REVENUE_DAILY,
    GOLD_SESSIONS,
    GOLD_SESSIONS_DAILY,
)

DAY = timedelta(days=1)
WAU_DAYS = 7
# Sessions are short (SDKs rotate the id after 30 idle minutes); one that crosses midnight is dated
# by its first event, so a date's sessions need the day before and after it.
SESSION_SPAN_DAYS = 1
MAX_INTERVAL_DAYS = 3660
# The GoldPlan field that lists the partitions each gold table rebuilds.
GOLD_PLAN_FIELD: dict[str, str] = {
    GOLD_DAILY_ACTIVE_USERS.name: "active_users",
    GOLD_SESSIONS.name: "sessions",
    GOLD_SESSIONS_DAILY.name: "sessions",
    GOLD_FUNNEL_DAILY.name: "daily",
    GOLD_REVENUE_DAILY.name: "daily",
    GOLD_APP_ERRORS_DAILY.name: "daily",
}


@dataclasses.dataclass(frozen=True)
class Interval:
    """A half-open data interval ``[start, end)`` of timezone-aware UTC instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"interval {name} {value.isoformat()} has no time zone")
        if self.end <= self.start:
            raise ValueError(f"empty interval: end {self.end.isoformat()} <= start {self.start.isoformat()}")
        if self.end - self.start > timedelta(days=MAX_INTERVAL_DAYS):
            raise ValueError(f"interval longer than {MAX_INTERVAL_DAYS} days; split the backfill")

    @property
    def first_date(self) -> date:
        return self.start.astimezone(UTC).date()

    @property
    def last_date(self) -> date:
        """The date of the interval's last instant (``end`` itself is excluded)."""
        return (self.end.astimezone(UTC) - timedelta(microseconds=1)).date()

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def parse_instant(text: str) -> datetime:
    """``2025-06-01``, ``2025-06-01T10:00:00+00:00``, ``...Z`` or a space for ``T``; naive means UTC."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty timestamp")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO-8601 date or timestamp: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_interval(start: str, end: str) -> Interval:
    return Interval(parse_instant(start), parse_instant(end))


def day_interval(first: date, last: date) -> Interval:
    """The interval covering whole UTC days ``first`` .. ``last`` (inclusive)."""
    if last < first:
        raise ValueError(f"end date {last} is before start date {first}")
    return Interval(datetime.combine(first, time(), UTC), datetime.combine(last + DAY, time(), UTC))


def date_range(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive (empty when ``last < first``)."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def interval_dates(interval: Interval) -> list[date]:
    """UTC dates with at least one instant inside the interval."""
    return date_range(interval.first_date, interval.last_date)


def closed_dates(interval: Interval) -> list[date]:
    """Dates overlapping the interval that were over by its end: ``date(start) <= d < date(end)``."""
    return date_range(interval.first_date, interval.end.astimezone(UTC).date() - DAY)


def ingest_event_date_bounds(interval: Interval) -> tuple[date, date]:
    """The ``event_date`` range a silver row ingested inside the interval can have.

    The contract accepts ``occurred_at`` in ``[received_at - MAX_EVENT_AGE, received_at + MAX_CLOCK_SKEW]``
    and a row is ingested after it was received, so these bounds prune the late-row lookup to the
    partitions that can hold such rows.
    """
    first = (interval.start - MAX_EVENT_AGE - DAY).date()
    last = (interval.end + MAX_CLOCK_SKEW + DAY).date()
    return first, last


def sql_dates(dates: Iterable[date]) -> str:
    """``DATE'2025-06-01', DATE'2025-06-02'`` for an ``IN (...)`` list."""
    return ", ".join(f"DATE'{day.isoformat()}'" for day in sorted(set(dates)))


def in_dates_predicate(column: str, dates: Iterable[date]) -> str:
    """``event_date IN (DATE'...', ...)``: a partition predicate Delta prunes on (and checks on writes)."""
    listed = sql_dates(dates)
    if not listed:
        raise ValueError(f"no dates for the {column} predicate")
    return f"{column} IN ({listed})"


@dataclasses.dataclass(frozen=True)
class GoldPlan:
    """The ``event_date`` partitions one gold build rewrites, and the silver dates it must read.

    :param affected: dates of the interval plus the event dates of silver rows ingested in it (late rows).
    :param daily: per-day tables (funnel, revenue, app errors): exactly ``affected``.
    :param sessions: ``affected`` +- 1 day: a late event can start, extend or re-date a session
        that crosses midnight.
    :param active_users: ``affected`` and the 6 following days (a day's events count in the WAU of
        the next 6 days), up to ``cap`` (the later of the interval's last date and silver's newest date).
    """

    affected: tuple[date, ...]
    daily: tuple[date, ...]
    sessions: tuple[date, ...]
    active_users: tuple[date, ...]

    @classmethod
    def build(
        cls, interval: Interval, late_dates: Iterable[date], newest_silver_date: date | None
    ) -> GoldPlan:
        affected = sorted(set(interval_dates(interval)) | set(late_dates))
        cap = max(interval.last_date, newest_silver_date or interval.last_date)
        sessions = {
            d + timedelta(days=k) for d in affected for k in range(-SESSION_SPAN_DAYS, SESSION_SPAN_DAYS + 1)
        }
        active = {d + timedelta(days=k) for d in affected for k in range(WAU_DAYS)}
        return cls(
            affected=tuple(affected),
            daily=tuple(affected),
            sessions=tuple(sorted(sessions)),
            active_users=tuple(sorted(d for d in active if d <= cap or d in affected)),
        )

    def dates_for(self, table: str) -> tuple[date, ...]:
        """The ``event_date`` partitions the gold table named ``table`` rebuilds under this plan."""
        try:
            return getattr(self, GOLD_PLAN_FIELD[table])
        except KeyError:
            raise KeyError(f"no gold table {table!r}; known: {', '.join(GOLD_PLAN_FIELD)}") from None

    @property
    def read_window(self) -> tuple[date, date]:
        """First and last silver ``event_date`` the builds read (WAU look-back, session look-around)."""
        first = min(min(self.active_users) - timedelta(days=WAU_DAYS - 1), min(self.sessions) - DAY)
        last = max(max(self.sessions) + timedelta(days=SESSION_SPAN_DAYS), max(self.active_users))
        return first, last

    def to_dict(self) -> dict[str, list[str]]:
        return {
            field.name: [d.isoformat() for d in getattr(self, field.name)]
            for field in dataclasses.fields(self)
        }
