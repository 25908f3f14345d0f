"""One load run: plan, send, summarise, and record the ids that must reach the stream."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from edp.batch.seeds.catalog import load_catalog
from edp_local.load_generator.plan import EventPlan, PlannedEvent, PlanOptions
from edp_local.load_generator.sender import Sender, SendOptions, SendStats, percentile


@dataclasses.dataclass
class PlanTally:
    """What the plan actually sent, counted as it streams by."""

    generated: int = 0
    duplicates: int = 0
    late: int = 0
    out_of_order: int = 0
    invalid: Counter = dataclasses.field(default_factory=Counter)
    event_types: Counter = dataclasses.field(default_factory=Counter)
    platforms: Counter = dataclasses.field(default_factory=Counter)
    expected_ids: dict[str, None] = dataclasses.field(default_factory=dict)  # ordered set
    track_ids: bool = True  # False for endless runs: the ids would grow without bound

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())

    def watch(self, planned: Iterator[PlannedEvent]) -> Iterator[PlannedEvent]:
        for item in planned:
            if item.duplicate:
                self.duplicates += 1
            else:
                self._count_original(item)
            yield item

    def _count_original(self, item: PlannedEvent) -> None:
        self.generated += 1
        self.late += item.late
        self.out_of_order += item.out_of_order
        if item.valid:
            self.event_types[item.payload["event_type"]] += 1
            self.platforms[item.payload["device"]["platform"]] += 1
            if self.track_ids:
                self.expected_ids[item.payload["event_id"]] = None
        else:
            self.invalid[item.invalid_kind] += 1


def build_plan(options: PlanOptions, seed: int | None) -> EventPlan:
    return EventPlan(options, load_catalog(), rng=random.Random(seed), clock=lambda: datetime.now(tz=UTC))


async def _send(plan: EventPlan, tally: PlanTally, options: SendOptions) -> SendStats:
    limits = httpx.Limits(
        max_connections=options.max_in_flight, max_keepalive_connections=options.max_in_flight
    )
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        return await Sender(options, client).run(tally.watch(iter(plan)))


def run_load(
    plan_options: PlanOptions, send_options: SendOptions, *, seed: int | None, expected_ids_file: Path | None
) -> dict[str, Any]:
    """Run the whole load and return the JSON summary; writes the expected ids if asked."""
    tally = PlanTally()
    stats = asyncio.run(_send(build_plan(plan_options, seed), tally, send_options))
    if expected_ids_file is not None:
        expected_ids_file.parent.mkdir(parents=True, exist_ok=True)
        expected_ids_file.write_text("".join(f"{event_id}\n" for event_id in tally.expected_ids))
    return summary(tally, stats, send_options, expected_ids_file)


def summary(
    tally: PlanTally, stats: SendStats, options: SendOptions, expected_ids_file: Path | None
) -> dict[str, Any]:
    elapsed = stats.elapsed_s or 1e-9
    return {
        "endpoint": options.events_url,
        "generated": tally.generated,
        "sent": stats.sent_events,
        "requests": stats.requests,
        "accepted": stats.accepted,
        "rejected": stats.rejected,
        "duplicates": tally.duplicates,
        "duplicates_reported_by_api": stats.duplicates_reported,
        "late": tally.late,
        "out_of_order": tally.out_of_order,
        "invalid": dict(sorted(tally.invalid.items())),
        "valid_by_type": dict(sorted(tally.event_types.items())),
        "valid_by_platform": dict(sorted(tally.platforms.items())),
        "http_status_counts": dict(sorted(stats.status_counts.items())),
        "retries": stats.retries,
        "failed_requests": stats.failed_requests,
        "latency_ms": {
            "p50": round(percentile(stats.latencies_ms, 50), 2),
            "p99": round(percentile(stats.latencies_ms, 99), 2),
            "max": round(max(stats.latencies_ms, default=0.0), 2),
        },
        "elapsed_s": round(stats.elapsed_s, 3),
        "offered_rate_events_per_s": options.rate,
        "achieved_events_per_s": round(stats.sent_events / elapsed, 1),
        "expected_valid_unique": len(tally.expected_ids),
        "valid_not_accepted": len(set(tally.expected_ids) - stats.accepted_ids),
        "expected_ids_file": str(expected_ids_file) if expected_ids_file else None,
    }
