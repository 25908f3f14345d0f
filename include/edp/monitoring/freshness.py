"""Is silver fresh? The check behind the ``data_freshness`` DAG, alerting once per stale period.

Freshness of a Delta table is the age of its newest commit (``edp.lake.delta_log`` reads it
with delta-rs, without Spark, from the environment's lake storage). The streaming job commits to ``silver.events``
every micro-batch that had input, so when events stop arriving (apps down, ingest broken, the job
stuck), the newest commit ages. When it is older than the bound:

* the task raises :class:`edp.alerting.failures.FreshnessDeadlineMissed` (no retries) carrying the
  open incident's id (:mod:`edp.alerting.incidents`);
* the platform failure callback publishes one ``freshness_deadline_missed`` alert for the incident
  (dedup key ``freshness_deadline_missed/<incident id>``); later stale runs fail too (the grid shows the
  outage) but do not alert again;
* the first fresh reading closes the incident; the next stale period is a new incident and alert.

Every reading is also published as ``DataFreshnessSeconds`` to the environment's metrics sink: on AWS
``EDP/Platform``, which the ``edp-platform-data-freshness`` alarm watches (it also fires when the
readings stop coming).

Why not Airflow's Deadline Alerts (``airflow.sdk.definitions.deadline``, experimental in 3.3): a
deadline is about a DAG run (finished within an interval of its logical date or queue time), checked by
the scheduler; it cannot observe when data last arrived, and it would fire once per late run rather
than once per stale period. See ``docs/runbooks/freshness_deadline_missed.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from edp.alerting.alerts import FRESHNESS_DEADLINE_MISSED
from edp.alerting.failures import FreshnessDeadlineMissed
from edp.alerting.incidents import IncidentStore, incident_store, open_or_continue, resolve
from edp.config import PlatformConfig

DEFAULT_MAX_AGE = timedelta(minutes=15)
SILVER_EVENTS = "silver.events"

NewestCommit = Callable[[str], datetime | None]


@dataclasses.dataclass(frozen=True)
class FreshnessReading:
    table: str
    location: str
    newest_commit_at: datetime | None
    checked_at: datetime
    max_age: timedelta

    @property
    def age(self) -> timedelta | None:
        if self.newest_commit_at is None:
            return None
        return max(self.checked_at - self.newest_commit_at, timedelta(0))

    @property
    def fresh(self) -> bool:
        age = self.age
        return age is not None and age <= self.max_age

    def describe(self) -> str:
        age = self.age
        if age is None:
            return f"{self.table} has no commits at {self.location}"
        return (
            f"{self.table} newest commit is {age.total_seconds():.0f}s old "
            f"(bound {self.max_age.total_seconds():.0f}s, last commit {self.newest_commit_at.isoformat()})"  # type: ignore[union-attr]
        )

    def to_dict(self) -> dict[str, Any]:
        age = self.age
        return {
            "table": self.table,
            "location": self.location,
            "newest_commit_at": self.newest_commit_at.isoformat() if self.newest_commit_at else None,
            "checked_at": self.checked_at.isoformat(),
            "age_seconds": None if age is None else round(age.total_seconds(), 3),
            "max_age_seconds": self.max_age.total_seconds(),
            "fresh": self.fresh,
        }


def silver_events_location(config: PlatformConfig) -> str:
    from edp.lake import SILVER_EVENTS as SPEC  # noqa: PLC0415 - task-time only

    return SPEC.path(config.lake.root)


def newest_commit_reader(config: PlatformConfig) -> NewestCommit:
    """Reads a table's newest commit time from the environment's lake storage."""
    from edp.lake.delta_log import newest_commit  # noqa: PLC0415
    from edp.resources import resources  # noqa: PLC0415

    lake = resources(config).lake
    return lambda location: newest_commit(location, lake)


def check_freshness(
    config: PlatformConfig,
    *,
    max_age: timedelta = DEFAULT_MAX_AGE,
    table: str = SILVER_EVENTS,
    location: str | None = None,
    newest_commit: NewestCommit | None = None,
    store: IncidentStore | None = None,
    publish_metric: Callable[[FreshnessReading], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Read the table's freshness; close the incident if fresh, else open/continue it and raise.

    :raises FreshnessDeadlineMissed: the table is older than ``max_age``.
    :raises AirflowSkipException: the table has no commits yet (no data ever arrived: nothing to age).
    :returns: the reading (``FreshnessReading.to_dict``) plus ``resolved_incident`` when one closed.
    """
    location = location or silver_events_location(config)
    reader = newest_commit or newest_commit_reader(config)
    reading = FreshnessReading(
        table=table,
        location=location,
        newest_commit_at=reader(location),
        checked_at=now or datetime.now(tz=UTC),
        max_age=max_age,
    )
    if reading.newest_commit_at is None:
        from airflow.sdk.exceptions import AirflowSkipException  # noqa: PLC0415

        raise AirflowSkipException(f"{reading.describe()} yet; nothing to check")
    if publish_metric is not None:
        publish_metric(reading)
    store = store or incident_store(config)
    if reading.fresh:
        closed = resolve(store, FRESHNESS_DEADLINE_MISSED, reading.checked_at)
        result = reading.to_dict()
        if closed is not None:
            result["resolved_incident"] = closed.id
        return result
    incident = open_or_continue(store, FRESHNESS_DEADLINE_MISSED, reading.checked_at, reading.describe())
    raise FreshnessDeadlineMissed(
        f"{reading.describe()}: data stopped arriving",
        incident_id=incident.id,
        details={
            **reading.to_dict(),
            "incident_opened_at": incident.opened_at.isoformat(),
            "failed_checks": incident.failures,
        },
    )


def metrics_publisher(config: PlatformConfig) -> Callable[[FreshnessReading], None]:
    """Publishes a reading as ``DataFreshnessSeconds`` to the environment's metrics sink."""
    from edp.resources import resources  # noqa: PLC0415 - task-time only

    sink = resources(config).metrics

    def publish(reading: FreshnessReading) -> None:
        age = reading.age
        assert age is not None
        sink.publish_freshness(reading.table, age.total_seconds(), reading.checked_at)

    return publish
