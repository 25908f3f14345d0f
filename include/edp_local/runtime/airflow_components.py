"""Airflow's four long-running components, each its own supervised process."""

from __future__ import annotations

import subprocess

from edp.config import PlatformConfig
from edp_local.runtime.environment import (
    airflow_environment,
    platform_environment,
    venv_bin,
    write_admin_password,
)
from edp_local.runtime.services import HttpHealthCheck, ServiceSpec


def _component_healthy(component: str):
    def predicate(body: dict) -> bool:
        return body[component]["status"] == "healthy"

    return predicate


def airflow_services(config: PlatformConfig, parallelism: int) -> list[ServiceSpec]:
    """api-server first (everything else reports through it), then scheduler, dag-processor, triggerer."""
    airflow = venv_bin(config, "airflow")
    env = airflow_environment(config, parallelism)
    base = f"http://127.0.0.1:{config.ports.airflow}"
    health_url = f"{base}/api/v2/monitor/health"
    api = ServiceSpec(
        name="airflow-api-server",
        command=(
            airflow,
            "api-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(config.ports.airflow),
            "--workers",
            "1",
        ),
        port=config.ports.airflow,
        url=base,
        health=HttpHealthCheck(health_url, _component_healthy("metadatabase")),
        env=env,
    )
    others = [
        ServiceSpec(
            name=f"airflow-{component.replace('_', '-')}",
            command=(airflow, component.replace("_", "-")),
            port=port,
            health=HttpHealthCheck(health_url, _component_healthy(component)),
            env=env,
        )
        for component, port in (
            ("scheduler", config.ports.airflow_worker_logs),
            ("dag_processor", None),
            ("triggerer", config.ports.airflow_triggerer_logs),
        )
    ]
    return [api, *others]


def initialise_airflow(config: PlatformConfig, parallelism: int, log_path) -> None:
    """Create or upgrade the metadata DB (idempotent) and write the login."""
    env = {**platform_environment(config), **airflow_environment(config, parallelism)}
    write_admin_password(config)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [venv_bin(config, "airflow"), "db", "migrate"],
            env=_merged(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"`airflow db migrate` failed (exit {result.returncode}); see {log_path}")


def _merged(extra: dict[str, str]) -> dict[str, str]:
    import os  # noqa: PLC0415

    return {**os.environ, **extra}
