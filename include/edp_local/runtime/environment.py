"""Process environment shared by every local component, and Airflow's laptop-sized settings."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from edp.config import PlatformConfig

ADMIN_USER = "admin"
DEFAULT_ADMIN_PASSWORD = "admin"  # noqa: S105 - loopback-only demo login; override with AIRFLOW_ADMIN_PASSWORD
LOCAL_AWS_KEY = "testing"  # moto accepts any credentials; botocore insists on some


def venv_bin(config: PlatformConfig, tool: str) -> str:
    """Absolute path of a console script in the project's virtualenv (falls back to PATH)."""
    candidate = config.project_root / ".venv" / "bin" / tool
    return str(candidate) if candidate.exists() else tool


def admin_password() -> str:
    return os.environ.get("AIRFLOW_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD)


def airflow_home(config: PlatformConfig) -> Path:
    return config.state_dir / "airflow"


def _persistent_secrets(config: PlatformConfig) -> dict[str, str]:
    """Secrets generated once per checkout, so restarts keep sessions, JWTs and encrypted fields valid."""
    path = config.state_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet  # noqa: PLC0415 - only needed on first start

    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": Fernet.generate_key().decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def platform_environment(config: PlatformConfig) -> dict[str, str]:
    """Variables every local process gets: environment switch, import path and the local AWS endpoint."""
    root = config.project_root
    env = {
        "PLATFORM_ENV": config.env.value,
        "PLATFORM_PROJECT_ROOT": str(root),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(root / "include"), os.environ.get("PYTHONPATH", "")) if p
        ),
        "AWS_DEFAULT_REGION": config.stream.region,
        "AWS_ENDPOINT_URL": config.local_aws_endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", LOCAL_AWS_KEY),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", LOCAL_AWS_KEY),
    }
    # Forward explicit PLATFORM__* overrides (ports, names) so children agree with the parent.
    env.update({k: v for k, v in os.environ.items() if k.startswith("PLATFORM__")})
    return env


def airflow_environment(config: PlatformConfig, parallelism: int = 4) -> dict[str, str]:
    """Airflow settings sized for a 2-core laptop; SQLite unless a database URL is already set."""
    home = airflow_home(config)
    keys = _persistent_secrets(config)
    api_url = f"http://127.0.0.1:{config.ports.airflow}"
    aws_conn = {
        "conn_type": "aws",
        "login": LOCAL_AWS_KEY,
        "password": LOCAL_AWS_KEY,
        "extra": {"region_name": config.stream.region, "endpoint_url": config.local_aws_endpoint},
    }
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.project_root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(config.project_root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # The defaults (32 workers, 2 parsing processes) oversubscribe a 2-core laptop.
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # local_run.scheduled_runs=False (`make demo`): no cron or asset-triggered runs, only triggered ones.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(config.local_run.scheduled_runs),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(config.ports.airflow),
        "AIRFLOW__API__BASE_URL": api_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(config.ports.airflow_worker_logs),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(config.ports.airflow_triggerer_logs),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_conn),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.setdefault(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or f"sqlite:///{home / 'airflow.db'}",
    )
    return env


def write_admin_password(config: PlatformConfig) -> None:
    """SimpleAuthManager reads logins from this file; keep it in step with the printed login."""
    path = airflow_home(config) / "passwords.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({ADMIN_USER: admin_password()}))
    path.chmod(0o600)
