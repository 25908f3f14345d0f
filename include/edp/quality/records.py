"""What every quality gate run leaves behind: a JSON record per run, and the latest one per layer.

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
import os
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from edp.config import PlatformConfig
from edp.quality.context import quality_state_dir

RECORD_FORMAT = "edp.quality_run/v1"
S3_PREFIX = "quality"


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


class RecordStore(Protocol):
    location: str

    def write(self, record: Mapping[str, Any]) -> str: ...


class FileRecordStore:
    """Records under ``<state dir>/quality`` (written atomically: readers never see half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def _write(self, path: Path, document: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True))
        os.replace(tmp, path)

    def write(self, record: Mapping[str, Any]) -> str:
        path = self.root / "runs" / str(record["layer"]) / record_name(record)
        self._write(path, record)
        self._write(self.root / "latest" / f"{record['layer']}.json", {**record, "record": str(path)})
        return str(path)

    def latest(self) -> dict[str, dict[str, Any]]:
        """``{layer: record}`` of the newest run of each layer that has one."""
        found: dict[str, dict[str, Any]] = {}
        for path in sorted((self.root / "latest").glob("*.json")):
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if document.get("format") == RECORD_FORMAT:
                found[path.stem] = document
        return found


class S3RecordStore:
    """Records under ``s3://<bucket>/quality/`` (task time only: it uses the Airflow AWS connection)."""

    def __init__(self, bucket: str, aws_conn_id: str) -> None:
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id
        self.location = f"s3://{bucket}/{S3_PREFIX}"

    def write(self, record: Mapping[str, Any]) -> str:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: PLC0415 - aws only

        hook = S3Hook(aws_conn_id=self.aws_conn_id)
        key = f"{S3_PREFIX}/runs/{record['layer']}/{record_name(record)}"
        hook.load_string(json.dumps(record, sort_keys=True), key=key, bucket_name=self.bucket, replace=True)
        latest = {**record, "record": f"s3://{self.bucket}/{key}"}
        hook.load_string(
            json.dumps(latest, sort_keys=True),
            key=f"{S3_PREFIX}/latest/{record['layer']}.json",
            bucket_name=self.bucket,
            replace=True,
        )
        return f"s3://{self.bucket}/{key}"


def record_store_for(config: PlatformConfig) -> RecordStore:
    if config.is_local:
        return FileRecordStore(quality_state_dir(config))
    return S3RecordStore(config.artifacts_bucket, config.connections.aws)


def latest_records(config: PlatformConfig) -> dict[str, dict[str, Any]]:
    """The newest local record per layer (for the local dashboard and ``make status``)."""
    return FileRecordStore(quality_state_dir(config)).latest()
