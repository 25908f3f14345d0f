"""``python -m edp_local.runtime up|down|status`` — what ``make run``, ``make stop`` and ``make status`` call.

``up`` starts every component, waits until each is healthy, then waits for the DAG processor to parse
every platform DAG and unpauses them (:mod:`edp_local.runtime.airflow_api`), and prints where everything is.

``start-service|stop-service|restart <name>`` act on one component (e.g. ``restart streaming-job``)
and leave the rest of the platform alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from edp.config import PlatformConfig, get_config
from edp.monitoring.health import NotSupervisedHereError
from edp.resources import resources
from edp.serving.names import dashboard_url
from edp_local.alerting.locations import slack_receiver_url
from edp_local.alerting.services import SLACK_RECEIVER
from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.runtime.airflow_api import (
    DAGS_READY_TIMEOUT_S,
    AirflowApiError,
    AirflowClient,
    DagsNotReadyError,
    UnpauseResult,
    platform_dag_ids,
    unpause_platform_dags,
)
from edp_local.runtime.airflow_components import initialise_airflow
from edp_local.runtime.environment import (
    ADMIN_USER,
    admin_password,
    airflow_environment,
    airflow_home,
    platform_environment,
    venv_bin,
)
from edp_local.runtime.gateway_service import gateway_url
from edp_local.runtime.registry import platform_resources
from edp_local.runtime.supervisor import (
    PortInUseError,
    StartupError,
    StateLockTimeout,
    Supervisor,
    UnknownServiceError,
)
from edp_local.runtime.traffic_service import DEMO_TRAFFIC

API_KEY_HEADER = "x-api-key"  # API Gateway's header for key-protected methods
DEFAULT_PARALLELISM = int(os.environ.get("LOCAL_PARALLELISM", "4"))


def _supervisor() -> Supervisor:
    try:
        return resources(get_config()).components.supervisor(DEFAULT_PARALLELISM)
    except NotSupervisedHereError as exc:
        sys.exit(str(exc))


def cmd_up(_: argparse.Namespace) -> int:
    supervisor = _supervisor()
    config = supervisor.config
    started = time.monotonic()
    running = {n for n, s in supervisor.running_services().items()}
    try:
        supervisor.check_ports([s for s in supervisor.services if s.name not in running])
        print("Initialising Airflow metadata DB ...", flush=True)
        initialise_airflow(config, DEFAULT_PARALLELISM, supervisor.log_dir / "airflow-db-migrate.log")
        print("Starting the local platform ...", flush=True)
        supervisor.start(log=lambda msg: print(msg, flush=True))
    except (PortInUseError, StartupError, RuntimeError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    dags = _unpause_platform_dags(config)
    status = supervisor.status()
    print(f"\nLocal platform is up in {time.monotonic() - started:.0f}s.")
    for line in summary_lines(config, status, dags):
        print(line)
    return 0 if status["healthy"] and dags is not None else 1


def _unpause_platform_dags(config: PlatformConfig) -> UnpauseResult | None:
    """Wait for the DAG processor, then unpause every platform DAG; None (and the error) if that fails."""
    dag_ids = platform_dag_ids(config.project_root / "dags")
    print(f"Waiting for the DAG processor to parse {len(dag_ids)} DAGs, then unpausing them ...", flush=True)
    try:
        with AirflowClient.local(config) as airflow:
            return unpause_platform_dags(airflow, dag_ids, timeout_s=DAGS_READY_TIMEOUT_S)
    except (AirflowApiError, DagsNotReadyError) as exc:
        print(
            f"ERROR: could not unpause the platform's DAGs: {exc}\n"
            "The components keep running: look at the DAG processor's log (make status shows it), "
            "or unpause the DAGs in the Airflow UI.",
            file=sys.stderr,
        )
        return None


def curl_example(config: PlatformConfig, occurred_at: datetime | None = None) -> str:
    """A one-line ``curl`` posting one valid page_view event to the local gateway."""
    moment = (occurred_at or datetime.now(tz=UTC)).astimezone(UTC)
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "page_view",
        "schema_version": "1.0",
        "occurred_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "user_id": None,
        "anonymous_id": "anon-curl",
        "session_id": "s-curl",
        "device": {"platform": "web", "os": "Linux", "os_version": "6.8", "locale": "en-US"},
        "app": {"name": "curl", "version": "1.0"},
        "properties": {"url": "https://shop.example.com/", "path": "/"},
    }
    return (
        f"curl -sS -X POST {gateway_url(config)}/v1/events -H '{API_KEY_HEADER}: {DEMO_API_KEY}' "
        f"-H 'content-type: application/json' -d '{json.dumps(event, separators=(',', ':'))}'"
    )


def _dags_line(config: PlatformConfig, dags: UnpauseResult | None) -> str:
    schedule = (
        "scheduled runs on"
        if config.local_run.scheduled_runs
        else "scheduled runs off: only triggered runs (PLATFORM__LOCAL_RUN__SCHEDULED_RUNS)"
    )
    if dags is None:
        return f"  {'DAGs:':<15} NOT unpaused (see the error above); {schedule}"
    return f"  {'DAGs unpaused:':<15} {', '.join(dags.dag_ids)}  ({len(dags.dag_ids)}; {schedule})"


def _traffic_line(config: PlatformConfig, status: dict[str, Any]) -> str:
    rate = config.local_run.live_traffic_rate
    if rate <= 0:
        return f"  {'demo traffic:':<15} off (PLATFORM__LOCAL_RUN__LIVE_TRAFFIC_RATE=0); send some with make send"
    progress = status["components"].get(DEMO_TRAFFIC, {}).get("progress_file", "")
    return (
        f"  {'demo traffic:':<15} {rate:g} events/s, change with PLATFORM__LOCAL_RUN__LIVE_TRAFFIC_RATE, "
        f"0 = off  (progress: {progress})"
    )


def summary_lines(config: PlatformConfig, status: dict[str, Any], dags: UnpauseResult | None) -> list[str]:
    """What ``up`` prints once the platform runs: where everything is and how to use it."""
    components = status["components"]
    slack = components.get(SLACK_RECEIVER, {})
    lines = [
        f"  Airflow UI:     {components['airflow-api-server']['url']}  (login {ADMIN_USER} / {admin_password()})",
        _dags_line(config, dags),
        f"  {'KPI dashboard:':<15} {dashboard_url(config)}  (no login needed; also in the Airflow UI under "
        "Browse > KPI dashboard; rebuilt by the warehouse_load DAG)",
        f"  {'ingest API:':<15} {gateway_url(config)}/v1/events  (header {API_KEY_HEADER}: {DEMO_API_KEY})",
        f"  {'':<15} {curl_example(config)}",
        f"  {'Slack alerts:':<15} {slack.get('alerts_page') or slack_receiver_url(config)}  "
        "(alerts the platform posted to Slack, recorded locally)",
        _traffic_line(config, status),
    ]
    shown = {"gateway", SLACK_RECEIVER, DEMO_TRAFFIC}
    for name, component in components.items():
        if name.startswith("airflow-") or name in shown or not component["url"]:
            continue
        lines.append(f"  {name + ':':<15} {component['url']}")
    lines.append(f"  {'lake:':<15} {platform_resources(config)['lake_root']}")
    # An instance with its own state dir (make demo, tests) is stopped through that dir.
    prefix = f"PLATFORM__LOCAL_STATE_DIR={config.local_state_dir} " if config.local_state_dir else ""
    lines.append(f"  Status: {prefix}make status    Stop: {prefix}make stop")
    return lines


def cmd_down(_: argparse.Namespace) -> int:
    supervisor = _supervisor()
    leftovers = supervisor.stop(log=lambda msg: print(msg, flush=True))
    if leftovers:
        print(f"  killed {len(leftovers)} stray process(es) that had left their group: {leftovers}")
    print("Local platform stopped.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    supervisor = _supervisor()
    status = supervisor.status()
    status["resources"] = platform_resources(supervisor.config)
    print(json.dumps(status, indent=2))
    return 0 if (status["healthy"] or not args.check) else 3


def _say(message: str) -> None:
    print(message, flush=True)


def _one_service(action: str, args: argparse.Namespace) -> int:
    supervisor = _supervisor()
    log = _say
    try:
        if action == "stop":
            pid = supervisor.stop_service(args.name, log=log)
            print(f"{args.name} stopped (pid {pid})." if pid else f"{args.name} was not running.")
            return 0
        method = supervisor.start_service if action == "start" else supervisor.restart_service
        service = method(args.name, log=log)
    except UnknownServiceError as exc:
        print(f"ERROR: {exc.args[0]}", file=sys.stderr)
        return 2
    except (PortInUseError, StartupError, StateLockTimeout) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    component = supervisor.status()["components"][args.name]
    print(f"{args.name} is running (pid {service.pid}): {component['detail']}")
    return 0


def cmd_start_service(args: argparse.Namespace) -> int:
    return _one_service("start", args)


def cmd_stop_service(args: argparse.Namespace) -> int:
    return _one_service("stop", args)


def cmd_restart(args: argparse.Namespace) -> int:
    return _one_service("restart", args)


def cmd_airflow(args: argparse.Namespace) -> int:
    """Run the airflow CLI against the local platform's home and DB, e.g. `airflow dags test <dag_id>`."""
    supervisor = _supervisor()
    config = supervisor.config
    env = {**os.environ, **platform_environment(config), **airflow_environment(config, DEFAULT_PARALLELISM)}
    if not (airflow_home(config) / "passwords.json").exists():
        initialise_airflow(config, DEFAULT_PARALLELISM, supervisor.log_dir / "airflow-db-migrate.log")
    os.execvpe(venv_bin(config, "airflow"), ["airflow", *args.airflow_args], env)  # noqa: S606
    return 0  # unreachable: exec replaces this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edp_local.runtime", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start every local component and wait until healthy").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop every process the platform started").set_defaults(func=cmd_down)
    status = sub.add_parser("status", help="print one JSON object with each component's health")
    status.add_argument("--check", action="store_true", help="exit 3 unless every component is healthy")
    status.set_defaults(func=cmd_status)
    for command, func, text in (
        ("start-service", cmd_start_service, "start one component unless it runs, and wait until healthy"),
        ("stop-service", cmd_stop_service, "stop one component, leaving the rest running"),
        ("restart", cmd_restart, "stop one component, then start it and wait until healthy"),
    ):
        one = sub.add_parser(command, help=text)
        one.add_argument("name", help="component name as `make status` shows it, e.g. streaming-job")
        one.set_defaults(func=func)
    airflow = sub.add_parser("airflow", help="run the airflow CLI with the local platform's settings")
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=cmd_airflow)
    args = parser.parse_args(argv)
    return args.func(args)
