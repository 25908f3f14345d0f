"""A small typed client for Airflow 3's public REST API (``/api/v2``), as the local platform uses it.

``make run`` uses it to wait for the DAG processor and unpause the platform's DAGs; ``make demo`` and
tests use it to trigger runs with an explicit data interval and follow them::

    with AirflowClient.local(config) as airflow:
        airflow.wait_for_dags(platform_dag_ids(config.project_root / "dags"), timeout_s=240)
        run = airflow.trigger_dag_run(
            "gold_build", logical_date=start, data_interval_start=start, data_interval_end=end
        )
        run = airflow.wait_for_dag_run("gold_build", run.run_id, timeout_s=900)
        failed = [ti.task_id for ti in airflow.list_task_instances("gold_build", run.run_id)
                  if ti.state == "failed"]

The calls go through ``apache-airflow-client`` (generated from the same release's ``/api/v2`` spec);
this module keeps the typed facade the runtime and the demo use, paging, and the waits. Authentication
is the SimpleAuthManager's: ``POST /auth/token`` with the login returns a JWT, sent as a bearer token.
That endpoint is outside the ``/api/v2`` spec, so the generated client has no call for it (its own
README posts it by hand, as :meth:`AirflowClient.login` does); the client logs in on first use and once
more when a token expires (401). Errors are :class:`AirflowApiError` (the HTTP status and Airflow's
``detail``), or :class:`AirflowUnavailableError` when the API server does not answer at all.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import urllib3

from edp.config import PlatformConfig

API = "/api/v2"
PAGE_LIMIT = 100  # Airflow's default [api] maximum_page_limit
FINISHED_RUN_STATES = frozenset({"success", "failed"})
DAGS_READY_TIMEOUT_S = 240.0

T = TypeVar("T")


@functools.cache
def generated_client() -> ModuleType:
    """``airflow_client.client``, imported on first use: its package loads every API model (~4 s),
    which ``make status`` and the other commands that never call Airflow should not pay."""
    from airflow_client import client  # noqa: PLC0415

    return client


class AirflowApiError(RuntimeError):
    """The API answered with an error status."""

    def __init__(self, method: str, path: str, status: int, detail: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {detail}")
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail


class AirflowUnavailableError(AirflowApiError):
    """The API server did not answer (not started yet, stopped, or too busy to accept)."""

    def __init__(self, method: str, path: str, cause: Exception) -> None:
        super().__init__(method, path, 0, f"no answer ({type(cause).__name__}: {cause})")


class DagsNotReadyError(TimeoutError):
    """Some DAGs did not appear in time; ``missing`` names them, ``import_errors`` says why if known."""

    def __init__(self, missing: list[str], import_errors: list[DagImportError], waited_s: float) -> None:
        lines = [f"  {e.filename}: {e.summary}" for e in import_errors]
        super().__init__(
            f"the DAG processor had not parsed {len(missing)} DAG(s) after {waited_s:.0f}s: "
            + ", ".join(missing)
            + ("\nimport errors:\n" + "\n".join(lines) if lines else "")
        )
        self.missing = missing
        self.import_errors = import_errors


def _value(value: Any) -> Any:
    """An enum member's value (the generated models parse states into enums), anything else as is."""
    return value.value if isinstance(value, Enum) else value


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (Airflow rejects naive datetimes), got {value}")
    return value


@dataclasses.dataclass(frozen=True)
class Dag:
    dag_id: str
    is_paused: bool
    has_import_errors: bool
    fileloc: str

    @classmethod
    def from_model(cls, dag: Any) -> Dag:
        return cls(
            dag_id=dag.dag_id,
            is_paused=bool(dag.is_paused),
            has_import_errors=bool(dag.has_import_errors),
            fileloc=dag.fileloc or "",
        )


@dataclasses.dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str  # queued | running | success | failed
    run_type: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: Mapping[str, Any]

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_RUN_STATES

    @classmethod
    def from_model(cls, run: Any) -> DagRun:
        return cls(
            dag_id=run.dag_id,
            run_id=run.dag_run_id,
            state=_value(run.state),
            run_type=_value(run.run_type) or "",
            logical_date=run.logical_date,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            start_date=run.start_date,
            end_date=run.end_date,
            conf=run.conf or {},
        )


@dataclasses.dataclass(frozen=True)
class TaskInstance:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None  # None until the scheduler looks at it
    try_number: int
    start_date: datetime | None
    end_date: datetime | None

    @classmethod
    def from_model(cls, ti: Any) -> TaskInstance:
        return cls(
            dag_id=ti.dag_id,
            run_id=ti.dag_run_id,
            task_id=ti.task_id,
            map_index=ti.map_index,
            state=_value(ti.state),
            try_number=ti.try_number,
            start_date=ti.start_date,
            end_date=ti.end_date,
        )


@dataclasses.dataclass(frozen=True)
class DagImportError:
    filename: str
    stack_trace: str

    @property
    def summary(self) -> str:
        """The exception line of the stack trace."""
        lines = self.stack_trace.strip().splitlines()
        return lines[-1] if lines else "(no stack trace)"

    @classmethod
    def from_model(cls, error: Any) -> DagImportError:
        return cls(filename=error.filename or "", stack_trace=error.stack_trace or "")


class AirflowClient:
    """Blocking client for one Airflow API server; use as a context manager or call :meth:`close`.

    :param base_url: the API server, e.g. ``http://127.0.0.1:8080``.
    :param username: login for ``POST /auth/token``.
    :param password: its password.
    :param timeout_s: per-request timeout.
    """

    def __init__(self, base_url: str, username: str, password: str, *, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._timeout_s = timeout_s
        self._client = generated_client()
        configuration = self._client.Configuration(host=self.base_url)
        configuration.retries = False  # callers wait and poll; a refused connection is an answer
        configuration.proxy = None  # loopback only, whatever the environment's proxy settings say
        self._api = self._client.ApiClient(configuration)
        self._dags = self._client.DAGApi(self._api)
        self._runs = self._client.DagRunApi(self._api)
        self._tasks = self._client.TaskInstanceApi(self._api)
        self._errors = self._client.ImportErrorApi(self._api)

    @classmethod
    def local(cls, config: PlatformConfig, *, timeout_s: float = 30.0) -> AirflowClient:
        """The local platform's API server on ``config.ports.airflow``, with the printed admin login."""
        from edp_local.runtime.environment import ADMIN_USER, admin_password  # noqa: PLC0415

        return cls(
            f"http://127.0.0.1:{config.ports.airflow}", ADMIN_USER, admin_password(), timeout_s=timeout_s
        )

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._api.rest_client.pool_manager.clear()  # the generated ApiClient's own __exit__ does nothing

    # ---- transport -----------------------------------------------------------------------------
    def login(self) -> str:
        """Get a fresh JWT for the login (``POST /auth/token``) and use it from now on; return it."""
        request = self._api.param_serialize(
            method="POST",
            resource_path="/auth/token",
            header_params={"Content-Type": "application/json"},
            body=self._login,
        )
        try:
            response = self._api.call_api(*request, _request_timeout=self._timeout_s)
        except urllib3.exceptions.HTTPError as exc:
            raise AirflowUnavailableError("POST", "/auth/token", exc) from exc
        body = response.read()
        if response.status not in (200, 201):
            raise AirflowApiError("POST", "/auth/token", response.status, _detail(body))
        token = json.loads(body)["access_token"]
        self._api.configuration.access_token = token
        return token

    def _call(self, method: str, path: str, call: Callable[..., T]) -> T:
        """``call(_request_timeout=...)`` logged in, once more after a fresh login if refused with 401."""
        if self._api.configuration.access_token is None:
            self.login()
        for attempt in (1, 2):
            try:
                return call(_request_timeout=self._timeout_s)
            except self._client.ApiException as exc:
                if exc.status == 401 and attempt == 1:
                    self.login()
                    continue
                raise AirflowApiError(method, path, exc.status or 0, _detail(exc.body)) from exc
            except urllib3.exceptions.HTTPError as exc:
                raise AirflowUnavailableError(method, path, exc) from exc
        raise AssertionError("unreachable")

    def _paged(self, path: str, fetch: Callable[..., Any], key: str, parse: Callable[[Any], T]) -> list[T]:
        """Every item of a list endpoint, page by page (``fetch(limit=, offset=, _request_timeout=)``)."""
        items: list[T] = []
        while True:
            offset = len(items)
            page = self._call("GET", path, functools.partial(fetch, limit=PAGE_LIMIT, offset=offset))
            batch = getattr(page, key)
            items.extend(parse(item) for item in batch)
            total = page.total_entries if page.total_entries is not None else len(items)
            if not batch or len(items) >= total:
                return items

    # ---- DAGs ----------------------------------------------------------------------------------
    def list_dags(self, *, paused: bool | None = None) -> list[Dag]:
        """Every DAG the API server knows (stale ones excluded), optionally only (un)paused ones."""
        fetch = functools.partial(self._dags.get_dags, paused=paused)
        return self._paged(f"{API}/dags", fetch, "dags", Dag.from_model)

    def get_dag(self, dag_id: str) -> Dag:
        path = f"{API}/dags/{dag_id}"
        return Dag.from_model(self._call("GET", path, functools.partial(self._dags.get_dag, dag_id)))

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        """``PATCH /api/v2/dags/{dag_id}?update_mask=is_paused``; returns the DAG as it now is."""
        call = functools.partial(
            self._dags.patch_dag,
            dag_id,
            self._client.DAGPatchBody(is_paused=paused),
            update_mask=["is_paused"],
        )
        return Dag.from_model(self._call("PATCH", f"{API}/dags/{dag_id}", call))

    def unpause(self, dag_id: str) -> Dag:
        return self.set_paused(dag_id, False)

    def import_errors(self) -> list[DagImportError]:
        fetch = self._errors.get_import_errors
        return self._paged(f"{API}/importErrors", fetch, "import_errors", DagImportError.from_model)

    def wait_for_dags(
        self, dag_ids: Iterable[str], *, timeout_s: float = DAGS_READY_TIMEOUT_S, poll_s: float = 3.0
    ) -> dict[str, Dag]:
        """Wait until every DAG in ``dag_ids`` is parsed and listed; return them by id.

        An API server that does not answer yet, or answers 5xx, counts as "not yet". On timeout raises
        :class:`DagsNotReadyError` naming the missing DAGs and the import errors Airflow reports.
        """
        wanted = set(dag_ids)
        started = time.monotonic()
        found: dict[str, Dag] = {}
        while True:
            try:
                found = {d.dag_id: d for d in self.list_dags() if d.dag_id in wanted}
            except AirflowApiError as exc:
                if exc.status and exc.status < 500:  # not a server still starting or busy: give up
                    raise
            if wanted <= found.keys():
                return found
            waited = time.monotonic() - started
            if waited >= timeout_s:
                try:
                    errors = self.import_errors()
                except AirflowApiError:
                    errors = []
                raise DagsNotReadyError(sorted(wanted - found.keys()), errors, waited)
            time.sleep(min(poll_s, max(timeout_s - waited, 0.0)))

    # ---- runs ----------------------------------------------------------------------------------
    def trigger_dag_run(
        self,
        dag_id: str,
        *,
        logical_date: datetime | None = None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
        conf: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        note: str | None = None,
    ) -> DagRun:
        """``POST /api/v2/dags/{dag_id}/dagRuns``: a manual run, queued for the scheduler.

        Datetimes must be timezone-aware. Give both interval ends or neither (Airflow then infers the
        interval from ``logical_date`` and the DAG's timetable). ``logical_date=None`` makes a run
        without a logical date (Airflow 3), which interval-based DAGs usually cannot use.
        """
        if (data_interval_start is None) != (data_interval_end is None):
            raise ValueError("give both data_interval_start and data_interval_end, or neither")
        fields: dict[str, Any] = {
            # Airflow requires the key even when null: a run without a logical date.
            "logical_date": _aware(logical_date, "logical_date"),
            "conf": dict(conf or {}),
        }
        if data_interval_start is not None:
            fields["data_interval_start"] = _aware(data_interval_start, "data_interval_start")
            fields["data_interval_end"] = _aware(data_interval_end, "data_interval_end")
        if run_id is not None:
            fields["dag_run_id"] = run_id
        if note is not None:
            fields["note"] = note
        body = self._client.TriggerDAGRunPostBody(**fields)
        call = functools.partial(self._runs.trigger_dag_run, dag_id, body)
        return DagRun.from_model(self._call("POST", f"{API}/dags/{dag_id}/dagRuns", call))

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        call = functools.partial(self._runs.get_dag_run, dag_id, run_id)
        return DagRun.from_model(self._call("GET", f"{API}/dags/{dag_id}/dagRuns/{run_id}", call))

    def dag_run_state(self, dag_id: str, run_id: str) -> str:
        return self.get_dag_run(dag_id, run_id).state

    def list_dag_runs(self, dag_id: str) -> list[DagRun]:
        """Every run of ``dag_id``, oldest first."""
        fetch = functools.partial(self._runs.get_dag_runs, dag_id, order_by=["id"])
        return self._paged(f"{API}/dags/{dag_id}/dagRuns", fetch, "dag_runs", DagRun.from_model)

    def wait_for_dag_run(self, dag_id: str, run_id: str, *, timeout_s: float, poll_s: float = 3.0) -> DagRun:
        """Poll until the run is ``success`` or ``failed`` and return it; TimeoutError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.get_dag_run(dag_id, run_id)
            if run.finished:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run.state} after {timeout_s:.0f}s")
            time.sleep(poll_s)

    def list_task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        """Every task instance of one run (mapped ones once per map index)."""
        path = f"{API}/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        fetch = functools.partial(self._tasks.get_task_instances, dag_id, run_id)
        return self._paged(path, fetch, "task_instances", TaskInstance.from_model)


def _detail(body: bytes | str | None) -> Any:
    """Airflow's ``detail`` from an error body, else the body's start."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else (body or "")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:500]
    return parsed.get("detail", parsed) if isinstance(parsed, dict) else parsed


# ---- the platform's DAGs ---------------------------------------------------------------------------
def platform_dag_ids(dags_dir: Path) -> list[str]:
    """The platform's DAG ids: one DAG per ``dags/*.py`` file, its id the file stem (``_*`` excluded)."""
    return sorted(p.stem for p in Path(dags_dir).glob("*.py") if not p.name.startswith("_"))


@dataclasses.dataclass(frozen=True)
class UnpauseResult:
    unpaused: list[str]  # were paused, now unpaused
    already_unpaused: list[str]

    @property
    def dag_ids(self) -> list[str]:
        return sorted(self.unpaused + self.already_unpaused)


def unpause_platform_dags(
    client: AirflowClient,
    dag_ids: Iterable[str],
    *,
    timeout_s: float = DAGS_READY_TIMEOUT_S,
    poll_s: float = 3.0,
) -> UnpauseResult:
    """Wait until every DAG in ``dag_ids`` is parsed, then unpause the paused ones.

    An unpause answered with 5xx (SQLite busy while the scheduler writes) is tried again a few times:
    unlike triggering a run, it is idempotent.
    """
    dags = client.wait_for_dags(dag_ids, timeout_s=timeout_s, poll_s=poll_s)
    unpaused = []
    for dag_id in sorted(d for d in dags if dags[d].is_paused):
        _idempotent(functools.partial(client.unpause, dag_id), wait_s=poll_s)
        unpaused.append(dag_id)
    already = sorted(d for d in dags if not dags[d].is_paused)
    return UnpauseResult(unpaused=unpaused, already_unpaused=already)


def _idempotent(call: Callable[[], T], wait_s: float, attempts: int = 3) -> T:
    """``call()``, again after ``wait_s`` if the server failed (5xx) or did not answer."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except AirflowApiError as exc:
            if (exc.status and exc.status < 500) or attempt == attempts:
                raise
            time.sleep(wait_s)
    raise AssertionError("unreachable")
