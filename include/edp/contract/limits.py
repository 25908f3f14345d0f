"""Numeric limits of the ingest contract, shared by the Lambda, the local gateway and the OpenAPI spec.

Timestamps: an event's ``occurred_at`` must lie within
``[received_at - MAX_EVENT_AGE, received_at + MAX_CLOCK_SKEW]``. Mobile SDKs queue events offline, so
events may legitimately arrive days late; 30 days keeps late data inside the window the batch
compaction still rewrites. Client clocks drift, so up to 24 hours in the future is tolerated; anything
further is a broken clock and would pollute daily partitions.
"""

from __future__ import annotations

from datetime import timedelta

MAX_CLOCK_SKEW = timedelta(hours=24)
MAX_EVENT_AGE = timedelta(days=30)

MAX_BATCH_EVENTS = 500  # matches Kinesis PutRecords' 500-record limit
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB request body (API Gateway itself allows 10 MB)
MAX_EVENT_BYTES = 32 * 1024  # one serialised event; a realistic event is ~1 KB
