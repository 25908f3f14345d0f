"""Wait until the streaming job has drained the demo's events into bronze and silver (bounded)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from edp.config import PlatformConfig
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS, streaming_metrics_path
from edp_local.demo.lake_counts import row_count

BASE_TIMEOUT_S = 240.0
PER_EVENT_S = 0.01  # 100 events/s is far below what the local stream drains; the bound is for failures
POLL_S = 2.0


class DrainTimeout(TimeoutError):
    pass


@dataclasses.dataclass(frozen=True)
class Drained:
    bronze_rows: int
    silver_rows: int
    seconds: float


def drain_timeout(events: int) -> float:
    return BASE_TIMEOUT_S + PER_EVENT_S * events


def wait_for_drain(
    config: PlatformConfig,
    *,
    accepted: int,
    expected_silver: int,
    timeout_s: float,
    counts: Callable[[], tuple[int, int]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Drained:
    """Poll bronze and silver row counts until bronze >= ``accepted`` and silver >= ``expected_silver``.

    Raises :class:`DrainTimeout` naming the stage that fell short (bronze: the stream did not deliver
    the records; silver: bronze has them but the transform did not write them) with both figures.
    """
    read = counts or (lambda: (row_count(BRONZE_EVENTS, config), row_count(SILVER_EVENTS, config)))
    started = clock()
    bronze, silver = read()
    while bronze < accepted or silver < expected_silver:
        if clock() - started > timeout_s:
            raise DrainTimeout(_explain(config, bronze, silver, accepted, expected_silver, timeout_s))
        sleep(POLL_S)
        bronze, silver = read()
    return Drained(bronze, silver, clock() - started)


def _explain(
    config: PlatformConfig, bronze: int, silver: int, accepted: int, expected: int, timeout_s: float
) -> str:
    stage = (
        f"bronze holds {bronze} of the {accepted} accepted records"
        if bronze < accepted
        else f"silver holds {silver} of the {expected} expected events (bronze is complete: {bronze})"
    )
    return (
        f"stream drain timed out after {timeout_s:.0f}s: {stage}. Streaming job log: "
        f"{config.state_dir / 'logs' / 'streaming-job.log'}; health file: {streaming_metrics_path(config)}"
    )
