"""The Airflow REST client against a small HTTP server answering like Airflow 3's /auth and /api/v2.

The bodies carry every field the /api/v2 spec requires (the generated client validates them), with
values shaped like those Airflow 3.3 sends.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from edp_local.runtime.airflow_api import (
    AirflowApiError,
    AirflowClient,
    AirflowUnavailableError,
    DagsNotReadyError,
    platform_dag_ids,
    unpause_platform_dags,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)


class AirflowApiServer(ThreadingHTTPServer):
    """In-memory DAGs, runs and task instances behind Airflow's paths, bodies and bearer-token auth."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), AirflowApiHandler)
        self.lock = threading.Lock()
        self.dags: dict[str, dict[str, Any]] = {}
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.import_errors: list[dict[str, Any]] = []
        self.valid_tokens: set[str] = set()
        self.logins = 0
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.page_limit = 100
        self.polls_before_listed: dict[str, int] = {}  # dag_id -> list calls before it appears

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add_dag(self, dag_id: str, *, paused: bool = True, appears_after_polls: int = 0) -> None:
        self.dags[dag_id] = {
            "dag_id": dag_id,
            "dag_display_name": dag_id,
            "is_paused": paused,
            "is_stale": False,
            "fileloc": f"/usr/local/airflow/dags/{dag_id}.py",
            "timetable_partitioned": False,
            "timetable_periodic": True,
            "tags": [],
            "max_active_tasks": 16,
            "max_consecutive_failed_dag_runs": 0,
            "has_task_concurrency_limits": False,
            "has_import_errors": False,
            "owners": ["airflow"],
            "is_backfillable": True,
            "file_token": f"file-token-{dag_id}",
        }
        self.polls_before_listed[dag_id] = appears_after_polls


class AirflowApiHandler(BaseHTTPRequestHandler):
    server: AirflowApiServer

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        body = self._body()
        server = self.server
        with server.lock:
            server.requests.append((method, parts.path, query, body))
            if (method, parts.path) == ("POST", "/auth/token"):
                self._login(body)
                return
            token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            if token not in server.valid_tokens:
                self._reply(401, {"detail": "Not authenticated"})
                return
            self._route(method, parts.path.removeprefix("/api/v2").strip("/").split("/"), query, body)

    def _login(self, body: Any) -> None:
        if body != {"username": "admin", "password": "secret"}:
            self._reply(401, {"detail": "Invalid credentials"})
            return
        self.server.logins += 1
        token = f"token-{self.server.logins}"
        self.server.valid_tokens.add(token)
        self._reply(201, {"access_token": token})

    def _route(self, method: str, path: list[str], query: dict[str, list[str]], body: Any) -> None:
        server = self.server
        if path == ["dags"] and method == "GET":
            self._list_dags(query)
        elif path == ["importErrors"]:
            errors = [
                {"import_error_id": i, "timestamp": "2026-03-01T10:00:00Z", "bundle_name": "dags-folder", **e}
                for i, e in enumerate(server.import_errors, start=1)
            ]
            self._page("import_errors", errors, query)
        elif len(path) == 2 and path[0] == "dags" and method == "PATCH":
            dag = server.dags.get(path[1])
            if dag is None:
                self._reply(404, {"detail": f"Dag with id: {path[1]} was not found"})
            elif query.get("update_mask") != ["is_paused"]:
                self._reply(400, {"detail": "update_mask"})
            else:
                dag["is_paused"] = body["is_paused"]
                self._reply(200, dag)
        elif len(path) == 3 and path[2] == "dagRuns" and method == "POST":
            self._trigger(path[1], body)
        elif len(path) == 4 and path[2] == "dagRuns" and method == "GET":
            run = server.runs.get((path[1], path[3]))
            self._reply(200, run) if run else self._reply(404, {"detail": "DagRun not found"})
        elif len(path) == 5 and path[4] == "taskInstances":
            tasks = [
                {
                    "id": str(uuid.UUID(int=i)),
                    "dag_id": path[1],
                    "dag_run_id": path[3],
                    "task_id": f"t{i}",
                    "task_display_name": f"t{i}",
                    "dag_display_name": path[1],
                    "map_index": -1,
                    "run_after": "2026-03-01T11:00:00Z",
                    "try_number": 1,
                    "max_tries": 0,
                    "pool": "default_pool",
                    "pool_slots": 1,
                    "executor_config": "{}",
                    "state": s,
                }
                for i, s in enumerate(("success", "failed", None))
            ]
            self._page("task_instances", tasks, query)
        else:
            self._reply(404, {"detail": "Not Found"})

    def _list_dags(self, query: dict[str, list[str]]) -> None:
        server = self.server
        visible = []
        for dag_id, dag in sorted(server.dags.items()):
            if server.polls_before_listed[dag_id] > 0:
                server.polls_before_listed[dag_id] -= 1
                continue
            visible.append(dag)
        if "paused" in query:
            visible = [d for d in visible if d["is_paused"] == (query["paused"][0] == "true")]
        self._page("dags", visible, query)

    def _page(self, key: str, items: list[Any], query: dict[str, list[str]]) -> None:
        limit = min(int(query.get("limit", ["50"])[0]), self.server.page_limit)
        offset = int(query.get("offset", ["0"])[0])
        self._reply(200, {key: items[offset : offset + limit], "total_entries": len(items)})

    def _trigger(self, dag_id: str, body: dict[str, Any]) -> None:
        if "logical_date" not in body:
            self._reply(422, {"detail": [{"loc": ["body", "logical_date"], "msg": "Field required"}]})
            return
        run_id = body.get("dag_run_id") or f"manual__{body['logical_date']}"
        run = {
            "dag_id": dag_id,
            "dag_display_name": dag_id,
            "dag_run_id": run_id,
            "state": "queued",
            "run_type": "manual",
            "run_after": body.get("data_interval_end") or body["logical_date"] or "2026-03-01T11:00:00Z",
            "dag_versions": [],
            "logical_date": body["logical_date"],
            "data_interval_start": body.get("data_interval_start"),
            "data_interval_end": body.get("data_interval_end"),
            "start_date": None,
            "end_date": None,
            "conf": body.get("conf"),
        }
        self.server.runs[(dag_id, run_id)] = run
        self._reply(200, run)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")


@pytest.fixture
def airflow_server() -> Iterator[AirflowApiServer]:
    server = AirflowApiServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def client(airflow_server: AirflowApiServer) -> Iterator[AirflowClient]:
    with AirflowClient(airflow_server.url, "admin", "secret", timeout_s=5) as airflow:
        yield airflow


def test_the_client_logs_in_once_and_pages_through_every_dag(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    airflow_server.page_limit = 2
    for dag_id in ("a", "b", "c", "d", "e"):
        airflow_server.add_dag(dag_id, paused=dag_id in {"a", "c"})

    dags = client.list_dags()
    paused = client.list_dags(paused=True)

    assert [d.dag_id for d in dags] == ["a", "b", "c", "d", "e"]
    assert [d.dag_id for d in paused] == ["a", "c"] and all(d.is_paused for d in paused)
    assert airflow_server.logins == 1
    offsets = [q["offset"] for m, p, q, _ in airflow_server.requests if p == "/api/v2/dags"]
    assert offsets[:3] == [["0"], ["2"], ["4"]]


def test_an_expired_token_is_renewed_once_and_the_request_repeated(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    airflow_server.add_dag("gold_build")
    client.login()
    airflow_server.valid_tokens.clear()  # the server forgets it, as when a JWT expires

    assert [d.dag_id for d in client.list_dags()] == ["gold_build"]
    assert airflow_server.logins == 2


def test_a_wrong_login_is_an_api_error_with_airflows_detail(airflow_server: AirflowApiServer) -> None:
    with (
        AirflowClient(airflow_server.url, "admin", "wrong") as airflow,
        pytest.raises(AirflowApiError) as error,
    ):
        airflow.list_dags()

    assert error.value.status == 401 and error.value.detail == "Invalid credentials"


def test_unpausing_patches_is_paused_with_the_update_mask(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    airflow_server.add_dag("gold_build", paused=True)

    dag = client.unpause("gold_build")

    assert dag.dag_id == "gold_build" and dag.is_paused is False
    method, path, query, body = airflow_server.requests[-1]
    assert (method, path, query, body) == (
        "PATCH",
        "/api/v2/dags/gold_build",
        {"update_mask": ["is_paused"]},
        {"is_paused": False},
    )


def test_an_unknown_dag_is_a_404_api_error(client: AirflowClient) -> None:
    with pytest.raises(AirflowApiError) as error:
        client.unpause("no_such_dag")

    assert error.value.status == 404 and "no_such_dag" in str(error.value)


def test_triggering_sends_the_logical_date_interval_and_conf_and_returns_the_run(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    run = client.trigger_dag_run(
        "gold_build",
        logical_date=START,
        data_interval_start=START,
        data_interval_end=END,
        conf={"full_refresh": True},
        run_id="demo-1",
    )

    body = airflow_server.requests[-1][3]
    assert body == {
        "logical_date": "2026-03-01T10:00:00+00:00",
        "data_interval_start": "2026-03-01T10:00:00+00:00",
        "data_interval_end": "2026-03-01T11:00:00+00:00",
        "conf": {"full_refresh": True},
        "dag_run_id": "demo-1",
    }
    assert (run.run_id, run.state, run.finished) == ("demo-1", "queued", False)
    assert (run.logical_date, run.data_interval_start, run.data_interval_end) == (START, START, END)
    assert client.dag_run_state("gold_build", "demo-1") == "queued"


def test_a_run_without_a_logical_date_still_sends_the_required_null(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    client.trigger_dag_run("lake_backfill", run_id="r")

    assert airflow_server.requests[-1][3] == {"logical_date": None, "conf": {}, "dag_run_id": "r"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"logical_date": datetime(2026, 3, 1)}, "timezone-aware"),  # noqa: DTZ001 - the case under test
        ({"logical_date": START, "data_interval_start": START}, "both"),
    ],
)
def test_naive_datetimes_and_half_intervals_are_refused_before_sending(
    client: AirflowClient, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client.trigger_dag_run("gold_build", **kwargs)


def test_waiting_for_a_run_returns_it_once_finished(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    client.trigger_dag_run("gold_build", logical_date=START, run_id="r1")
    airflow_server.runs[("gold_build", "r1")]["state"] = "success"

    assert client.wait_for_dag_run("gold_build", "r1", timeout_s=5, poll_s=0.05).state == "success"


def test_waiting_for_a_run_that_never_ends_times_out(client: AirflowClient) -> None:
    client.trigger_dag_run("gold_build", logical_date=START, run_id="r2")

    with pytest.raises(TimeoutError, match="still queued"):
        client.wait_for_dag_run("gold_build", "r2", timeout_s=0.2, poll_s=0.05)


def test_task_instances_of_a_run_are_listed_with_their_states(client: AirflowClient) -> None:
    instances = client.list_task_instances("gold_build", "r1")

    assert [(t.task_id, t.state) for t in instances] == [("t0", "success"), ("t1", "failed"), ("t2", None)]
    assert all(t.run_id == "r1" and t.map_index == -1 for t in instances)


def test_unpausing_the_platform_waits_for_parsing_and_patches_only_paused_dags(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    airflow_server.add_dag("gold_build", paused=True, appears_after_polls=2)
    airflow_server.add_dag("platform_health", paused=False)
    airflow_server.add_dag("someone_elses", paused=True)

    result = unpause_platform_dags(client, ["gold_build", "platform_health"], timeout_s=10, poll_s=0.05)

    patched = [p for m, p, _, _ in airflow_server.requests if m == "PATCH"]
    assert patched == ["/api/v2/dags/gold_build"]
    assert (result.unpaused, result.already_unpaused) == (["gold_build"], ["platform_health"])
    assert airflow_server.dags["someone_elses"]["is_paused"] is True


def test_dags_that_never_appear_time_out_naming_them_and_the_import_errors(
    airflow_server: AirflowApiServer, client: AirflowClient
) -> None:
    airflow_server.add_dag("gold_build")
    airflow_server.import_errors.append(
        {
            "filename": "dags/broken.py",
            "stack_trace": "Traceback ...\nModuleNotFoundError: No module named 'x'",
        }
    )

    with pytest.raises(DagsNotReadyError) as error:
        client.wait_for_dags(["gold_build", "broken"], timeout_s=0.3, poll_s=0.1)

    assert error.value.missing == ["broken"]
    assert "dags/broken.py: ModuleNotFoundError: No module named 'x'" in str(error.value)


def test_a_server_that_does_not_answer_is_unavailable_not_a_crash() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with AirflowClient(f"http://127.0.0.1:{port}", "admin", "secret", timeout_s=2) as airflow:
            with pytest.raises(AirflowUnavailableError) as error:
                airflow.list_dags()
            with pytest.raises(DagsNotReadyError):
                airflow.wait_for_dags(["gold_build"], timeout_s=0.2, poll_s=0.1)

    assert error.value.status == 0


def test_platform_dag_ids_are_the_file_stems_of_the_dags_folder(tmp_path: Path) -> None:
    for name in ("gold_build.py", "_shared.py", "notes.md", "platform_health.py"):
        (tmp_path / name).write_text("")

    assert platform_dag_ids(tmp_path) == ["gold_build", "platform_health"]
    assert "streaming_supervisor" in platform_dag_ids(ROOT / "dags")
