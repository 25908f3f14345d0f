"""Stack outputs -> platform configuration: the ``PLATFORM__*`` lines the Airflow deployment sets.

``cdk deploy --all --outputs-file build/cdk-outputs.json`` (``make deploy`` does) records every stack's
outputs; ``python -m edp_infra.outputs build/cdk-outputs.json`` prints the environment of the Airflow
image (Astro deployment variables or MWAA's startup script) and the Databricks bundle's ``--var``
arguments. The names were derived from edp.config in the first place, so on a default deployment most
lines restate the defaults; they matter when a name was overridden at synth time (e.g. a globally unique
bucket name) and for what only the deployment knows (account id, role ARNs, endpoints).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _outputs(raw: Mapping[str, Mapping[str, str]], stack: str) -> Mapping[str, str]:
    try:
        return raw[stack]
    except KeyError:
        raise KeyError(f"no outputs of stack {stack!r} in the outputs file; was it deployed?") from None


def platform_environment(raw: Mapping[str, Mapping[str, str]], prefix: str = "edp") -> dict[str, str]:
    """``PLATFORM__*`` variables for ``edp.config`` from the stacks' outputs."""
    lake, stream = _outputs(raw, f"{prefix}-lake"), _outputs(raw, f"{prefix}-stream")
    alerts, access = _outputs(raw, f"{prefix}-alerts"), _outputs(raw, f"{prefix}-access")
    warehouse = _outputs(raw, f"{prefix}-warehouse")
    topic_arn = alerts["AlertTopicArn"]  # arn:aws:sns:<region>:<account>:<name>
    _, _, _, region, account, topic = topic_arn.split(":", 5)
    return {
        "PLATFORM_ENV": "aws",
        "PLATFORM__AWS_ACCOUNT_ID": account,
        "PLATFORM__DATA_BUCKET": lake["LakeBucketName"],
        "PLATFORM__ARTIFACTS_BUCKET": lake["ArtifactsBucketName"],
        "PLATFORM__LAKE__ROOT": lake["LakeRoot"],
        "PLATFORM__STREAM__NAME": stream["StreamName"],
        "PLATFORM__STREAM__REGION": region,
        "PLATFORM__STREAM__SHARD_COUNT": stream["ShardCount"],
        "PLATFORM__SNS__ALERTS_TOPIC": topic,
        "PLATFORM__GLUE__IAM_ROLE_NAME": access["GlueRoleName"],
        "PLATFORM__ATHENA__WORKGROUP": lake["AthenaWorkgroupName"],
        "PLATFORM__ATHENA__DATABASE": lake["GlueDatabaseName"],
        "PLATFORM__REDSHIFT__WORKGROUP": warehouse["RedshiftWorkgroupName"],
        "PLATFORM__REDSHIFT__COPY_IAM_ROLE_ARN": warehouse["RedshiftCopyRoleArn"],
        "PLATFORM__QUICKSIGHT__AWS_ACCOUNT_ID": account,
    }


def bundle_variables(raw: Mapping[str, Mapping[str, str]], prefix: str = "edp") -> dict[str, str]:
    """``--var`` values of ``databricks bundle deploy`` that come from the stacks."""
    lake, stream = _outputs(raw, f"{prefix}-lake"), _outputs(raw, f"{prefix}-stream")
    access = _outputs(raw, f"{prefix}-access")
    region = _outputs(raw, f"{prefix}-alerts")["AlertTopicArn"].split(":")[3]
    return {
        "instance_profile_arn": access["DatabricksInstanceProfileArn"],
        "lake_root": lake["LakeRoot"],
        "checkpoint_location": f"{lake['LakeRoot'].rstrip('/')}/_checkpoints/stream_events",
        "stream_name": stream["StreamName"],
        "region": region,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edp_infra.outputs", description=__doc__.splitlines()[0])
    parser.add_argument("outputs", type=Path, help="the file of `cdk deploy --outputs-file`")
    parser.add_argument(
        "--bundle-vars", action="store_true", help="print --var arguments for the bundle instead"
    )
    args = parser.parse_args(argv)
    raw: dict[str, Any] = json.loads(args.outputs.read_text(encoding="utf-8"))
    if args.bundle_vars:
        print(" ".join(f"--var {k}={v}" for k, v in bundle_variables(raw).items()))
    else:
        for key, value in platform_environment(raw).items():
            print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
