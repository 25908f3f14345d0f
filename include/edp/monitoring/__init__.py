"""Monitoring on AWS: CloudWatch alarms as code, the platform's custom metrics, remote task logs.

* :mod:`edp.monitoring.alarms`: alarm definitions and :func:`~edp.monitoring.alarms.apply_alarms`;
* :mod:`edp.monitoring.metrics`: the ``EDP/Platform`` metrics the failure callback and the freshness DAG
  publish;
* :mod:`edp.monitoring.remote_logging`: Airflow task logs in CloudWatch Logs.

:func:`apply_platform_monitoring` is what the ``monitoring_alarms`` DAG and ``python -m edp.monitoring
apply`` run. Standard library only at import time: clients are passed in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from edp.config import PlatformConfig
from edp.monitoring.alarms import DEFAULT_FRESHNESS_BOUND, apply_alarms, platform_alarms
from edp.monitoring.remote_logging import TASK_LOG_GROUP, ensure_log_group


def apply_platform_monitoring(
    config: PlatformConfig,
    cloudwatch: Any,
    logs: Any | None = None,
    *,
    freshness_bound: timedelta = DEFAULT_FRESHNESS_BOUND,
    prune: bool = True,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Apply the platform's alarms (and the task log group, given a Logs client); return what changed."""
    report: dict[str, Any] = apply_alarms(
        cloudwatch, platform_alarms(config, freshness_bound), prune=prune, dry_run=dry_run
    )
    if logs is not None and not dry_run:
        report["task_log_group"] = {"name": TASK_LOG_GROUP, "created": ensure_log_group(logs)}
    return report


__all__ = ["apply_platform_monitoring"]
