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

Authentication is the SimpleAuthManager's: ``POST /auth/token`` with the login returns a JWT, sent as
a bearer token; the client logs in on first use and once more when a token expires (401). Errors
are :class:`AirflowApiError` (the HTTP status and Airflow's ``detail``), or
:class:`AirflowUnavailableError` when the API server does not answer at all.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from edp.config import PlatformConfig

API = "/api/v2"
PAGE_LIMIT = 100  # Airflow's default [api] maximum_page_limit
FINISHED_RUN_STATES = frozenset({"success", "failed"})
DAGS_READY_TIMEOUT_S = 240.0

T = TypeVar("T")


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


def _datetime(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _iso(value: datetime | None, name: str) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (Airflow rejects naive datetimes), got {value}")
    return value.isoformat()


@dataclasses.dataclass(frozen=True)
class Dag:
    dag_id: str
    is_paused: bool
    has_import_errors: bool
    fileloc: str
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Dag:
        return cls(
            dag_id=body["dag_id"],
            is_paused=bool(body["is_paused"]),
            has_import_errors=bool(body.get("has_import_errors", False)),
            fileloc=body.get("fileloc", ""),
            raw=body,
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
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_RUN_STATES

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> DagRun:
        return cls(
            dag_id=body["dag_id"],
            run_id=body["dag_run_id"],
            state=body["state"],
            run_type=body.get("run_type", ""),
            logical_date=_datetime(body.get("logical_date")),
            data_interval_start=_datetime(body.get("data_interval_start")),
            data_interval_end=_datetime(body.get("data_interval_end")),
            start_date=_datetime(body.get("start_date")),
            end_date=_datetime(body.get("end_date")),
            conf=body.get("conf") or {},
            raw=body,
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
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> TaskInstance:
        return cls(
            dag_id=body["dag_id"],
            run_id=body["dag_run_id"],
            task_id=body["task_id"],
            map_index=int(body.get("map_index", -1)),
            state=body.get("state"),
            try_number=int(body.get("try_number", 0)),
            start_date=_datetime(body.get("start_date")),
            end_date=_datetime(body.get("end_date")),
            raw=body,
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
    def from_json(cls, body: Mapping[str, Any]) -> DagImportError:
        return cls(filename=body.get("filename", ""), stack_trace=body.get("stack_trace", ""))


class AirflowClient:
    """Blocking client for one Airflow API server; use as a context manager or call :meth:`close`.

    :param base_url: the API server, e.g. ``http://127.0.0.1:8080``.
    :param username: login for ``POST /auth/token``.
    :param password: its password.
    :param timeout_s: per-request timeout.
    :param transport: an httpx transport (tests); the network otherwise.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._token: str | None = None
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout_s, trust_env=False, transport=transport
        )

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
        self._http.close()

    # ---- transport -----------------------------------------------------------------------------
    def login(self) -> str:
        """Get a fresh JWT for the login (``POST /auth/token``) and use it from now on; return it."""
        response = self._send("POST", "/auth/token", json=self._login, auth=False)
        if response.status_code not in (200, 201):
            raise AirflowApiError("POST", "/auth/token", response.status_code, _detail(response))
        self._token = response.json()["access_token"]
        return self._token

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if auth else {}
        try:
            return self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise AirflowUnavailableError(method, path, exc) from exc

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call ``path`` (under the server root, e.g. ``/api/v2/dags``) and return the decoded JSON.

        Logs in first if needed, and once more if the token was refused (expired).
        """
        if self._token is None:
            self.login()
        response = self._send(method, path, **kwargs)
        if response.status_code == 401:
            self.login()
            response = self._send(method, path, **kwargs)
        if response.status_code >= 400:
            raise AirflowApiError(method, path, response.status_code, _detail(response))
        return response.json() if response.content else None

    def _paged(
        self, path: str, key: str, parse: Callable[[Mapping[str, Any]], T], params: Mapping[str, Any]
    ) -> list[T]:
        items: list[T] = []
        while True:
            page = self.request("GET", path, params={**params, "limit": PAGE_LIMIT, "offset": len(items)})
            batch = page[key]
            items.extend(parse(item) for item in batch)
            if not batch or len(items) >= page.get("total_entries", len(items)):
                return items

    # ---- DAGs ----------------------------------------------------------------------------------
    def list_dags(self, *, paused: bool | None = None) -> list[Dag]:
        """Every DAG the API server knows (stale ones excluded), optionally only (un)paused ones."""
        params = {} if paused is None else {"paused": str(paused).lower()}
        return self._paged(f"{API}/dags", "dags", Dag.from_json, params)

    def get_dag(self, dag_id: str) -> Dag:
        return Dag.from_json(self.request("GET", f"{API}/dags/{dag_id}"))

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        """``PATCH /api/v2/dags/{dag_id}?update_mask=is_paused``; returns the DAG as it now is."""
        body = self.request(
            "PATCH", f"{API}/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": paused}
        )
        return Dag.from_json(body)

    def unpause(self, dag_id: str) -> Dag:
        return self.set_paused(dag_id, False)

    def import_errors(self) -> list[DagImportError]:
        return self._paged(f"{API}/importErrors", "import_errors", DagImportError.from_json, {})

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
        body: dict[str, Any] = {
            "logical_date": _iso(logical_date, "logical_date"),
            "conf": dict(conf or {}),
        }
        if data_interval_start is not None:
            body["data_interval_start"] = _iso(data_interval_start, "data_interval_start")
            body["data_interval_end"] = _iso(data_interval_end, "data_interval_end")
        if run_id is not None:
            body["dag_run_id"] = run_id
        if note is not None:
            body["note"] = note
        return DagRun.from_json(self.request("POST", f"{API}/dags/{dag_id}/dagRuns", json=body))

    def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        return DagRun.from_json(self.request("GET", f"{API}/dags/{dag_id}/dagRuns/{run_id}"))

    def dag_run_state(self, dag_id: str, run_id: str) -> str:
        return self.get_dag_run(dag_id, run_id).state

    def list_dag_runs(self, dag_id: str) -> list[DagRun]:
        """Every run of ``dag_id``, oldest first."""
        return self._paged(f"{API}/dags/{dag_id}/dagRuns", "dag_runs", DagRun.from_json, {"order_by": "id"})

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
        return self._paged(path, "task_instances", TaskInstance.from_json, {})


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return body.get("detail", body) if isinstance(body, dict) else body


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
