"""The demo's traffic: N events through the real gateway with the load generator, faults included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edp.config import PlatformConfig
from edp_local.gateway.keys import DEMO_API_KEY
from edp_local.load_generator.plan import PlanOptions
from edp_local.load_generator.runner import run_load
from edp_local.load_generator.sender import SendOptions

# A little above the load generator's defaults, so a small demo still has every kind of fault
# (late is per session: a 3000-event demo has ~400 sessions).
DUPLICATE_FRACTION = 0.03
LATE_FRACTION = 0.03
OUT_OF_ORDER_FRACTION = 0.05
INVALID_FRACTION = 0.02
BATCH_SIZE = 50
MAX_IN_FLIGHT = 16


def send_events(
    config: PlatformConfig, events: int, *, seed: int, rate: float, expected_ids_file: Path
) -> dict[str, Any]:
    """Send the events (``rate`` 0: as fast as the gateway answers); the load generator's summary."""
    plan = PlanOptions(
        count=events,
        duplicate_fraction=DUPLICATE_FRACTION,
        late_fraction=LATE_FRACTION,
        out_of_order_fraction=OUT_OF_ORDER_FRACTION,
        invalid_fraction=INVALID_FRACTION,
    )
    send = SendOptions(
        endpoint=f"http://127.0.0.1:{config.ports.gateway}",
        api_key=DEMO_API_KEY,
        rate=rate,
        batch_size=BATCH_SIZE,
        max_in_flight=MAX_IN_FLIGHT,
    )
    return run_load(plan, send, seed=seed, expected_ids_file=expected_ids_file)


def read_ids(path: Path) -> set[str]:
    """Event ids written one a line (the load generator's expected-ids file), lower-cased like silver's."""
    return {line.strip().lower() for line in path.read_text().splitlines() if line.strip()}


def missing_fault_kinds(summary: dict[str, Any]) -> list[str]:
    """Fault kinds the plan happened not to produce (possible for a very small demo)."""
    kinds = {
        "duplicates": summary["duplicates"],
        "late": summary["late"],
        "invalid": sum(summary["invalid"].values()),
    }
    return [kind for kind, count in kinds.items() if not count]
