"""Live demo traffic as a local component: the load generator in endless mode against the local gateway.

``make run`` starts it last (after the gateway and the streaming job) when
``cfg.local_run.live_traffic_rate`` is above 0, so data flows through the whole platform without any
further step. It keeps the load generator's default fault mix (retried duplicates, late sessions,
invalid events), so the dedup and quarantine paths see live data too. ``make stop`` sends it SIGTERM
first (stop runs in reverse start order); it then prints a final summary line to its log.

Health: the generator rewrites its progress file every :data:`PROGRESS_INTERVAL_S`; the component is
healthy while that file shows a progress line from this run younger than :data:`HEARTBEAT_MAX_AGE_S`
whose ``state`` is ``sending`` (``failing`` means the gateway errored and accepted nothing during the
last interval). ``make status`` shows the running totals in the component's detail.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from edp.config import PlatformConfig
from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.runtime.environment import venv_bin
from edp_local.runtime.gateway_service import gateway_url
from edp_local.runtime.services import MetricsFreshnessCheck, ServiceSpec

DEMO_TRAFFIC = "demo-traffic"
PROGRESS_INTERVAL_S = 10.0  # one log line each: about 5 MB a day
HEARTBEAT_MAX_AGE_S = 45.0
STARTUP_GRACE_S = 45.0
ENDED_STATES = frozenset({"failing", "stopped"})
# About two requests a second: small batches, as apps send them, and a steady trickle in the logs.
REQUESTS_PER_S = 2.0
MAX_BATCH = 50


def progress_path(config: PlatformConfig) -> Path:
    return config.state_dir / "demo-traffic" / "progress.json"


def batch_size_for(rate: float) -> int:
    """Events per request for ``rate`` events/s: about :data:`REQUESTS_PER_S` requests a second."""
    return max(1, min(MAX_BATCH, round(rate / REQUESTS_PER_S)))


@dataclasses.dataclass(frozen=True)
class TrafficHealthCheck:
    """The progress file's freshness and state, with the running totals in the detail."""

    freshness: MetricsFreshnessCheck

    def probe(self, started_at: float | None = None) -> tuple[bool, str]:
        healthy, detail = self.freshness.probe(started_at)
        document = self.freshness.read()
        if (
            not document
            or "accepted" not in document
            or detail.startswith(("starting", "no metrics", "no heartbeat since"))
        ):
            return healthy, detail
        totals = (
            f"sent {document.get('sent', 0)}, accepted {document['accepted']}, "
            f"rejected {document.get('rejected', 0)}"
        )
        return healthy, f"{totals}; {detail}"


def traffic_health(config: PlatformConfig) -> TrafficHealthCheck:
    return TrafficHealthCheck(
        MetricsFreshnessCheck(
            path=progress_path(config),
            max_age_s=HEARTBEAT_MAX_AGE_S,
            startup_grace_s=STARTUP_GRACE_S,
            field="written_at",
            state_field="state",
            ended_states=ENDED_STATES,
        )
    )


def traffic_service(config: PlatformConfig) -> ServiceSpec:
    """The ``demo-traffic`` component at ``config.local_run.live_traffic_rate`` events/s (must be > 0)."""
    rate = config.local_run.live_traffic_rate
    if rate <= 0:
        raise ValueError(f"live traffic needs a rate above 0 events/s, got {rate}")
    python = venv_bin(config, "python")
    progress = progress_path(config)
    return ServiceSpec(
        name=DEMO_TRAFFIC,
        command=(
            python if python != "python" else sys.executable,
            "-m",
            "edp_local.load_generator",
            "--forever",
            "--endpoint",
            gateway_url(config),
            "--api-key",
            DEMO_API_KEY,
            "--rate",
            f"{rate:g}",
            "--batch-size",
            str(batch_size_for(rate)),
            "--progress-interval",
            f"{PROGRESS_INTERVAL_S:g}",
            "--progress-file",
            str(progress),
        ),
        url=progress.as_uri(),
        health=traffic_health(config),
        info={
            "rate": f"{rate:g} events/s",
            "progress_file": str(progress),
            "endpoint": f"{gateway_url(config)}/v1/events",
            "change_with": "PLATFORM__LOCAL_RUN__LIVE_TRAFFIC_RATE (0 = off)",
        },
        start_timeout_s=STARTUP_GRACE_S + 30.0,
    )
