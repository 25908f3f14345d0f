"""``python -m edp.monitoring apply|show|logging-env``: CloudWatch alarms and remote logging from the CLI.

``apply`` uses the default boto3 credentials and the region of the platform config; ``--endpoint-url``
points it elsewhere (e.g. the local moto endpoint, to try the definitions).
"""

from __future__ import annotations

import argparse
import json
import sys

from edp.config import get_config
from edp.monitoring import apply_platform_monitoring
from edp.monitoring.alarms import platform_alarms
from edp.monitoring.remote_logging import remote_logging_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edp.monitoring", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply", help="create or update the platform's CloudWatch alarms")
    apply.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    apply.add_argument("--no-prune", action="store_true", help="keep edp-platform-* alarms no longer defined")
    apply.add_argument("--endpoint-url", default=None)
    sub.add_parser("show", help="print the alarm definitions as put_metric_alarm requests")
    sub.add_parser("logging-env", help="print the AIRFLOW__LOGGING__* lines for CloudWatch task logs")
    args = parser.parse_args(argv)
    config = get_config()
    if args.command == "show":
        print(json.dumps([spec.request() for spec in platform_alarms(config)], indent=2))
        return 0
    if args.command == "logging-env":
        for key, value in remote_logging_environment(config).items():
            print(f"{key}={value}")
        return 0
    import boto3  # noqa: PLC0415 - only for apply

    session = boto3.session.Session(region_name=config.stream.region)
    cloudwatch = session.client("cloudwatch", endpoint_url=args.endpoint_url)
    logs = session.client("logs", endpoint_url=args.endpoint_url)
    report = apply_platform_monitoring(
        config, cloudwatch, logs, prune=not args.no_prune, dry_run=args.dry_run
    )
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
