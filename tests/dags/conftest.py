"""Import every ``dags/*.py`` file the way a DAG processor would, offline and without credentials.

Airflow 3.3 has no ``DagBag(include_examples=...)`` and moved ``DagBag`` in 3.2, so we do not rely on
it: each file is imported with importlib and its ``airflow.sdk.DAG`` objects are collected from the
module's globals. The import runs once per platform environment (``local`` and ``aws``) with AWS
variables removed, stub ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` values, and sockets blocked, so a DAG
file that reaches for the network, a credential or a Variable at parse time fails here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_socket import disable_socket

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO_ROOT / "dags"
PROJECT_CODE_DIRS = (REPO_ROOT / "include", REPO_ROOT / "plugins")
PARSE_BUDGET_S = 1.0
PLATFORM_ENVS = ("local", "aws")
# Connection types for the stub AIRFLOW_CONN_* values, by field of edp.config.ConnectionIds.
STUB_CONN_TYPES = {
    "aws": "aws",
    "athena": "aws",
    "databricks": "databricks",
    "slack": "slackwebhook",
    "redshift": "redshift",
}
STUB_VARIABLES = {"platform_overrides": "{}"}

PARSE_TIMES = pytest.StashKey[dict[tuple[str, str], float]]()


def dag_files() -> list[Path]:
    """DAG files in import order; ``_``-prefixed files are helpers, not DAGs."""
    return sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@dataclasses.dataclass
class ParsedDagFile:
    path: Path
    platform_env: str
    dags: list = dataclasses.field(default_factory=list)
    import_seconds: float = 0.0
    error: str | None = None
    explicit_schedule: set[str] = dataclasses.field(default_factory=set)


@contextlib.contextmanager
def sockets_blocked() -> Iterator[None]:
    """pytest-socket's guard for the duration of the block, then whatever was there before."""
    saved = (socket.socket, socket.getaddrinfo, socket.gethostbyname)
    disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        socket.socket, socket.getaddrinfo, socket.gethostbyname = saved


def isolate_environment(mp: pytest.MonkeyPatch, platform_env: str, tmp: Path) -> None:
    """No AWS credentials or endpoints, no developer overrides; stub connections and Variables."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "PLATFORM_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")):
            mp.delenv(key)
    # Point boto at files that do not exist, so ~/.aws cannot supply credentials either.
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    mp.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    mp.setenv("PLATFORM_ENV", platform_env)

    from edp.config import ConnectionIds

    for field in dataclasses.fields(ConnectionIds):
        conn_id = getattr(ConnectionIds(), field.name)
        conn_type = STUB_CONN_TYPES.get(field.name, "generic")
        mp.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": conn_type}))
    for key, value in STUB_VARIABLES.items():
        mp.setenv(f"AIRFLOW_VAR_{key.upper()}", value)


def warm_airflow_sdk() -> None:
    """Pay for ``airflow.sdk`` up front, as a running DAG processor already has; DAG files are timed alone."""
    from airflow.sdk import DAG, dag, setup, task, teardown  # noqa: F401


@contextlib.contextmanager
def recording_explicit_schedules(mp: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Yield the ids of DAGs constructed with an explicit ``schedule`` argument.

    ``schedule`` defaults to None, which an explicit ``schedule=None`` cannot be told apart from after
    construction; ``@dag`` forwards only the arguments it was given, so wrapping ``DAG.__init__`` sees it.
    """
    from airflow.sdk import DAG

    explicit: set[str] = set()
    original_init = DAG.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if "schedule" in kwargs:
            explicit.add(self.dag_id)

    mp.setattr(DAG, "__init__", recording_init)
    yield explicit


def _is_project_module(module: object) -> bool:
    file = getattr(module, "__file__", None)
    return bool(file) and any(Path(file).is_relative_to(d) for d in PROJECT_CODE_DIRS)


@contextlib.contextmanager
def cold_project_modules() -> Iterator[None]:
    """Make the DAG file import our own packages afresh, then put the session's modules back.

    The DAG processor parses each file in a fresh child process, so a file pays for the project code it
    imports (``orchestration``, ``platform_config``...) every time; timing a warm import would flatter it.
    Restoring afterwards keeps class identity stable for the rest of the test session.
    """
    saved = {name: module for name, module in sys.modules.items() if _is_project_module(module)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name, module in sys.modules.items() if _is_project_module(module)]:
            del sys.modules[name]
        sys.modules.update(saved)


def import_dag_file(path: Path, platform_env: str, explicit: set[str]) -> ParsedDagFile:
    from airflow.sdk import DAG

    module_name = f"_dag_integrity_{platform_env}_{path.stem}"
    parsed = ParsedDagFile(path=path, platform_env=platform_env)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # The budget is about the file's own work: CPU time of this process (other processes sharing the
    # cores do not count) with the collector paused (a full collection of the heap earlier tests left
    # behind is not the DAG's cost). A heavy import still shows: it is CPU work either way.
    gc.collect()
    gc.disable()
    with cold_project_modules():
        started = time.process_time()
        try:
            spec.loader.exec_module(module)
        except Exception:
            parsed.error = traceback.format_exc()
        finally:
            parsed.import_seconds = time.process_time() - started
            gc.enable()
            sys.modules.pop(module_name, None)
    found = {id(value): value for value in vars(module).values() if isinstance(value, DAG)}
    parsed.dags = list(found.values())
    parsed.explicit_schedule = {d.dag_id for d in parsed.dags} & explicit
    return parsed


@pytest.fixture(scope="session", params=PLATFORM_ENVS)
def parsed_dag_files(request: pytest.FixtureRequest, tmp_path_factory) -> dict[str, ParsedDagFile]:
    """``{file stem: ParsedDagFile}`` for one platform environment (the fixture runs once per env)."""
    platform_env: str = request.param
    tmp = tmp_path_factory.mktemp(f"dag-integrity-{platform_env}")
    with pytest.MonkeyPatch.context() as mp:
        isolate_environment(mp, platform_env, tmp)
        warm_airflow_sdk()
        with recording_explicit_schedules(mp) as explicit, sockets_blocked():
            parsed = {path.stem: import_dag_file(path, platform_env, explicit) for path in dag_files()}
    times = request.config.stash.setdefault(PARSE_TIMES, {})
    times.update({(stem, platform_env): p.import_seconds for stem, p in parsed.items()})
    return parsed


@pytest.fixture(scope="session")
def parse_budget_s() -> float:
    return PARSE_BUDGET_S


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take a ``dag_file`` argument run once per DAG file (id: the file's stem)."""
    if "dag_file" in metafunc.fixturenames:
        stems = [path.stem for path in dag_files()]
        metafunc.parametrize("dag_file", stems, ids=stems)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    times = config.stash.get(PARSE_TIMES, None)
    if not times:
        return
    terminalreporter.write_sep(
        "-", f"DAG file parse times, CPU seconds (budget {PARSE_BUDGET_S:.1f} s per file)"
    )
    terminalreporter.write_line(f"{'dag file':<40} {'env':<6} {'cpu s':>8}  verdict")
    for (stem, platform_env), seconds in sorted(times.items()):
        verdict = "ok" if seconds < PARSE_BUDGET_S else "OVER BUDGET"
        terminalreporter.write_line(f"{stem + '.py':<40} {platform_env:<6} {seconds:>8.3f}  {verdict}")
