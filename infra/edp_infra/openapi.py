"""The ingest API's OpenAPI document as the API Gateway body, with its ``${...}`` placeholders filled.

``include/lambda/ingest/openapi.yaml`` is the one contract of the API (the local gateway reads it too).
Its placeholders are deployment values; an unknown placeholder is an error rather than a broken import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
USAGE_PLAN_EXTENSION = "x-edp-usage-plan"


def placeholders(node: Any) -> set[str]:
    """Every ``${name}`` in the document's strings."""
    if isinstance(node, str):
        return set(PLACEHOLDER.findall(node))
    if isinstance(node, Mapping):
        return set().union(*(placeholders(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(placeholders(v) for v in node)) if node else set()
    return set()


def substitute(node: Any, values: Mapping[str, str]) -> Any:
    """A copy of ``node`` with every ``${name}`` replaced (values may be CDK tokens)."""
    if isinstance(node, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
    if isinstance(node, Mapping):
        return {k: substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, values) for v in node]
    return node


def load_api_definition(path: Path, values: Mapping[str, str]) -> dict[str, Any]:
    """The document with placeholders filled; raises ``KeyError`` naming any placeholder without a value."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if missing := placeholders(document) - set(values):
        raise KeyError(f"{path}: no deployment value for placeholders {sorted(missing)}")
    return substitute(document, values)


def usage_plan(document: Mapping[str, Any]) -> dict[str, Any]:
    """The ``x-edp-usage-plan`` body (CreateUsagePlan shape): name, description, throttle."""
    try:
        return dict(document[USAGE_PLAN_EXTENSION])
    except KeyError:
        raise KeyError(f"the OpenAPI document has no {USAGE_PLAN_EXTENSION}") from None
