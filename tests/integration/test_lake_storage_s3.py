"""The S3 twin of the storage layer against a real S3 endpoint (the moto server): files through pyarrow.fs,
quality records, and the newest Delta commit read with delta-rs, with the credentials it is given."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import boto3
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from edp.lake.delta_log import newest_commit
from edp.lake.storage import AwsCredentials, S3Storage
from edp.quality.records import RECORD_FORMAT, RecordStore

pytestmark = pytest.mark.integration

REGION = "us-east-1"


@pytest.fixture
def bucket(moto_server: str) -> str:
    name = f"it-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture
def storage(moto_server: str, bucket: str) -> S3Storage:
    return S3Storage(
        f"s3://{bucket}", lambda: AwsCredentials("testing", "testing", None, moto_server), region=REGION
    )


def test_s3_storage_writes_reads_and_lists_objects(storage: S3Storage) -> None:
    uri = storage.uri("quality", "latest", "gold.json")
    assert storage.write_bytes(uri, b'{"a": 1}') == uri
    assert storage.read_bytes(uri) == b'{"a": 1}'
    assert storage.read_bytes(storage.uri("quality", "latest", "missing.json")) is None
    assert list(storage.list(storage.uri("quality", "latest"))) == [uri]
    assert list(storage.list(storage.uri("nothing", "here"))) == []


def test_quality_records_go_to_the_artifacts_bucket_and_the_latest_reads_back(storage: S3Storage) -> None:
    store = RecordStore(storage)
    record = {
        "format": RECORD_FORMAT,
        "layer": "gold",
        "load_id": "l1",
        "success": True,
        "finished_at": "2025-06-02T00:05:00+00:00",
    }
    location = store.write(record)
    assert location == f"{storage.root}/quality/runs/gold/20250602T000500Z_l1.json"
    assert json.loads(storage.read_bytes(location)) == record
    assert store.latest() == {"gold": {**record, "record": location}}


def test_newest_commit_of_a_delta_table_on_s3(storage: S3Storage) -> None:
    table = storage.uri("lake", "silver", "events")
    options = {**storage.storage_options(), "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}  # one writer here
    assert newest_commit(table, storage) is None
    for _ in range(3):
        write_deltalake(
            table, pa.table({"event_id": pa.array(["e"])}), mode="append", storage_options=options
        )
    latest = DeltaTable(table, storage_options=options).history(limit=1)[0]
    assert latest["version"] == 2
    assert newest_commit(table, storage) == datetime.fromtimestamp(latest["timestamp"] / 1000, tz=UTC)
