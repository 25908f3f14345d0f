"""When silver last changed: the newest commit in a Delta table's ``_delta_log``, read without Spark.

A Delta commit is ``_delta_log/<20-digit version>.json``; its ``commitInfo`` action carries the commit
time in epoch milliseconds. Only the newest commit file is read, and the listing starts after the
version named by ``_last_checkpoint`` when there is one, so the cost stays flat as the log grows
(on S3 a listing of a whole long log would be pages of keys). Local paths use the file system,
``s3://`` URIs an S3 client (the Airflow AWS connection's, in tasks).
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DELTA_LOG = "_delta_log"
LAST_CHECKPOINT = "_last_checkpoint"
_COMMIT = re.compile(r"^(\d{20})\.json$")


def commit_time_from_log_lines(text: str) -> datetime | None:
    """``commitInfo.timestamp`` of one commit file, or ``None`` if it has none (older writers)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            action = json.loads(line)
        except ValueError:
            continue
        info = action.get("commitInfo") if isinstance(action, dict) else None
        if isinstance(info, dict) and isinstance(info.get("timestamp"), int | float):
            return datetime.fromtimestamp(info["timestamp"] / 1000, tz=UTC)
    return None


def newest_commit_name(names: list[str]) -> str | None:
    """The highest-versioned commit file among ``names`` (file names, not paths)."""
    commits = [name for name in names if _COMMIT.match(name)]
    return max(commits) if commits else None  # zero-padded: lexical order is version order


def _checkpoint_version(text: str) -> int | None:
    try:
        version = json.loads(text).get("version")
    except (ValueError, AttributeError):
        return None
    return int(version) if isinstance(version, int) else None


def local_newest_commit(table_path: str | os.PathLike[str]) -> datetime | None:
    """Newest commit time of the Delta table at a local path; ``None`` if it is not a Delta table yet."""
    log_dir = Path(table_path) / DELTA_LOG
    try:
        names = [entry.name for entry in os.scandir(log_dir) if entry.is_file()]
    except FileNotFoundError:
        return None
    newest = newest_commit_name(names)
    if newest is None:
        return None
    path = log_dir / newest
    try:
        committed = commit_time_from_log_lines(path.read_text())
        return committed or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except FileNotFoundError:  # cleaned up between listing and reading: a newer one exists, look again
        return local_newest_commit(table_path)


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").removeprefix("s3a://").partition("/")
    return bucket, key.rstrip("/")


def s3_newest_commit(table_uri: str, client: Any) -> datetime | None:
    """Newest commit time of the Delta table at an ``s3://`` URI, with a boto3 S3 ``client``."""
    bucket, key = _split_s3(table_uri)
    prefix = f"{key}/{DELTA_LOG}/"
    start_after = prefix
    try:
        body = client.get_object(Bucket=bucket, Key=prefix + LAST_CHECKPOINT)["Body"].read()
        version = _checkpoint_version(body.decode())
        if version is not None:
            # Commits after the checkpoint sort after this key; the checkpoint's own commit may be gone.
            start_after = prefix + f"{version:020d}"
    except client.exceptions.NoSuchKey:
        pass
    newest: tuple[str, datetime] | None = None
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, StartAfter=start_after
    ):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            if _COMMIT.match(name) and (newest is None or name > newest[0]):
                newest = (name, item["LastModified"])
    if newest is None:
        return None
    text = client.get_object(Bucket=bucket, Key=prefix + newest[0])["Body"].read().decode()
    return commit_time_from_log_lines(text) or newest[1].astimezone(UTC)


def newest_commit(table_uri: str, *, s3_client: Any = None) -> datetime | None:
    """Newest commit time of a Delta table at a local path or ``s3://`` URI (``s3_client`` required)."""
    if table_uri.startswith(("s3://", "s3a://")):
        if s3_client is None:
            raise ValueError(f"reading {table_uri} needs an S3 client")
        return s3_newest_commit(table_uri, s3_client)
    return local_newest_commit(table_uri)
