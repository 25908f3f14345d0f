"""The sizing model respects the documented service limits and prices its plans."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from edp_infra import cost, limits, sizing
from edp_infra.sizing import SizingError, TargetRate, plan

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RATES = (1, 500, 1_000, 10_000, 100_000, 1_000_000)


@pytest.mark.parametrize("rate", RATES)
def test_shards_carry_the_rate_within_1000_records_and_1_mib_per_shard(rate: float) -> None:
    target = TargetRate(events_per_s=rate)
    shards = plan(target).shards
    assert rate / shards <= limits.KINESIS_SHARD_WRITE_RECORDS_PER_S
    assert rate * target.record_bytes / shards <= limits.KINESIS_SHARD_WRITE_BYTES_PER_S


def test_small_records_are_bound_by_the_record_limit_and_large_ones_by_bytes() -> None:
    small = plan(TargetRate(events_per_s=8_000, mean_event_bytes=100))
    large = plan(TargetRate(events_per_s=8_000, mean_event_bytes=4_000))
    assert small.shard_bound == "records/s"
    assert small.shards == math.ceil(8_000 / 1_000 / sizing.SHARD_UTILISATION)
    assert large.shard_bound == "MB/s"
    assert large.shards > small.shards


def test_shards_read_side_stays_within_2_mib_per_shard_for_the_single_consumer() -> None:
    target = TargetRate(events_per_s=100_000)
    assert (
        target.events_per_s * target.record_bytes / plan(target).shards
        <= limits.KINESIS_SHARD_READ_BYTES_PER_S
    )


def test_a_record_over_one_mib_is_refused() -> None:
    with pytest.raises(SizingError, match="1 MiB"):
        plan(TargetRate(events_per_s=10, mean_event_bytes=2 * limits.MIB))


@pytest.mark.parametrize(
    "bad",
    [
        dict(events_per_s=0),
        dict(events_per_s=10, mean_event_bytes=0),
        dict(events_per_s=10, events_per_request=501),
    ],
)
def test_impossible_targets_are_refused(bad: dict) -> None:
    with pytest.raises(SizingError):
        TargetRate(**bad)


def test_lambda_concurrency_follows_littles_law_with_headroom() -> None:
    target = TargetRate(events_per_s=10_000, events_per_request=25)
    p = plan(target)
    in_flight = target.requests_per_s * p.lambda_duration_s
    assert in_flight < p.lambda_reserved_concurrency <= math.ceil(in_flight * sizing.LAMBDA_HEADROOM)


def test_lambda_duration_counts_one_put_records_call_per_500_events() -> None:
    one = sizing.lambda_duration_s(TargetRate(events_per_s=1, events_per_request=500))
    two = sizing.lambda_duration_s(TargetRate(events_per_s=1, events_per_request=1))
    assert one - two == pytest.approx(
        499 * sizing.HANDLER_US_PER_EVENT / 1e6 / (1024 / limits.LAMBDA_MB_PER_VCPU)
    )


def test_api_burst_never_exceeds_the_account_bucket() -> None:
    for rate in RATES:
        assert plan(TargetRate(events_per_s=rate)).api_burst_limit <= limits.APIGW_ACCOUNT_BURST


def test_plans_within_default_quotas_request_no_increase() -> None:
    p = plan(TargetRate(events_per_s=10_000))
    assert p.quota_increases == ()
    assert p.shards <= limits.KINESIS_DEFAULT_SHARD_QUOTA
    assert p.api_rate_limit <= limits.APIGW_ACCOUNT_RATE_PER_S
    assert (
        p.lambda_reserved_concurrency
        <= limits.LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY - limits.LAMBDA_UNRESERVED_MINIMUM
    )


def test_a_million_events_per_second_names_every_quota_it_needs_raised() -> None:
    p = plan(TargetRate(events_per_s=1_000_000))
    assert {q.split(":")[0] for q in p.quota_increases} == {
        "Kinesis shards",
        "Lambda concurrency",
        "API Gateway throttle",
    }
    assert p.bottleneck == "API Gateway throttle quota"  # the furthest over its default


def test_redshift_base_capacity_is_a_documented_step_of_8_rpus() -> None:
    for rate in RATES:
        rpu = plan(TargetRate(events_per_s=rate)).redshift_base_rpu
        assert limits.REDSHIFT_MIN_RPU <= rpu <= limits.REDSHIFT_MAX_RPU
        assert rpu % limits.REDSHIFT_RPU_STEP == 0


def test_databricks_workers_grow_with_the_rate_at_the_measured_per_core_throughput() -> None:
    p = plan(TargetRate(events_per_s=100_000))
    cores = p.databricks_workers * p.databricks_worker_cores
    assert cores * sizing.STREAM_EVENTS_PER_CORE_S * sizing.STREAM_UTILISATION >= 100_000
    assert plan(TargetRate(events_per_s=1)).databricks_workers == 1


def test_api_gateway_requests_are_priced_by_tier() -> None:
    assert cost.apigw_requests_cost(333e6) == pytest.approx(333 * 3.50)
    assert cost.apigw_requests_cost(1_000e6) == pytest.approx(333 * 3.50 + 667 * 2.80)


def test_cost_per_million_events_falls_as_fixed_costs_amortise() -> None:
    per_million = [
        cost.monthly_cost(plan(TargetRate(events_per_s=r))).per_million_events for r in sizing.SCALING_RATES
    ]
    assert per_million == sorted(per_million, reverse=True)
    assert all(c > 0 for c in per_million)


def test_docs_scaling_md_shows_the_tables_the_model_computes() -> None:
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- BEGIN GENERATED.*?-->\n(.*?)<!-- END GENERATED -->", text, re.S)
    assert block, "docs/scaling.md lost its generated block"
    assert block.group(1) == sizing.markdown_tables(), (
        "stale: run `python -m edp_infra.sizing` into docs/scaling.md"
    )
    assert cost.PRICES_AS_OF in text
