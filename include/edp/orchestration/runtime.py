"""Configuration as seen by a running task: the environment plus the ``platform_overrides`` Variable.

Task code calls :func:`runtime_config`; templated operator arguments use the same function through the
``platform_config`` DAG macro (:data:`LAKE_ROOT_TEMPLATE`), so a run has one source for each setting.
"""

from __future__ import annotations

from typing import Any

from edp.config import PlatformConfig, get_config

OVERRIDES_VARIABLE = "platform_overrides"
CONFIG_MACRO = "platform_config"
"""The DAG macro (``user_defined_macros``, set by ``platform_dag_kwargs``) that is :func:`runtime_config`."""
LAKE_ROOT_TEMPLATE = "{{ " + CONFIG_MACRO + "().lake.root }}"
"""The run's lake root, rendered in the task: the same source as ``runtime_config()`` in task code."""


def runtime_config() -> PlatformConfig:
    """Call inside tasks only: reading a Variable at parse time would hit the API on every parse.

    The Variable holds a nested JSON mapping such as ``{"stream": {"name": "events-canary"}}``.
    """
    from airflow.sdk import Variable  # noqa: PLC0415 - task-time only

    overrides: Any = Variable.get(OVERRIDES_VARIABLE, default=None, deserialize_json=True)
    if overrides is not None and not isinstance(overrides, dict):
        kind = type(overrides).__name__
        raise TypeError(f"Variable {OVERRIDES_VARIABLE!r} must be a JSON object, got {kind}")
    return get_config(overrides or None)
