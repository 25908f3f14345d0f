"""
### Data freshness

Every 5 minutes, checks that `silver.events` is still receiving data: the age of its newest Delta
commit must stay under the bound (param `max_age_seconds`, default 15 minutes).

| reading | task state | alert |
| --- | --- | --- |
| fresh | success; closes an open incident | none |
| older than the bound, first time | failed (no retries) | **one** `freshness_deadline_missed` alert for the incident |
| still older than the bound | failed | none: the incident was alerted |
| no commits yet (table not created) | skipped | none |

The alert goes through the platform's task failure callback to the SNS alert topic, with the dedup
key `freshness_deadline_missed/<incident id>`. Incident state: `.platform/incidents/` locally, the
Variable `platform_incident__freshness_deadline_missed` on AWS. On AWS every reading is also published
as the CloudWatch metric `EDP/Platform DataFreshnessSeconds`, watched by the `edp-platform-data-freshness`
alarm. Logic lives in `include/edp/monitoring/freshness.py`. Runbook: `docs/runbooks/freshness_deadline_missed.md`.
"""

from datetime import timedelta

from airflow.sdk import Param, dag, task

from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args
from edp.orchestration.runtime import runtime_config

DEFAULT_MAX_AGE_SECONDS = 15 * 60


@dag(
    schedule="*/5 * * * *",
    doc_md=__doc__,
    dagrun_timeout=timedelta(minutes=4),
    params={
        "max_age_seconds": Param(
            DEFAULT_MAX_AGE_SECONDS,
            type="number",
            exclusiveMinimum=0,
            title="Freshness bound (seconds)",
            description="silver.events is stale when its newest commit is older than this.",
        )
    },
    **platform_dag_kwargs(
        tags=["monitoring", "freshness"],
        default_args=platform_default_args(
            # Retries cover a transient read error; a stale verdict fails at once (no retries).
            retry_delay=timedelta(seconds=20),
            max_retry_delay=timedelta(minutes=1),
            execution_timeout=timedelta(minutes=2),
        ),
    ),
)
def data_freshness() -> None:
    @task
    def check_silver_freshness(params: dict | None = None) -> dict:
        from edp.monitoring.freshness import check_freshness, metrics_publisher  # noqa: PLC0415 - task-time only

        config = runtime_config()
        max_age = timedelta(seconds=float((params or {})["max_age_seconds"]))
        return check_freshness(config, max_age=max_age, publish_metric=metrics_publisher(config))

    check_silver_freshness()


data_freshness_dag = data_freshness()
