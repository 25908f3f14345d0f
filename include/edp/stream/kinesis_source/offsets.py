"""The source's offset: the last sequence number read per shard, as Spark checkpoints it.

JSON form (what the checkpoint's ``offsets/<batch>`` files hold for this source)::

    {"shards": {"shardId-000000000000": "4963...", "shardId-000000000001": null}}
    {"shards": {...}, "initialTimestampMs": 1767225600000}   # initialPosition=latest only

A sequence number means "resume AFTER this record"; ``null`` means "nothing read yet: start at the
initial position"; a shard missing from the offset (one that appeared since) starts at TRIM_HORIZON.
``latest`` is pinned to the wall-clock time of the query's first offset (``initialTimestampMs``,
read with AT_TIMESTAMP), so a replay of the first batch reads the same records as the first run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

SHARDS_KEY = "shards"
INITIAL_TIMESTAMP_KEY = "initialTimestampMs"


@dataclasses.dataclass(frozen=True)
class KinesisOffset:
    """Per-shard resume points; ``to_dict`` sorts shards so equal offsets serialise equally."""

    shards: Mapping[str, str | None]
    initial_timestamp_ms: int | None = None

    @classmethod
    def from_dict(cls, offset: Mapping[str, Any]) -> KinesisOffset:
        shards = offset.get(SHARDS_KEY)
        if not isinstance(shards, Mapping):
            raise ValueError(f"not a kinesis_local offset (no {SHARDS_KEY!r} map): {offset!r}")
        anchor = offset.get(INITIAL_TIMESTAMP_KEY)
        return cls(
            shards={str(k): (None if v is None else str(v)) for k, v in shards.items()},
            initial_timestamp_ms=None if anchor is None else int(anchor),
        )

    def to_dict(self) -> dict[str, Any]:
        offset: dict[str, Any] = {SHARDS_KEY: {k: self.shards[k] for k in sorted(self.shards)}}
        if self.initial_timestamp_ms is not None:
            offset[INITIAL_TIMESTAMP_KEY] = self.initial_timestamp_ms
        return offset
