"""Documented AWS and Databricks service limits the sizing model respects (defaults, us-east-1).

Each number cites the page that documents it. Adjustable quotas are the defaults of a new account;
:mod:`edp_infra.sizing` reports when a target rate needs an increase rather than silently exceeding one.
"""

from __future__ import annotations

MIB = 1024 * 1024

# Kinesis Data Streams, provisioned mode. "Each shard can support up to 1,000 records per second for
# writes, up to a maximum total data write rate of 1 MB per second" and "up to 2 MB per second" of reads.
# https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
KINESIS_SHARD_WRITE_RECORDS_PER_S = 1_000
KINESIS_SHARD_WRITE_BYTES_PER_S = 1 * MIB
KINESIS_SHARD_READ_BYTES_PER_S = 2 * MIB
# "The default shard quota is 500 shards per AWS account" in us-east-1, us-west-2 and eu-west-1 (same page).
KINESIS_DEFAULT_SHARD_QUOTA = 500
# PutRecords: "Each PutRecords request can support up to 500 records" (Kinesis API reference, PutRecords).
KINESIS_PUT_RECORDS_MAX_RECORDS = 500

# Lambda: "Concurrent executions: 1,000" per Region by default, and reserved concurrency must leave
# "at least 100" unreserved. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY = 1_000
LAMBDA_UNRESERVED_MINIMUM = 100
# "Lambda allocates CPU power in proportion to memory ... at 1,769 MB, a function has the equivalent of
# one vCPU". https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
LAMBDA_MB_PER_VCPU = 1_769

# API Gateway REST APIs: "Throttle quota per account, per Region across HTTP APIs, REST APIs, WebSocket
# APIs, and WebSocket callback APIs: 10,000 requests per second (RPS) with an additional burst capacity
# provided by the token bucket algorithm, using a maximum bucket capacity of 5,000 requests".
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
APIGW_ACCOUNT_RATE_PER_S = 10_000
APIGW_ACCOUNT_BURST = 5_000

# Redshift Serverless: "The base capacity ... from 8 RPUs to 512 RPUs, in units of 8" (a 4-RPU minimum
# exists for some configurations; we keep the documented step of 8).
# https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-capacity.html
REDSHIFT_MIN_RPU = 8
REDSHIFT_RPU_STEP = 8
REDSHIFT_MAX_RPU = 512
