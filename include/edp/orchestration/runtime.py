"""Configuration as seen by a running task: the environment plus the ``platform_overrides`` Variable."""

from __future__ import annotations

from typing import Any

from edp.config import PlatformConfig, get_config

OVERRIDES_VARIABLE = "platform_overrides"


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
