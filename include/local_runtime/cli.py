"""``python -m local_runtime up|down|status`` — what ``make run``, ``make stop`` and ``make status`` call.

``start-service|stop-service|restart <name>`` act on one component (e.g. ``restart streaming-job``)
and leave the rest of the platform alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from local_runtime.airflow_components import initialise_airflow
from local_runtime.environment import (
    ADMIN_USER,
    admin_password,
    airflow_environment,
    airflow_home,
    platform_environment,
    venv_bin,
)
from local_runtime.registry import platform_resources, platform_services
from local_runtime.supervisor import (
    PortInUseError,
    StartupError,
    StateLockTimeout,
    Supervisor,
    UnknownServiceError,
)
from platform_config import get_config

DEFAULT_PARALLELISM = int(os.environ.get("LOCAL_PARALLELISM", "4"))


def _supervisor() -> Supervisor:
    config = get_config()
    if not config.is_local:
        sys.exit("the local runtime only runs with PLATFORM_ENV=local")
    return Supervisor(config, platform_services(config, DEFAULT_PARALLELISM))


def cmd_up(_: argparse.Namespace) -> int:
    supervisor = _supervisor()
    started = time.monotonic()
    running = {n for n, s in supervisor.running_services().items()}
    try:
        supervisor.check_ports([s for s in supervisor.services if s.name not in running])
        print("Initialising Airflow metadata DB ...", flush=True)
        initialise_airflow(
            supervisor.config, DEFAULT_PARALLELISM, supervisor.log_dir / "airflow-db-migrate.log"
        )
        print("Starting the local platform ...", flush=True)
        supervisor.start(log=lambda msg: print(msg, flush=True))
    except (PortInUseError, StartupError, RuntimeError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    status = supervisor.status()
    print(f"\nLocal platform is up in {time.monotonic() - started:.0f}s.")
    print(
        f"  Airflow UI:     {status['components']['airflow-api-server']['url']}  "
        f"(login {ADMIN_USER} / {admin_password()})"
    )
    for name, component in status["components"].items():
        if name.startswith("airflow-") or not component["url"]:
            continue
        extras = ", ".join(
            f"{k}={v}" for k, v in component.items() if k not in {"healthy", "pid", "port", "url", "detail"}
        )
        print(f"  {name + ':':<15} {component['url']}" + (f"  ({extras})" if extras else ""))
    resources = platform_resources(supervisor.config)
    print(f"  {'KPI dashboard:':<15} {resources['dashboard']['url']}  (rebuilt by the warehouse_load DAG)")
    print(f"  {'lake:':<15} {resources['lake_root']}")
    print("  Status: make status    Stop: make stop")
    return 0 if status["healthy"] else 1


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
    parser = argparse.ArgumentParser(prog="local_runtime", description=__doc__)
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
