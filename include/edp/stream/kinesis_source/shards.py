"""boto3 access to one Kinesis stream: shard listing, and bounded GetRecords loops that retry.

Everything here runs inside Spark's Python workers (or a test), never at import: the boto3 client
is created on first use, and the whole object pickles without it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

from edp.stream.kinesis_source.options import KinesisSourceOptions

GET_RECORDS_LIMIT = 10_000  # the API's maximum per call
# While MillisBehindLatest > 0, Kinesis may return empty pages over gaps in a shard; follow a few.
MAX_EMPTY_PAGES_WHILE_BEHIND = 10
RETRY_ATTEMPTS = 8
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 5.0
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException"}
)
TRANSIENT_CODES = frozenset({"InternalFailure", "ServiceUnavailable", "KMSThrottlingException"})
EXPIRED_ITERATOR = "ExpiredIteratorException"

Row = tuple[str, bytes, str, str, str, dt.datetime]


@dataclasses.dataclass(frozen=True)
class StartPosition:
    """Where a shard read begins: after a sequence number, at the trim horizon, or at a timestamp."""

    after_sequence_number: str | None = None
    at_timestamp_ms: int | None = None

    def iterator_kwargs(self) -> dict[str, Any]:
        if self.after_sequence_number is not None:
            return {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": self.after_sequence_number,
            }
        if self.at_timestamp_ms is not None:
            return {
                "ShardIteratorType": "AT_TIMESTAMP",
                "Timestamp": dt.datetime.fromtimestamp(self.at_timestamp_ms / 1000, tz=dt.UTC),
            }
        return {"ShardIteratorType": "TRIM_HORIZON"}

    def after(self, sequence_number: str | None) -> StartPosition:
        """This position moved past ``sequence_number`` (unchanged for ``None``)."""
        return self if sequence_number is None else StartPosition(after_sequence_number=sequence_number)


@dataclasses.dataclass(frozen=True)
class ReadBounds:
    """When a shard read stops, besides reaching the end of the shard's data.

    :param max_records: admission control; ``None`` for no limit.
    :param until_sequence_number: replay: stop after this record (inclusive), which must be reached.
    :param arrival_cutoff_ms: Trigger.AvailableNow: ignore records that arrived after this time.
    """

    max_records: int | None = None
    until_sequence_number: str | None = None
    arrival_cutoff_ms: int | None = None


@dataclasses.dataclass
class ShardRead:
    """Records read from one shard by one call of :meth:`KinesisShards.read_shard`, and lag facts."""

    shard_id: str
    rows: list[Row] = dataclasses.field(default_factory=list)
    last_sequence_number: str | None = None
    millis_behind_latest: int | None = None
    newest_arrival: dt.datetime | None = None
    get_records_calls: int = 0
    done: bool = False

    def take(self, records: list[dict[str, Any]], stream: str, bounds: ReadBounds) -> None:
        """Append ``records`` in shard order, marking the read done when a bound is met."""
        until = int(bounds.until_sequence_number) if bounds.until_sequence_number is not None else None
        for record in records:
            # botocore parses it in the local zone; the schema's instants are compared in UTC.
            arrival = record["ApproximateArrivalTimestamp"].astimezone(dt.UTC)
            if bounds.arrival_cutoff_ms is not None and _epoch_ms(arrival) > bounds.arrival_cutoff_ms:
                self.done = True
                return
            sequence_number: str = record["SequenceNumber"]
            if until is not None and int(sequence_number) > until:
                self.done = True
                return
            self.rows.append(
                (
                    record["PartitionKey"],
                    bytes(record["Data"]),
                    stream,
                    self.shard_id,
                    sequence_number,
                    arrival,
                )
            )
            self.last_sequence_number = sequence_number
            if self.newest_arrival is None or arrival > self.newest_arrival:
                self.newest_arrival = arrival
            if until is not None and int(sequence_number) == until:
                self.done = True
                return
            if bounds.max_records is not None and len(self.rows) >= bounds.max_records:
                self.done = True
                return

    def page_limit(self, bounds: ReadBounds) -> int:
        if bounds.max_records is None:
            return GET_RECORDS_LIMIT
        return max(1, min(GET_RECORDS_LIMIT, bounds.max_records - len(self.rows)))


def _epoch_ms(timestamp: dt.datetime) -> int:
    return int(timestamp.timestamp() * 1000)


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class KinesisShards:
    """Shard listing and reading for one stream, with backoff on throttling and expired iterators.

    :param options: the source options (stream, region, endpoint, credentials).
    :param client: a boto3 Kinesis client to use instead of creating one (tests).
    :param sleep: how to wait between retries (tests pass a recorder).
    """

    def __init__(
        self,
        options: KinesisSourceOptions,
        *,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self._client = client
        self._sleep = sleep

    def __getstate__(self) -> dict[str, Any]:
        # A boto3 client does not pickle; each Python worker creates its own.
        return {**self.__dict__, "_client": None}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 - only in the worker that reads, never at import
            from botocore.config import Config  # noqa: PLC0415

            credentials: dict[str, str] = {}
            if self.options.aws_access_key and self.options.aws_secret_key:
                credentials = {
                    "aws_access_key_id": self.options.aws_access_key,
                    "aws_secret_access_key": self.options.aws_secret_key,
                }
            self._client = boto3.session.Session().client(
                "kinesis",
                region_name=self.options.region,
                endpoint_url=self.options.endpoint_url,
                # One attempt per call: _call owns retries, so backoff is in one place.
                config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60),
                **credentials,
            )
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Call a Kinesis API, retrying throttling and transient failures with jittered backoff."""
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError  # noqa: PLC0415

        for attempt in range(RETRY_ATTEMPTS):
            try:
                return getattr(self.client, operation)(**kwargs)
            except ClientError as error:
                if (
                    _error_code(error) not in THROTTLING_CODES | TRANSIENT_CODES
                    or attempt == RETRY_ATTEMPTS - 1
                ):
                    raise
            except (ConnectionError, HTTPClientError):
                if attempt == RETRY_ATTEMPTS - 1:
                    raise
            self._sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def list_shard_ids(self) -> list[str]:
        """Ids of every shard ListShards reports (open and closed, within retention), sorted."""
        shard_ids: list[str] = []
        page = self._call("list_shards", StreamName=self.options.stream_name)
        while True:
            shard_ids.extend(shard["ShardId"] for shard in page.get("Shards", []))
            token = page.get("NextToken")
            if not token:
                return sorted(shard_ids)
            page = self._call("list_shards", NextToken=token)

    def _iterator(self, shard_id: str, position: StartPosition) -> str | None:
        response = self._call(
            "get_shard_iterator",
            StreamName=self.options.stream_name,
            ShardId=shard_id,
            **position.iterator_kwargs(),
        )
        return response.get("ShardIterator")

    def _get_records(self, iterator: str, limit: int) -> dict[str, Any] | None:
        """One GetRecords page, or ``None`` when the iterator expired (the caller re-acquires one)."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            return self._call("get_records", ShardIterator=iterator, Limit=limit)
        except ClientError as error:
            if _error_code(error) == EXPIRED_ITERATOR:
                return None
            raise

    def read_shard(self, shard_id: str, start: StartPosition, bounds: ReadBounds) -> ShardRead:
        """Read ``shard_id`` from ``start`` in order until a bound is met or the shard is caught up.

        Caught up means a short page (fewer records than asked for) with MillisBehindLatest == 0,
        an empty page when the lag is unknown (or a few empty pages in a row while behind), or the
        end of a closed shard.
        A replay (``bounds.until_sequence_number``) must reach its last record, or it raises.
        """
        read = ShardRead(shard_id)
        iterator = self._iterator(shard_id, start)
        empty_pages = expirations = 0
        while iterator is not None and not read.done:
            limit = read.page_limit(bounds)
            page = self._get_records(iterator, limit)
            if page is None:
                expirations += 1
                if expirations > RETRY_ATTEMPTS:
                    raise RuntimeError(f"shard {shard_id}: shard iterators keep expiring")
                self._sleep(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**expirations))
                iterator = self._iterator(shard_id, start.after(read.last_sequence_number))
                continue
            read.get_records_calls += 1
            records = page.get("Records", [])
            read.take(records, self.options.stream_name, bounds)
            read.millis_behind_latest = page.get("MillisBehindLatest")
            iterator = page.get("NextShardIterator")
            empty_pages = 0 if records else empty_pages + 1
            if read.done or self._caught_up(read, len(records), limit, empty_pages, bounds):
                break
        if (
            bounds.until_sequence_number is not None
            and read.last_sequence_number != bounds.until_sequence_number
        ):
            raise RuntimeError(
                f"shard {shard_id}: replay ended at {read.last_sequence_number} before its end offset "
                f"{bounds.until_sequence_number} (records past retention?)"
            )
        return read

    @staticmethod
    def _caught_up(read: ShardRead, fetched: int, limit: int, empty_pages: int, bounds: ReadBounds) -> bool:
        """Whether the page just read was the shard's tip (no further GetRecords in this read)."""
        if fetched == limit:
            # A full page: MillisBehindLatest is a time difference, 0 when the rest arrived in the
            # same millisecond (moto says 0 that way too), so only a short page proves the tip.
            return False
        if read.millis_behind_latest == 0 or (fetched == 0 and read.millis_behind_latest is None):
            return True
        if fetched:
            return False
        # A replay knows its last record exists, so it follows empty pages for as long as it is behind.
        return bounds.until_sequence_number is None and empty_pages >= MAX_EMPTY_PAGES_WHILE_BEHIND
