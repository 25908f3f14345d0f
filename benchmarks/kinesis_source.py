"""Drain rate of the ``kinesis_local`` source into Delta, against raw boto3 GetRecords on the same stream.

Run: ``.venv/bin/python -m benchmarks.kinesis_source [--records 100000] [--record-bytes 1000]``.

Starts its own moto server on a free loopback port, prefills a stream with ~1 KB envelopes
(PutRecords, 500 per call: the put rate is measured too), then reads the whole stream three ways:

1. baseline: raw boto3 GetRecords loops over every shard (Limit 10000), no processing;
2. the source's reader alone (``KinesisStreamReader.read`` until caught up), no Spark;
3. the source in Spark: ``readStream.format("kinesis_local")`` -> Delta with Trigger.AvailableNow.

Spark's per-batch ``durationMs`` (latestOffset = the Python read, addBatch = Arrow hand-off plus
the Delta write) is printed to name where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

INCLUDE = str(Path(__file__).resolve().parents[1] / "include")
if INCLUDE not in sys.path:  # runnable as `python -m benchmarks.kinesis_source` without PYTHONPATH
    sys.path.insert(0, INCLUDE)

from edp.stream.kinesis_source import KinesisSourceOptions, KinesisStreamReader, register  # noqa: E402

STREAM = "bench-kinesis-source"
WARMUP_STREAM = "bench-kinesis-source-warmup"
WARMUP_RECORDS = 2_000
PUT_BATCH = 500
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    # the same endpoint `make run` starts: moto plus our sequence-number and concurrency fixes
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "edp_local.aws_endpoint.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("moto_server did not start within 60 s")


def envelope(n: int, size: int) -> bytes:
    """A JSON record shaped like the ingest Lambda's output, padded to about ``size`` bytes."""
    body = {
        "event": {"event_id": f"evt-{n:09d}", "event_type": "page_view", "user_id": f"user-{n % 997}"},
        "meta": {"request_id": f"req-{n // 50}", "source_app": "bench", "contract_version": "1"},
    }
    raw = json.dumps(body)
    body["event"]["properties"] = {"padding": "x" * max(0, size - len(raw) - 30)}
    return json.dumps(body).encode()


def prefill(client: Any, records: int, size: int, stream: str = STREAM) -> tuple[list[float], int]:
    """Put ``records`` envelopes into ``stream``, 500 per PutRecords call; return (seconds per call, bytes)."""
    total_bytes = 0
    call_seconds: list[float] = []
    for first in range(0, records, PUT_BATCH):
        entries = [
            {"PartitionKey": f"user-{n % 997}", "Data": envelope(n, size)}
            for n in range(first, min(first + PUT_BATCH, records))
        ]
        total_bytes += sum(len(e["Data"]) for e in entries)
        started = time.perf_counter()
        response = client.put_records(StreamName=stream, Records=entries)
        call_seconds.append(time.perf_counter() - started)
        if response["FailedRecordCount"]:
            raise RuntimeError(f"{response['FailedRecordCount']} records failed to put")
    return call_seconds, total_bytes


def put_rate_note(call_seconds: list[float], total_bytes: int) -> str:
    """MB/s overall, and records/s of the first and last tenth of the calls (moto slows as a shard grows)."""
    tenth = max(1, len(call_seconds) // 10)
    first, last = sum(call_seconds[:tenth]), sum(call_seconds[-tenth:])
    return (
        f"{total_bytes / sum(call_seconds) / 1e6:.1f} MB/s; first tenth {tenth * PUT_BATCH / first:,.0f}/s, "
        f"last tenth {tenth * PUT_BATCH / last:,.0f}/s"
    )


def raw_get_records(client: Any) -> tuple[float, int]:
    """Baseline: every record of every shard through plain GetRecords; return (seconds, records)."""
    started, count = time.perf_counter(), 0
    for shard in client.list_shards(StreamName=STREAM)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            count += len(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return time.perf_counter() - started, count


def reader_alone(endpoint: str, max_records: int) -> tuple[float, int, int]:
    """The source's reader without Spark; return (seconds, records, reads)."""
    options = KinesisSourceOptions.from_options(
        {
            "streamName": STREAM,
            "endpointUrl": endpoint,
            "maxRecordsPerShard": str(max_records),
            "awsAccessKey": "bench",
            "awsSecretKey": "bench",
        }
    )
    reader = KinesisStreamReader(options)
    started, count, reads = time.perf_counter(), 0, 0
    offset = reader.initialOffset()
    while True:
        rows, end = reader.read(offset)
        reads += 1
        count += sum(1 for _ in rows)
        if end == offset:
            return time.perf_counter() - started, count, reads
        offset = end


def spark_drain(
    endpoint: str, max_records: int, workdir: Path, stream: str = STREAM
) -> tuple[float, int, list[dict[str, Any]]]:
    """The source in Spark into Delta (availableNow); return (seconds, rows in table, batch progress)."""
    from edp.spark_runtime.session import get_spark

    spark = get_spark("benchmark-kinesis-source")
    register(spark)
    df = (
        spark.readStream.format("kinesis_local")
        .option("streamName", stream)
        .option("endpointUrl", endpoint)
        .option("awsAccessKey", "bench")
        .option("awsSecretKey", "bench")
        .option("maxRecordsPerShard", str(max_records))
        .option("metricsPath", str(workdir / "lag.json"))
        .load()
    )
    table = workdir / f"bronze-{stream}-{max_records}"
    started = time.perf_counter()
    query = (
        df.writeStream.format("delta")
        .option("checkpointLocation", str(workdir / f"checkpoint-{stream}-{max_records}"))
        .trigger(availableNow=True)
        .start(str(table))
    )
    query.awaitTermination()
    elapsed = time.perf_counter() - started
    if query.exception() is not None:
        raise RuntimeError(str(query.exception()))
    rows = spark.read.format("delta").load(str(table)).count()
    return elapsed, rows, list(query.recentProgress)


def duration_totals(progress: list[dict[str, Any]]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for batch in progress:
        totals.update({k: v for k, v in batch.get("durationMs", {}).items() if isinstance(v, int)})
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--record-bytes", type=int, default=1_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--max-records-per-shard", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-kinesis-") as tmp:
        workdir = Path(tmp)
        moto, endpoint = start_moto(workdir / "moto.log")
        try:
            client = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
            for stream in (STREAM, WARMUP_STREAM):
                client.create_stream(StreamName=stream, ShardCount=args.shards)
                client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
            put_calls, put_bytes = prefill(client, args.records, args.record_bytes)
            raw_s, raw_n = raw_get_records(client)
            rows: list[tuple[str, int, float, str]] = [
                (
                    "PutRecords (500/call), prefill",
                    args.records,
                    sum(put_calls),
                    put_rate_note(put_calls, put_bytes),
                ),
                ("baseline: raw boto3 GetRecords", raw_n, raw_s, "Limit 10000, shards in sequence"),
            ]
            for max_records in args.max_records_per_shard:
                seconds, count, reads = reader_alone(endpoint, max_records)
                rows.append(
                    (f"reader alone, maxRecordsPerShard={max_records}", count, seconds, f"{reads} reads")
                )
            # Start the JVM and warm the Delta write path, so the first measured run is not penalised.
            prefill(client, WARMUP_RECORDS, args.record_bytes, WARMUP_STREAM)
            spark_drain(endpoint, WARMUP_RECORDS, workdir, WARMUP_STREAM)
            breakdowns = []
            for max_records in args.max_records_per_shard:
                seconds, count, progress = spark_drain(endpoint, max_records, workdir)
                totals = duration_totals(progress)
                batches = sum(1 for p in progress if p["numInputRows"])
                note = (
                    f"{batches} batches; latestOffset {totals['latestOffset'] / 1000:.1f} s, "
                    f"addBatch {totals['addBatch'] / 1000:.1f} s"
                )
                rows.append((f"Spark -> Delta, maxRecordsPerShard={max_records}", count, seconds, note))
                breakdowns.append((max_records, totals))
        finally:
            moto.terminate()
            moto.wait(timeout=30)

    print(
        f"\n### kinesis_local source: {args.records} records of ~{args.record_bytes} B, "
        f"{args.shards} shards, moto server; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| measurement | records | seconds | records/s | notes |")
    print("|---|---:|---:|---:|---|")
    for name, count, seconds, note in rows:
        print(f"| {name} | {count} | {seconds:.2f} | {count / seconds:,.0f} | {note} |")
    for max_records, totals in breakdowns:
        parts = ", ".join(f"{k} {v / 1000:.1f} s" for k, v in totals.most_common())
        print(f"\nSpark durationMs totals, maxRecordsPerShard={max_records}: {parts}")


if __name__ == "__main__":
    main()
