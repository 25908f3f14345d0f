"""State that DAG runs carry to the next run: small JSON documents, each under a ``/``-separated name.

Two stores behind one interface (:class:`StateStore`); :mod:`edp.resources` picks one per environment:

* :class:`FileStateStore` keeps ``<root>/<name>.json`` (locally ``.platform/incidents/<kind>.json``,
  ``.platform/streaming/supervision.json``): readable without an API server, reset by ``make clean``.
* :class:`VariableStateStore` keeps one JSON Airflow Variable per document. Workers are ephemeral
  containers, so a file would not survive the next run; the metadata DB does, every worker reads the
  same value, and an operator can read or reset it in the UI. Call it from a running task only.

The DAGs that keep state run with ``max_active_runs=1``, so each document has one writer at a time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

Document = dict[str, Any]


class StateStore(Protocol):
    def load(self, name: str) -> Document | None:
        """The document stored under ``name``, or ``None`` if there is none."""
        ...

    def save(self, name: str, document: Mapping[str, Any]) -> None: ...

    def location(self, name: str) -> str:
        """Where ``name`` lives, for logs and run summaries."""
        ...


class FileStateStore:
    """One JSON file per document under ``root``, replaced atomically (readers never see half a file)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def location(self, name: str) -> str:
        return str(self.path(name))

    def load(self, name: str) -> Document | None:
        try:
            return json.loads(self.path(name).read_text())
        except FileNotFoundError:
            return None

    def save(self, name: str, document: Mapping[str, Any]) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(document, indent=2))
        tmp.replace(path)


class VariableStateStore:
    """One JSON Airflow Variable per document (task and callback time only: it talks to the API server).

    :param names: document-name prefix -> Variable-name prefix, first match wins (the Variables keep
        the names operators know, e.g. ``incidents/`` -> ``platform_incident__``); other documents
        become ``edp_state__<name with / as __>``.
    """

    FALLBACK_PREFIX = "edp_state__"

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = dict(names or {})

    def variable(self, name: str) -> str:
        for prefix, variable in self.names.items():
            if name.startswith(prefix):
                return variable + name[len(prefix) :]
        return self.FALLBACK_PREFIX + name.replace("/", "__")

    def location(self, name: str) -> str:
        return f"Airflow Variable {self.variable(name)!r}"

    def load(self, name: str) -> Document | None:
        from airflow.sdk import Variable  # noqa: PLC0415 - task-time only

        value = Variable.get(self.variable(name), default=None, deserialize_json=True)
        return value or None

    def save(self, name: str, document: Mapping[str, Any]) -> None:
        from airflow.sdk import Variable  # noqa: PLC0415

        Variable.set(
            self.variable(name),
            dict(document),
            description=f"Platform state {name!r}, kept between DAG runs; delete it to reset.",
            serialize_json=True,
        )
