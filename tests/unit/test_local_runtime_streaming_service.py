"""The streaming job as a local component: its spec, its registry place, and the metrics-file health check."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edp.config import get_config
from edp.lake import streaming_metrics_path
from edp_local.runtime.registry import platform_services
from edp_local.runtime.services import HealthCheck, HttpHealthCheck, MetricsFreshnessCheck
from edp_local.runtime.streaming_service import STREAMING_JOB, job_arguments, streaming_service

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def check(path: Path, now: float, **kwargs) -> MetricsFreshnessCheck:
    defaults = {
        "max_age_s": 60,
        "startup_grace_s": 120,
        "state_field": "state",
        "ended_states": frozenset({"failed"}),
    }
    return MetricsFreshnessCheck(path, clock=lambda: now, **{**defaults, **kwargs})


def beat(path: Path, at: float, state: str = "running") -> Path:
    path.write_text(
        json.dumps({"written_at": datetime.fromtimestamp(at, tz=UTC).isoformat(), "state": state})
    )
    return path


def test_a_recent_heartbeat_since_start_is_healthy(tmp_path: Path) -> None:
    path = beat(tmp_path / "m.json", T0 - 5)
    assert check(path, T0).probe(started_at=T0 - 100) == (True, "last heartbeat 5s ago")


def test_a_stale_heartbeat_is_unhealthy_and_names_the_file(tmp_path: Path) -> None:
    path = beat(tmp_path / "m.json", T0 - 300)
    healthy, detail = check(path, T0).probe(started_at=T0 - 1000)
    assert not healthy
    assert detail == f"no heartbeat for 300s (bound 60s); see {path}"


def test_an_ended_state_is_unhealthy_even_with_a_fresh_heartbeat(tmp_path: Path) -> None:
    path = beat(tmp_path / "m.json", T0 - 1, state="failed")
    assert check(path, T0).probe(started_at=T0 - 100) == (False, f"job reports state='failed'; see {path}")


def test_a_heartbeat_from_before_the_start_counts_only_after_the_grace(tmp_path: Path) -> None:
    path = beat(tmp_path / "m.json", T0 - 20)
    assert check(path, T0).probe(started_at=T0 - 10) == (
        True,
        "starting: no heartbeat yet (110s of start-up grace left)",
    )
    late = check(path, T0 + 500)
    assert late.probe(started_at=T0 - 10) == (False, f"no heartbeat since start-up; see {path}")


def test_no_file_after_the_grace_says_so(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    assert check(path, T0).probe(started_at=T0 - 500) == (False, f"no metrics file {path}")


def test_epoch_milliseconds_are_understood_as_well_as_iso_times(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"written_at": int((T0 - 2) * 1000)}))
    assert check(path, T0).probe() == (True, "last heartbeat 2s ago")


def test_both_checks_satisfy_the_health_check_protocol(tmp_path: Path) -> None:
    assert isinstance(HttpHealthCheck("http://127.0.0.1:1/"), HealthCheck)
    assert isinstance(check(tmp_path / "m.json", T0), HealthCheck)


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PLATFORM_ENV", "local")
    base = get_config()
    return dataclasses.replace(
        base,
        local_state_dir=str(tmp_path / "state"),
        stream=dataclasses.replace(base.stream, name="events-canary"),
        lake=dataclasses.replace(base.lake, root=str(tmp_path / "lake")),
    )


def test_streaming_job_spec_runs_the_launcher_with_the_configured_stream_lake_and_files(
    config, tmp_path
) -> None:
    spec = streaming_service(config)
    assert spec.name == STREAMING_JOB and spec.port is None
    assert spec.command[1:3] == ("-m", "edp_local.runtime.streaming_service")
    args = dict(zip(spec.command[3::2], spec.command[4::2], strict=True))
    assert args["--stream-name"] == "events-canary"
    assert args["--lake-root"] == str(tmp_path / "lake")
    assert args["--checkpoint-dir"] == str(tmp_path / "lake" / "_checkpoints" / "stream_events")
    assert args["--metrics-path"] == str(streaming_metrics_path(config))
    assert args["--endpoint-url"] == config.stream.endpoint_url
    assert (args["--source"], args["--metrics-sink"], args["--trigger-seconds"]) == (
        "kinesis_local",
        "file",
        "3",
    )
    assert spec.info["metrics_file"] == str(tmp_path / "state" / "streaming" / "metrics.json")
    assert spec.info["checkpoint"] == args["--checkpoint-dir"]
    assert spec.info["trigger"] == "3s"
    assert isinstance(spec.health, MetricsFreshnessCheck)
    assert spec.health.path == streaming_metrics_path(config)
    assert list(spec.command[3:]) == job_arguments(config)


def test_streaming_job_starts_after_airflow_and_only_live_traffic_after_it(config) -> None:
    names = [spec.name for spec in platform_services(config)]
    assert names[names.index(STREAMING_JOB) + 1 :] == ["demo-traffic"]
    assert names.index(STREAMING_JOB) > max(i for i, n in enumerate(names) if n.startswith("airflow-"))
