"""Default task arguments and DAG keyword arguments every platform DAG starts from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from edp.alerting.notifier import PlatformAlertNotifier
from edp.orchestration.runtime import CONFIG_MACRO, runtime_config

OWNER = "data-platform"
PLATFORM_TAG = "platform"
# A fixed, past start date: with catchup off the scheduler starts from the latest interval anyway.
PLATFORM_START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
# Airflow 3.1+ reads retry_exponential_backoff as a multiplier; True (== 1.0) means a constant delay.
BACKOFF_MULTIPLIER = 2.0


def platform_default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults: owner, retries with exponential backoff, and the SNS alert on final failure.

    The failure callback is set per task (via ``default_args``), not on the DAG: DAG-level callbacks run
    in the DAG processor and are not reliably delivered in Airflow 3.1+, task callbacks run in the task's
    own process. Retries do not alert; only the last failed try does.
    """
    args: dict[str, Any] = {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": BACKOFF_MULTIPLIER,
        "max_retry_delay": timedelta(minutes=15),
        "on_failure_callback": PlatformAlertNotifier(),
    }
    args.update(overrides)
    return args


def platform_dag_kwargs(*, tags: Iterable[str], **overrides: Any) -> dict[str, Any]:
    """Common DAG keyword arguments; ``schedule`` is deliberately not among them.

    Each DAG states its schedule in its own file (the integrity test checks it is explicit), and passes
    ``doc_md``. ``default_args`` defaults to :func:`platform_default_args`. ``user_defined_macros``
    always holds :func:`platform_macros` (a DAG's own macros are added to them).
    """
    kwargs: dict[str, Any] = {
        "start_date": PLATFORM_START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "tags": sorted({PLATFORM_TAG, *tags}),
        "default_args": platform_default_args(),
    }
    macros = {**platform_macros(), **overrides.pop("user_defined_macros", {})}
    kwargs.update(overrides)
    kwargs["user_defined_macros"] = macros
    return kwargs


def platform_macros() -> dict[str, Any]:
    """Jinja macros of every platform DAG: ``platform_config()`` is the task-time configuration."""
    return {CONFIG_MACRO: runtime_config}
