"""The CDK app: every AWS resource of the platform, one stack per concern, checked by cdk-nag.

``python -m edp_infra.app`` (what ``cdk.json`` runs, and ``make synth``) writes the CloudFormation
templates to ``build/cdk.out`` (or ``--output``). Context (``-c key=value`` via the CDK CLI, or
``CDK_CONTEXT_JSON``) sets the target rate and the deployment choices of :class:`InfraSettings`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import cx_api

from edp_infra.nag import apply_aws_solutions
from edp_infra.settings import InfraSettings
from edp_infra.stacks.access import AccessStack
from edp_infra.stacks.alerts import AlertsStack
from edp_infra.stacks.ingest import IngestStack
from edp_infra.stacks.lake import LakeStack
from edp_infra.stacks.secrets import SecretsStack
from edp_infra.stacks.stream import StreamStack
from edp_infra.stacks.warehouse import WarehouseStack

# Feature flags the templates rely on (cdk.json repeats them for the CDK CLI).
FEATURE_FLAGS = {
    # Access-log delivery through a bucket policy, so every bucket can keep ACLs disabled.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}
CONCERNS = ("lake", "stream", "secrets", "alerts", "ingest", "warehouse", "access")


def build_app(app: cdk.App, settings: InfraSettings | None = None) -> dict[str, cdk.Stack]:
    """Add the platform's stacks to ``app`` and return them by concern."""
    settings = settings or InfraSettings.from_context(_context(app))
    env = cdk.Environment(account=None, region=settings.platform.stream.region)
    names = {concern: settings.stack_name(concern) for concern in CONCERNS}
    common = {"settings": settings, "env": env}

    lake = LakeStack(
        app, names["lake"], **common, description="Event data platform: S3 lake, Glue database, Athena"
    )
    stream = StreamStack(app, names["stream"], **common, description="Event data platform: Kinesis stream")
    secrets = SecretsStack(
        app, names["secrets"], **common, description="Event data platform: Secrets Manager secrets"
    )
    alerts = AlertsStack(
        app,
        names["alerts"],
        secrets=secrets,
        **common,
        description="Event data platform: SNS alerts, Slack, alarms",
    )
    ingest = IngestStack(
        app, names["ingest"], lake=lake, stream=stream, secrets=secrets, **common,
        description="Event data platform: ingest API and Lambda",
    )  # fmt: skip
    warehouse = WarehouseStack(
        app, names["warehouse"], lake=lake, **common, description="Event data platform: Redshift Serverless"
    )
    access = AccessStack(
        app, names["access"], lake=lake, stream=stream, alerts=alerts, warehouse=warehouse, **common,
        description="Event data platform: IAM roles of Airflow, Glue and Databricks",
    )  # fmt: skip
    stacks = {
        "lake": lake, "stream": stream, "secrets": secrets, "alerts": alerts,
        "ingest": ingest, "warehouse": warehouse, "access": access,
    }  # fmt: skip
    for stack in stacks.values():
        cdk.Tags.of(stack).add("platform", settings.prefix)
    apply_aws_solutions(app)
    return stacks


def _context(app: cdk.App) -> dict[str, object]:
    keys = (
        "target_events_per_s", "mean_event_bytes", "events_per_request", "airflow_trusted_role_arn",
        "redshift_subnet_ids", "runbook_base_url", "lambda_dir",
    )  # fmt: skip
    return {key: app.node.try_get_context(key) for key in keys}


def new_app(outdir: str | None = None, context: dict[str, object] | None = None) -> cdk.App:
    return cdk.App(outdir=outdir, context={**FEATURE_FLAGS, **(context or {})})


def synth_errors(assembly: cx_api.CloudAssembly) -> list[str]:
    """Error annotations of every stack (unsuppressed cdk-nag findings are errors).

    Read from the assembly's ``manifest.json`` rather than ``stack.messages``: deserialising those
    through jsii's lazy module loading failed in a full test session ("Unknown interface
    MetadataEntry"), and the manifest is the documented cloud-assembly format the CDK CLI reads too.
    """
    directory = Path(assembly.directory)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    errors = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        metadata = dict(artifact.get("metadata") or {})
        if extra := artifact.get("additionalMetadataFile"):  # newer CDKs keep it beside the template
            metadata.update(json.loads((directory / extra).read_text(encoding="utf-8")))
        errors += [
            f"{name} {path}: {entry.get('data')}"
            for path, entries in metadata.items()
            for entry in entries
            if entry.get("type") == "aws:cdk:error"
        ]
    return errors


def main() -> int:
    app = new_app()
    build_app(app)
    assembly = app.synth()
    if errors := synth_errors(assembly):
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"synthesized {len(assembly.stacks)} stacks into {assembly.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
