"""What every quality gate run leaves behind: a JSON record per run, and the latest one per layer.

Both live in the environment's artifacts storage (:mod:`edp.resources`, ``artifacts``):

| environment | per run | latest per layer |
| --- | --- | --- |
| ``local`` | ``<state dir>/quality/runs/<layer>/<finished>_<load id>.json`` | ``<state dir>/quality/latest/<layer>.json`` |
| ``aws`` | ``s3://<artifacts>/quality/runs/<layer>/...json`` | ``s3://<artifacts>/quality/latest/<layer>.json`` |

A record (``format: edp.quality_run/v1``) names the layer, the load and interval, whether the gate
passed, and per suite the rows checked and each failed expectation with its unexpected count and a few
identifying samples. The dashboard and ``make status`` read the latest records; one file per layer, so
the gates of a run (which run in parallel) never overwrite each other's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from edp.config import PlatformConfig

if TYPE_CHECKING:
    from edp.lake.storage import Storage

RECORD_FORMAT = "edp.quality_run/v1"
PREFIX = "quality"


def json_safe(value: Any) -> Any:
    """Plain JSON values from GX results (numpy scalars, timestamps, decimals, tuples)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)


def record_name(record: Mapping[str, Any]) -> str:
    finished = str(record["finished_at"]).replace(":", "").replace("-", "").replace("+0000", "Z")
    return f"{finished}_{record['load_id']}.json"


class RecordStore:
    """Records under ``<artifacts>/quality/``: one file per run and the latest per layer.

    :param storage: the environment's artifacts storage (local files locally, S3 on AWS); a local
        write replaces the file atomically, so readers never see half a record.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.location = storage.uri(PREFIX)

    def _write(self, uri: str, document: Mapping[str, Any]) -> str:
        return self.storage.write_bytes(uri, json.dumps(document, indent=2, sort_keys=True).encode())

    def write(self, record: Mapping[str, Any]) -> str:
        run = self._write(self.storage.uri(PREFIX, "runs", str(record["layer"]), record_name(record)), record)
        self._write(self.storage.uri(PREFIX, "latest", f"{record['layer']}.json"), {**record, "record": run})
        return run

    def latest(self) -> dict[str, dict[str, Any]]:
        """``{layer: record}`` of the newest run of each layer that has one."""
        found: dict[str, dict[str, Any]] = {}
        for uri in sorted(self.storage.list(self.storage.uri(PREFIX, "latest"))):
            if not uri.endswith(".json"):
                continue
            try:
                document = json.loads(self.storage.read_bytes(uri) or b"")
            except ValueError:
                continue
            if document.get("format") == RECORD_FORMAT:
                found[uri.rsplit("/", 1)[-1].removesuffix(".json")] = document
        return found


def record_store_for(config: PlatformConfig) -> RecordStore:
    """The records in the environment's artifacts storage."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping builds its storage lazily

    return RecordStore(resources(config).artifacts)


def latest_records(config: PlatformConfig) -> dict[str, dict[str, Any]]:
    """The newest record per layer (for the dashboard and ``make status``)."""
    return record_store_for(config).latest()
