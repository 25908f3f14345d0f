"""
### Monitoring alarms

Daily (and on demand), makes CloudWatch match the platform's alarm definitions in
`include/edp/monitoring/alarms.py`: creates missing alarms, updates changed ones, deletes retired
`edp-platform-*` alarms, and ensures the Airflow task log group exists with its retention.
`put_metric_alarm` is only called for alarms that differ, so runs are idempotent.

| alarm | watches |
| --- | --- |
| `edp-platform-kinesis-iterator-age` | Kinesis `GetRecords.IteratorAgeMilliseconds` (consumer lag) |
| `edp-platform-streaming-heartbeat` | the streaming job's `EDP/Streaming Heartbeat` (missing = breaching) |
| `edp-platform-data-freshness` | `EDP/Platform DataFreshnessSeconds` of silver.events |
| `edp-platform-dag-task-failures` | `EDP/Platform Alerts` of kind `task_failure` (storms) |
| `edp-platform-quality-gate-failures` | `EDP/Platform Alerts` of kind `quality_gate_failed` |

Alarm actions publish to the SNS alert topic (`platform_config` `sns.alerts_topic`), which the
SNS -> Slack function formats. Locally the definitions are applied to the moto endpoint (which stores
but never evaluates them), so they are exercised on every platform. Runbook:
`docs/runbooks/cloudwatch_alarm.md`.
"""

from datetime import timedelta

from airflow.sdk import dag, task

from edp.orchestration.defaults import platform_dag_kwargs, platform_default_args
from edp.orchestration.runtime import runtime_config


@dag(
    schedule="@daily",
    doc_md=__doc__,
    dagrun_timeout=timedelta(minutes=30),
    **platform_dag_kwargs(
        tags=["monitoring", "cloudwatch"],
        default_args=platform_default_args(execution_timeout=timedelta(minutes=10)),
    ),
)
def monitoring_alarms() -> None:
    @task
    def apply_cloudwatch_alarms() -> dict:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from edp.monitoring import apply_platform_monitoring  # noqa: PLC0415

        config = runtime_config()

        def client(kind: str):
            return AwsBaseHook(
                aws_conn_id=config.connections.aws, client_type=kind, region_name=config.stream.region
            ).conn

        return apply_platform_monitoring(config, client("cloudwatch"), client("logs"))

    apply_cloudwatch_alarms()


monitoring_alarms_dag = monitoring_alarms()
