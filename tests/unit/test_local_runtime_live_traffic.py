"""`make run` with live data: the demo-traffic component, the scheduler switch, and what `up` prints."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import edp.contract as event_contract
from edp.config import PlatformConfig, get_config
from edp_local.runtime.airflow_api import UnpauseResult
from edp_local.runtime.cli import curl_example, summary_lines
from edp_local.runtime.environment import airflow_environment
from edp_local.runtime.registry import platform_services
from edp_local.runtime.streaming_service import STREAMING_JOB
from edp_local.runtime.supervisor import Supervisor
from edp_local.runtime.traffic_service import (
    DEMO_TRAFFIC,
    batch_size_for,
    progress_path,
    traffic_health,
    traffic_service,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PlatformConfig:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    base = get_config({"ports": {"gateway": 18090, "airflow": 18080}})
    return dataclasses.replace(base, local_state_dir=str(tmp_path / "state"))


def with_local_run(config: PlatformConfig, **fields: object) -> PlatformConfig:
    return dataclasses.replace(config, local_run=dataclasses.replace(config.local_run, **fields))


def write_progress(config: PlatformConfig, at: float, state: str = "sending", accepted: int = 96) -> None:
    path = progress_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    written_at = datetime.fromtimestamp(at, tz=UTC).isoformat()
    path.write_text(
        json.dumps(
            {"written_at": written_at, "state": state, "sent": 100, "accepted": accepted, "rejected": 1}
        )
    )


def test_demo_traffic_starts_last_after_the_gateway_and_the_streaming_job(config: PlatformConfig) -> None:
    names = [spec.name for spec in platform_services(with_local_run(config, live_traffic_rate=20))]

    assert names[-1] == DEMO_TRAFFIC
    assert names.index(DEMO_TRAFFIC) > names.index("gateway")
    assert names.index(DEMO_TRAFFIC) > names.index(STREAMING_JOB)


def test_a_zero_rate_leaves_demo_traffic_out(config: PlatformConfig) -> None:
    names = [spec.name for spec in platform_services(with_local_run(config, live_traffic_rate=0))]

    assert DEMO_TRAFFIC not in names and names[-1] == STREAMING_JOB
    with pytest.raises(ValueError, match="above 0"):
        traffic_service(with_local_run(config, live_traffic_rate=0))


def test_demo_traffic_runs_the_endless_load_generator_at_the_configured_rate(config: PlatformConfig) -> None:
    spec = traffic_service(with_local_run(config, live_traffic_rate=20))
    args = dict(zip(spec.command[4::2], spec.command[5::2], strict=True))

    assert spec.command[1:4] == ("-m", "edp_local.load_generator", "--forever")
    assert args["--endpoint"] == "http://127.0.0.1:18090"
    assert (args["--rate"], args["--batch-size"]) == ("20", "10")
    assert args["--progress-file"] == str(progress_path(config)) == spec.info["progress_file"]
    assert spec.port is None
    assert not any(flag.endswith("-fraction") for flag in args), "the default fault mix stays on"


@pytest.mark.parametrize(("rate", "batch"), [(0.5, 1), (2, 1), (20, 10), (200, 50), (5000, 50)])
def test_batches_are_sized_for_about_two_requests_a_second(rate: float, batch: int) -> None:
    assert batch_size_for(rate) == batch


def test_demo_traffic_is_healthy_on_a_fresh_sending_heartbeat_and_shows_its_totals(
    config: PlatformConfig,
) -> None:
    started = time.time() - 30
    write_progress(config, at=time.time() - 2)

    healthy, detail = traffic_health(config).probe(started_at=started)

    assert healthy, detail
    assert detail.startswith("sent 100, accepted 96, rejected 1; last heartbeat")


def test_demo_traffic_is_unhealthy_while_the_gateway_accepts_nothing(config: PlatformConfig) -> None:
    write_progress(config, at=time.time() - 1, state="failing", accepted=0)

    healthy, detail = traffic_health(config).probe(started_at=time.time() - 60)

    assert not healthy and "failing" in detail and "accepted 0" in detail


def test_progress_left_by_an_earlier_run_does_not_count(config: PlatformConfig) -> None:
    write_progress(config, at=time.time() - 120)

    healthy, detail = traffic_health(config).probe(started_at=time.time() - 100)

    assert not healthy and detail.startswith("no heartbeat since start-up")


@pytest.mark.parametrize(("scheduled", "value"), [(True, "True"), (False, "False")])
def test_the_scheduler_creates_scheduled_runs_only_when_asked(
    config: PlatformConfig, scheduled: bool, value: str
) -> None:
    env = airflow_environment(with_local_run(config, scheduled_runs=scheduled))

    assert env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == value


def test_the_printed_curl_example_posts_a_contract_valid_event(config: PlatformConfig) -> None:
    now = datetime.now(tz=UTC)
    argv = shlex.split(curl_example(config, occurred_at=now))

    event = json.loads(argv[argv.index("-d") + 1])
    assert argv[argv.index("-X") + 2] == "http://127.0.0.1:18090/v1/events"
    assert "x-api-key: local-demo-key" in argv
    assert event_contract.validate_event(event, received_at=now) is None


def test_up_prints_every_entry_point_the_brief_promises(config: PlatformConfig) -> None:
    config = with_local_run(config, live_traffic_rate=20)
    status = Supervisor(config, platform_services(config)).status()
    dags = UnpauseResult(unpaused=["gold_build"], already_unpaused=["platform_health"])

    text = "\n".join(summary_lines(config, status, dags))

    assert re.search(r"Airflow UI: +http://127\.0\.0\.1:18080 +\(login admin / ", text)
    assert "DAGs unpaused:  gold_build, platform_health" in text
    assert "http://127.0.0.1:18080/edp-dashboard/  (no login needed" in text
    assert "http://127.0.0.1:18090/v1/events  (header x-api-key: local-demo-key)" in text
    assert re.search(r"\n +curl -sS -X POST http://127\.0\.0\.1:18090/v1/events ", text)
    assert f"Slack alerts:   http://127.0.0.1:{config.ports.slack}/" in text
    assert "demo traffic:   20 events/s, change with PLATFORM__LOCAL_RUN__LIVE_TRAFFIC_RATE, 0 = off" in text
    # this platform has its own state dir: the hints must address it, or make stop would miss it
    prefix = f"PLATFORM__LOCAL_STATE_DIR={config.local_state_dir} "
    assert text.endswith(f"Status: {prefix}make status    Stop: {prefix}make stop")


def test_up_says_when_live_traffic_is_off_and_when_dags_could_not_be_unpaused(config: PlatformConfig) -> None:
    config = with_local_run(config, live_traffic_rate=0, scheduled_runs=False)
    status = Supervisor(config, platform_services(config)).status()

    text = "\n".join(summary_lines(config, status, None))

    assert "demo traffic:   off" in text
    assert "NOT unpaused" in text and "scheduled runs off" in text
