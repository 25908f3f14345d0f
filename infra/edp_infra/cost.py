"""Monthly cost of a :class:`~edp_infra.sizing.CapacityPlan` from public list prices (us-east-1).

Prices are on-demand list prices in USD as published on each service's pricing page; ``PRICES_AS_OF``
dates them. They were transcribed, not fetched (this repository's tests run offline): check the pages
before you budget on them. Free tiers, savings plans, taxes and data transfer out are left out.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: sizing imports this module for its cost table
    from edp_infra.sizing import CapacityPlan

PRICES_AS_OF = "2025-06 (us-east-1 list prices)"
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

# Kinesis Data Streams, provisioned: per shard-hour, per million 25 KB PUT payload units.
KINESIS_SHARD_HOUR = 0.015
KINESIS_PUT_UNITS_PER_MILLION = 0.014
KINESIS_PUT_UNIT_BYTES = 25 * 1024
# Lambda (x86): per million requests, per GB-second.
LAMBDA_REQUESTS_PER_MILLION = 0.20
LAMBDA_GB_SECOND = 0.0000166667
# API Gateway REST API, per million requests, tiered by monthly volume (millions, price).
APIGW_TIERS = ((333, 3.50), (667, 2.80), (19_000, 2.38), (math.inf, 1.51))
# Databricks on AWS, Premium, Jobs Compute: per DBU; i3.xlarge is 1 DBU per hour, EC2 on-demand per hour.
DATABRICKS_JOBS_DBU = 0.15
I3_XLARGE_DBU_PER_HOUR = 1.0
I3_XLARGE_EC2_HOUR = 0.312
# Redshift Serverless: per RPU-hour, billed while queries run.
REDSHIFT_RPU_HOUR = 0.375
REDSHIFT_ACTIVE_HOURS = 6 * 30.4  # assumption: hourly loads plus dashboard refreshes, ~6 busy hours a day
# S3 Standard: per GB-month, per 1,000 PUT requests.
S3_GB_MONTH = 0.023
S3_PUT_PER_THOUSAND = 0.005
LAKE_COMPRESSION = 5.0  # assumption: Parquet + zstd on JSON-shaped events; bronze and silver keep a copy each
STREAM_FILES_PER_S = 3 * 4 / 3.0  # three tables, ~4 files per 3 s micro-batch (before compaction)
# Fixed: CloudWatch alarms and custom metrics, Secrets Manager secrets, KMS keys.
FIXED_MONTHLY = {
    "CloudWatch (5 alarms, ~10 custom metrics)": 5 * 0.10 + 10 * 0.30,
    "Secrets Manager (4 secrets) and KMS (4 keys)": 4 * 0.40 + 4 * 1.00,
}


@dataclasses.dataclass(frozen=True)
class MonthlyCost:
    by_component: dict[str, float]
    events_per_month: float

    @property
    def total(self) -> float:
        return sum(self.by_component.values())

    @property
    def per_million_events(self) -> float:
        return self.total / (self.events_per_month / 1e6)


def apigw_requests_cost(requests_per_month: float) -> float:
    """Tiered: the first 333 million at the first price, the next 667 million at the second, ..."""
    left, cost = requests_per_month / 1e6, 0.0
    for tier_millions, price in APIGW_TIERS:
        used = min(left, tier_millions)
        cost += used * price
        left -= used
        if left <= 0:
            break
    return cost


def monthly_cost(capacity: CapacityPlan) -> MonthlyCost:
    target = capacity.target
    events = target.events_per_s * SECONDS_PER_MONTH
    requests = target.requests_per_s * SECONDS_PER_MONTH
    put_units = events * math.ceil(target.record_bytes / KINESIS_PUT_UNIT_BYTES)
    lambda_gb_s = requests * capacity.lambda_duration_s * capacity.lambda_memory_mb / 1024
    nodes = capacity.databricks_workers + 1  # plus the driver
    lake_gb = events * target.record_bytes * 2 / LAKE_COMPRESSION / 1e9
    by_component = {
        "API Gateway (REST)": apigw_requests_cost(requests),
        "Lambda ingest": requests / 1e6 * LAMBDA_REQUESTS_PER_MILLION + lambda_gb_s * LAMBDA_GB_SECOND,
        "Kinesis (provisioned)": capacity.shards * KINESIS_SHARD_HOUR * HOURS_PER_MONTH
        + put_units / 1e6 * KINESIS_PUT_UNITS_PER_MILLION,
        "Databricks streaming (jobs compute + EC2)": nodes
        * (I3_XLARGE_DBU_PER_HOUR * DATABRICKS_JOBS_DBU + I3_XLARGE_EC2_HOUR)
        * HOURS_PER_MONTH,
        "Redshift Serverless": capacity.redshift_base_rpu * REDSHIFT_RPU_HOUR * REDSHIFT_ACTIVE_HOURS,
        "S3 lake (one month of data, writes)": lake_gb * S3_GB_MONTH
        + STREAM_FILES_PER_S * SECONDS_PER_MONTH / 1000 * S3_PUT_PER_THOUSAND,
        **FIXED_MONTHLY,
    }
    return MonthlyCost(by_component=by_component, events_per_month=events)
