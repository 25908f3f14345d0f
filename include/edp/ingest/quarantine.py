"""Quarantine sink: JSON Lines of rejected or unwritten events, on local disk or in S3 (twins).

Layout under the lake's quarantine root: ``ingest/ingest_date=YYYY-MM-DD/<request_id>.jsonl``, a
Hive-style partition that Athena, DuckDB and Spark can query directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class QuarantineSink(Protocol):
    def write(self, relative_key: str, lines: Sequence[bytes]) -> str:
        """Store the lines under ``relative_key`` and return the full location."""
        ...


def quarantine_key(ingest_date: str, request_id: str) -> str:
    """The object key of one request's quarantine file, with the request id made path-safe."""
    return f"ingest/ingest_date={ingest_date}/{_UNSAFE.sub('_', request_id)[:128] or 'request'}.jsonl"


class LocalQuarantine:
    """Files under a local directory (the local platform's ``data/lake/quarantine``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def write(self, relative_key: str, lines: Sequence[bytes]) -> str:
        path = self.root / relative_key
        path.parent.mkdir(parents=True, exist_ok=True)
        # append: a replayed request id adds lines instead of overwriting earlier ones
        with path.open("ab") as handle:
            handle.write(b"".join(line + b"\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())
        return str(path)


class S3Quarantine:
    """Objects under ``s3://bucket/prefix`` (the lake bucket in AWS)."""

    def __init__(self, uri: str, client: Any = None, region: str | None = None) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client
        self._region = region

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 - created on the first quarantined event, once per container

            self._client = boto3.client("s3", region_name=self._region)
        return self._client

    def write(self, relative_key: str, lines: Sequence[bytes]) -> str:
        key = f"{self.prefix}/{relative_key}" if self.prefix else relative_key
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=b"".join(line + b"\n" for line in lines),
            ContentType="application/x-ndjson",
        )
        return f"s3://{self.bucket}/{key}"


def quarantine_sink_for(root: str, region: str | None = None) -> QuarantineSink:
    """S3 when the lake root is ``s3://``, the local filesystem otherwise."""
    if root.startswith("s3://"):
        return S3Quarantine(root, region=region)
    return LocalQuarantine(root)
