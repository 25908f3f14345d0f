"""Shared orchestration pieces for DAG files: default arguments, DAG keyword arguments, alerting.

DAG files import from here at top level, so this package and what it imports must stay cheap:
standard library, ``airflow.sdk`` and ``platform_config`` only. Provider and AWS SDK imports happen
inside functions that run in tasks or callbacks (:mod:`orchestration.health` is task-time only).
"""

from orchestration import health
from orchestration.alerts import PLATFORM_UNHEALTHY, TASK_FAILURE, Severity, build_alert
from orchestration.defaults import OWNER, platform_dag_kwargs, platform_default_args
from orchestration.notifier import PlatformAlertNotifier

__all__ = [
    "OWNER",
    "PLATFORM_UNHEALTHY",
    "TASK_FAILURE",
    "PlatformAlertNotifier",
    "Severity",
    "build_alert",
    "health",
    "platform_dag_kwargs",
    "platform_default_args",
]
