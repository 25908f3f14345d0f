"""Render the SQL files the way Airflow does, for code that runs them outside an operator's templating.

Airflow renders ``*.sql`` template fields with the DAG's Jinja environment: strict undefined, the
``ds``/``ts`` filters, the DAG's ``user_defined_filters``, search path ``include/sql``. This module builds
that same environment (``airflow.sdk``'s own factory) so tests and the dashboard builder render a file
exactly as a task would, from an explicit context.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edp.config import PlatformConfig
from edp.serving.names import TEMPLATE_FILTERS, sql_dir, staging_schema

PLAN_TASK_ID = "plan_load"


class XComPull:
    """The ``ti`` of a template context outside Airflow: ``ti.xcom_pull(task_ids=...)`` returns given values."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        if key != "return_value":
            raise KeyError(f"only return values are available, not key {key!r}")
        return self._values[task_ids]


def template_env(searchpath: Path) -> Any:
    from airflow.sdk.definitions._internal.templater import create_template_env  # noqa: PLC0415

    return create_template_env(searchpath=[str(searchpath)], user_defined_filters=TEMPLATE_FILTERS)


def redshift_params(config: PlatformConfig, plan_task_id: str = PLAN_TASK_ID) -> dict[str, Any]:
    """``params`` of the Redshift SQL files (the DAG passes the same mapping to its SQL tasks)."""
    return {
        "schema": config.redshift.schema,
        "staging_schema": staging_schema(config),
        "copy_iam_role_arn": config.redshift.copy_iam_role_arn,
        "plan_task_id": plan_task_id,
    }


def render_sql_file(
    relative_path: str,
    config: PlatformConfig,
    *,
    params: Mapping[str, Any],
    xcom: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Render ``include/sql/<relative_path>`` with ``params``, ``ti`` (pulling ``xcom``) and ``extra``."""
    env = template_env(sql_dir(config))
    context = {"params": dict(params), "ti": XComPull(xcom or {}), **(extra or {})}
    return env.get_template(relative_path).render(**context)
