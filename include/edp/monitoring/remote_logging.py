"""Airflow task logs in CloudWatch Logs (aws configuration only).

Airflow's remote logging writes each task's log to the log group named by
``[logging] remote_base_log_folder = cloudwatch://<log group ARN>`` (the amazon provider's
``CloudWatchRemoteLogIO``), using the AWS connection ``remote_log_conn_id``. The environment for the
Astro deployment is :func:`remote_logging_environment`; print it with
``python -m edp.monitoring logging-env`` (with ``PLATFORM_ENV=aws`` and the real account id set via
``PLATFORM__AWS_ACCOUNT_ID``). The log group itself is created, with a retention, by
:func:`ensure_log_group` (the ``monitoring_alarms`` DAG and ``python -m edp.monitoring apply`` call it).

Locally task logs stay on disk under the Airflow home, served by the worker log server.
"""

from __future__ import annotations

from typing import Any

from edp.config import PlatformConfig
from edp.config.settings import RESOURCE_PREFIX

TASK_LOG_GROUP = f"/{RESOURCE_PREFIX}/airflow/task-logs"
RETENTION_DAYS = 30


def task_log_group_arn(config: PlatformConfig, log_group: str = TASK_LOG_GROUP) -> str:
    return f"arn:aws:logs:{config.stream.region}:{config.aws_account_id}:log-group:{log_group}"


def remote_logging_environment(config: PlatformConfig, log_group: str = TASK_LOG_GROUP) -> dict[str, str]:
    """``AIRFLOW__LOGGING__*`` variables that send task logs to CloudWatch Logs."""
    return {
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"cloudwatch://{task_log_group_arn(config, log_group)}",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": config.connections.aws,
        # The worker's disk is ephemeral on Astro; CloudWatch is the copy that matters.
        "AIRFLOW__LOGGING__DELETE_LOCAL_LOGS": "True",
    }


def ensure_log_group(
    client: Any, log_group: str = TASK_LOG_GROUP, retention_days: int = RETENTION_DAYS
) -> bool:
    """Create the log group if missing and set its retention; ``True`` if it was created."""
    existing = client.describe_log_groups(logGroupNamePrefix=log_group).get("logGroups", [])
    created = not any(group["logGroupName"] == log_group for group in existing)
    if created:
        client.create_log_group(logGroupName=log_group, tags={"platform": RESOURCE_PREFIX})
    client.put_retention_policy(logGroupName=log_group, retentionInDays=retention_days)
    return created
