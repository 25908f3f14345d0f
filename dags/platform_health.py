"""
### Platform health

Every 10 minutes, checks that the platform's moving parts are up, so a broken component raises an
alert before the data pipelines notice it:

| check | local (`PLATFORM_ENV=local`) | aws |
| --- | --- | --- |
| `check_local_runtime` | each component `make run` started is alive and healthy | skipped |
| `check_event_stream` | Kinesis stream on the loopback endpoint is `ACTIVE` | Kinesis stream is `ACTIVE` |
| `check_alert_topic` | SNS alert topic exists on the loopback endpoint | SNS alert topic exists |

A failing check fails its own task; after its retries the task's failure callback publishes a
`platform_unhealthy` alert (severity `critical`) to the SNS alert topic, naming what is unhealthy.
`summarise` runs last, as a teardown, whatever the checks did; it does not change the run's state.

Resource names and the AWS connection come from `platform_config` (`stream.name`, `sns.alerts_topic`,
`connections.aws`), with the `platform_overrides` Variable applied at run time.
Runbook: `docs/runbooks/platform_unhealthy.md`.
"""

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task, teardown

from edp.alerting.alerts import PLATFORM_UNHEALTHY, Severity
from edp.alerting.notifier import PlatformAlertNotifier
from edp.monitoring import health
from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args
from edp.orchestration.runtime import runtime_config

CHECKS = ("check_local_runtime", "check_event_stream", "check_alert_topic")


@dag(
    schedule="*/10 * * * *",
    doc_md=__doc__,
    dagrun_timeout=timedelta(minutes=9),
    **platform_dag_kwargs(
        tags=["health", "monitoring"],
        default_args=platform_default_args(
            # Short delays: three tries must finish well inside the 10-minute interval.
            retry_delay=timedelta(seconds=30),
            max_retry_delay=timedelta(minutes=2),
            execution_timeout=timedelta(minutes=2),
            on_failure_callback=PlatformAlertNotifier(
                alert_kind=PLATFORM_UNHEALTHY, severity=Severity.CRITICAL
            ),
        ),
    ),
)
def platform_health() -> None:
    @task
    def check_local_runtime() -> dict:
        return health.check_local_runtime(runtime_config())

    @task
    def check_event_stream() -> dict:
        return health.check_event_stream(runtime_config())

    @task
    def check_alert_topic() -> dict:
        return health.check_alert_topic(runtime_config())

    @teardown
    def summarise() -> dict[str, str]:
        ti = get_current_context()["ti"]
        return health.summarise({check: ti.xcom_pull(task_ids=check) for check in CHECKS})

    [check_local_runtime(), check_event_stream(), check_alert_topic()] >> summarise()


platform_health_dag = platform_health()
