"""Sizing as code: a target event rate becomes shard count, Lambda and API Gateway limits, Databricks
workers and Redshift base capacity, each checked against the documented limits in :mod:`edp_infra.limits`.

Per-core throughputs are this repository's measurements (docs/benchmarks.md, 2-core reference machine):

* ingest handler with its real botocore client: 28,980 events/s per core (34.5 µs per event);
* streaming job into silver: 150 µs per event on ``local[2]`` (fitted: 3.8 s fixed per micro-batch plus
  150 µs per event), i.e. about 3,300 events/s per core once the per-batch cost is amortised.

``python -m edp_infra.sizing`` prints the docs/scaling.md table (a unit test keeps the two equal).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence

from edp_infra import limits
from edp_infra.cost import monthly_cost

# ---- measured (docs/benchmarks.md) -------------------------------------------------------------------
HANDLER_US_PER_EVENT = 34.5  # full handler with its real botocore client, per core
STREAM_EVENTS_PER_CORE_S = 1_000_000 / 150 / 2  # 150 µs per event on local[2]: ~3,333 events/s per core
ENVELOPE_OVERHEAD_BYTES = 433  # 1,294 B per Kinesis record for a mean event of 861 B

# ---- assumptions (stated in docs/scaling.md) ---------------------------------------------------------
PUT_RECORDS_RTT_S = 0.025  # one PutRecords round trip from Lambda, same Region
LAMBDA_MEMORY_MB = 1024
SHARD_UTILISATION = 0.8  # partition keys are user ids: leave room for uneven shards
LAMBDA_HEADROOM = 1.5
APIGW_HEADROOM = 1.5
STREAM_UTILISATION = 0.5  # the job must drain a backlog at twice the live rate after a restart
DATABRICKS_WORKER_CORES = 4  # i3.xlarge
EVENTS_PER_RPU_STEP = 250_000  # events/s served by each 8 RPUs of base capacity (gold loads hourly)


class SizingError(ValueError):
    """The target rate is not a rate the model can size (non-positive, or a record over the limits)."""


@dataclasses.dataclass(frozen=True)
class TargetRate:
    """What the platform must sustain.

    :param events_per_s: steady ingest rate.
    :param mean_event_bytes: mean size of one event as the apps send it.
    :param events_per_request: mean batch size of one API request (the contract allows 1 to 500).
    """

    events_per_s: float
    mean_event_bytes: int = 1_000
    events_per_request: int = 25

    def __post_init__(self) -> None:
        if self.events_per_s <= 0 or self.mean_event_bytes <= 0:
            raise SizingError("events_per_s and mean_event_bytes must be positive")
        if not 1 <= self.events_per_request <= limits.KINESIS_PUT_RECORDS_MAX_RECORDS:
            raise SizingError("events_per_request must be between 1 and 500 (the API's batch limit)")

    @property
    def record_bytes(self) -> int:
        """One Kinesis record: the event plus the handler's envelope (received_at, request id, app...)."""
        return self.mean_event_bytes + ENVELOPE_OVERHEAD_BYTES

    @property
    def requests_per_s(self) -> float:
        return self.events_per_s / self.events_per_request


@dataclasses.dataclass(frozen=True)
class CapacityPlan:
    """The sizes the CDK app and the bundle deploy for one :class:`TargetRate`, and what limits them."""

    target: TargetRate
    shards: int
    lambda_reserved_concurrency: int
    lambda_memory_mb: int
    lambda_duration_s: float
    api_rate_limit: int
    api_burst_limit: int
    databricks_workers: int
    databricks_worker_cores: int
    redshift_base_rpu: int
    bottleneck: str
    quota_increases: tuple[str, ...]

    @property
    def shard_bound(self) -> str:
        """Which per-shard write limit sets the shard count: records or bytes."""
        by_records = self.target.events_per_s / limits.KINESIS_SHARD_WRITE_RECORDS_PER_S
        by_bytes = (
            self.target.events_per_s * self.target.record_bytes / limits.KINESIS_SHARD_WRITE_BYTES_PER_S
        )
        return "records/s" if by_records >= by_bytes else "MB/s"


def kinesis_shards(target: TargetRate) -> int:
    """Shards so that neither 1,000 records/s nor 1 MiB/s per shard is exceeded at the utilisation target."""
    if target.record_bytes > limits.KINESIS_SHARD_WRITE_BYTES_PER_S:
        raise SizingError("a record over 1 MiB cannot be written to Kinesis")
    by_records = target.events_per_s / limits.KINESIS_SHARD_WRITE_RECORDS_PER_S
    by_bytes = target.events_per_s * target.record_bytes / limits.KINESIS_SHARD_WRITE_BYTES_PER_S
    return max(1, math.ceil(max(by_records, by_bytes) / SHARD_UTILISATION))


def lambda_duration_s(target: TargetRate, memory_mb: int = LAMBDA_MEMORY_MB) -> float:
    """One request: the PutRecords round trips plus the handler's CPU time at this memory's CPU share."""
    cpu_share = min(1.0, memory_mb / limits.LAMBDA_MB_PER_VCPU)
    calls = math.ceil(target.events_per_request / limits.KINESIS_PUT_RECORDS_MAX_RECORDS)
    return calls * PUT_RECORDS_RTT_S + target.events_per_request * HANDLER_US_PER_EVENT / 1e6 / cpu_share


def lambda_concurrency(target: TargetRate, memory_mb: int = LAMBDA_MEMORY_MB) -> int:
    """Little's law (concurrency = arrival rate x duration) with headroom; at least 2."""
    return max(2, math.ceil(target.requests_per_s * lambda_duration_s(target, memory_mb) * LAMBDA_HEADROOM))


def api_throttle(target: TargetRate) -> tuple[int, int]:
    """Stage rate and burst: the target request rate with headroom; the burst within the account's."""
    rate = max(10, math.ceil(target.requests_per_s * APIGW_HEADROOM))
    return rate, min(2 * rate, limits.APIGW_ACCOUNT_BURST)


def databricks_workers(target: TargetRate) -> int:
    """Workers of the streaming job's cluster at the measured per-core rate and the utilisation target."""
    cores = target.events_per_s / (STREAM_EVENTS_PER_CORE_S * STREAM_UTILISATION)
    return max(1, math.ceil(cores / DATABRICKS_WORKER_CORES))


def redshift_base_rpu(target: TargetRate) -> int:
    """Base RPUs in steps of 8: only gold aggregates load, hourly, so capacity grows slowly with the rate."""
    steps = math.ceil(target.events_per_s / EVENTS_PER_RPU_STEP)
    return min(limits.REDSHIFT_MAX_RPU, max(limits.REDSHIFT_MIN_RPU, steps * limits.REDSHIFT_RPU_STEP))


def plan(target: TargetRate) -> CapacityPlan:
    """Size every component for ``target`` and name the first limit the platform would hit."""
    shards = kinesis_shards(target)
    concurrency = lambda_concurrency(target)
    rate, burst = api_throttle(target)
    reservable = limits.LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY - limits.LAMBDA_UNRESERVED_MINIMUM
    over = {  # need / default quota, for each quota the plan exceeds
        f"Kinesis shards: {shards:,} > {limits.KINESIS_DEFAULT_SHARD_QUOTA} per account": shards
        / limits.KINESIS_DEFAULT_SHARD_QUOTA,
        f"Lambda concurrency: {concurrency:,} > {reservable} reservable of 1,000": concurrency / reservable,
        f"API Gateway throttle: {rate:,}/s > {limits.APIGW_ACCOUNT_RATE_PER_S:,}/s per account": rate
        / limits.APIGW_ACCOUNT_RATE_PER_S,
    }
    quotas = sorted((name for name, ratio in over.items() if ratio > 1), key=lambda n: -over[n])
    workers = databricks_workers(target)
    return CapacityPlan(
        target=target,
        shards=shards,
        lambda_reserved_concurrency=concurrency,
        lambda_memory_mb=LAMBDA_MEMORY_MB,
        lambda_duration_s=lambda_duration_s(target),
        api_rate_limit=rate,
        api_burst_limit=burst,
        databricks_workers=workers,
        databricks_worker_cores=DATABRICKS_WORKER_CORES,
        redshift_base_rpu=redshift_base_rpu(target),
        bottleneck=_bottleneck(target, workers, quotas),
        quota_increases=tuple(quotas),
    )


def _bottleneck(target: TargetRate, workers: int, quotas: Sequence[str]) -> str:
    if quotas:
        return quotas[0].split(":")[0] + " quota"
    if target.requests_per_s * lambda_duration_s(target) > 0.5 * limits.LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY:
        return "Lambda concurrency (over half the account's default)"
    if workers > 1:
        return "streaming job CPU (Spark + Delta per event)"
    return "none: every component at its minimum size"


# The table of docs/scaling.md ------------------------------------------------------------------------
SCALING_RATES = (1_000, 10_000, 100_000, 1_000_000)


def markdown_tables(rates: Sequence[float] = SCALING_RATES) -> str:
    """The resources and cost tables of docs/scaling.md, for 1 KB events in batches of 25."""
    plans = [plan(TargetRate(events_per_s=r)) for r in rates]
    lines = [
        "| events/s | Kinesis shards | Lambda reserved concurrency | API Gateway rate / burst | Databricks workers (4 cores) | Redshift base RPUs | bottleneck |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in plans:
        lines.append(
            f"| {p.target.events_per_s:,.0f} | {p.shards:,} ({p.shard_bound}) | {p.lambda_reserved_concurrency:,} |"
            f" {p.api_rate_limit:,} / {p.api_burst_limit:,} | {p.databricks_workers:,} | {p.redshift_base_rpu} |"
            f" {p.bottleneck} |"
        )
    costs = [monthly_cost(p) for p in plans]
    components = list(costs[0].by_component)
    lines += ["", "| USD per month | " + " | ".join(f"{p.target.events_per_s:,.0f}/s" for p in plans) + " |"]
    lines.append("|---|" + "---:|" * len(plans))
    for name in components:
        lines.append(f"| {name} | " + " | ".join(f"{c.by_component[name]:,.0f}" for c in costs) + " |")
    lines.append("| **total per month** | " + " | ".join(f"**{c.total:,.0f}**" for c in costs) + " |")
    lines.append(
        "| **per million events** | " + " | ".join(f"**{c.per_million_events:,.2f}**" for c in costs) + " |"
    )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edp_infra.sizing", description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-s", type=float, help="size one rate instead of printing the table")
    parser.add_argument("--event-bytes", type=int, default=1_000)
    parser.add_argument("--events-per-request", type=int, default=25)
    args = parser.parse_args(argv)
    if args.events_per_s is None:
        sys.stdout.write(markdown_tables())
        return 0
    p = plan(TargetRate(args.events_per_s, args.event_bytes, args.events_per_request))
    for field in dataclasses.fields(p):
        if field.name != "target":
            print(f"{field.name}: {getattr(p, field.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
