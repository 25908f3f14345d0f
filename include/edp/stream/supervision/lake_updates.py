"""Asset events for the tables the streaming job writes, so the Airflow UI shows bronze and silver as
produced, with their last update, at the head of the medallion lineage.

The streaming job is not an Airflow task, so nothing records its writes as asset events by itself. The
supervisor already reads silver's last commit time for its health verdict; when that commit falls in
the supervisor run's data interval or later, the stream wrote new data since the previous tick, and the
supervisor's ``record_lake_updates`` task emits one event per table (bronze and silver are written in
the same micro-batch). Otherwise the task is skipped and no event is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def stream_wrote_since(verdict: Mapping[str, Any], since: datetime) -> dict[str, Any] | None:
    """The asset event ``extra`` when silver was committed at or after ``since``; ``None`` otherwise."""
    facts = verdict.get("facts") or {}
    committed = facts.get("silver_committed_at")
    if not committed:
        return None
    committed_at = datetime.fromisoformat(committed)
    if committed_at.tzinfo is None:
        committed_at = committed_at.replace(tzinfo=UTC)
    if committed_at < since:
        return None
    metrics = facts.get("metrics") or {}
    return {
        "silver_committed_at": committed_at.isoformat(),
        "batch_id": metrics.get("batch_id"),
        "num_input_rows": metrics.get("num_input_rows"),
        "status": verdict.get("status"),
    }
