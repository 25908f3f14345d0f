"""Lake maintenance policy: VACUUM retention floor, compaction target and Z-order columns.

Standard library only, so the entry point checks its arguments (and refuses a short retention)
before Spark is imported or started.
"""

from __future__ import annotations

from edp.lake import BRONZE_EVENTS, SILVER_EVENTS

MIN_VACUUM_RETENTION_HOURS = 168.0
DEFAULT_TARGET_FILE_MB = 128
DEFAULT_ZORDER: dict[str, tuple[str, ...]] = {
    # Lineage lookups go from a silver row to its Kinesis record by shard and sequence number.
    BRONZE_EVENTS.name: ("shard_id", "sequence_number"),
    # Gold builds and analysts filter silver by event type and follow sessions.
    SILVER_EVENTS.name: ("event_type", "session_id"),
}


class RetentionTooShortError(ValueError):
    """A VACUUM retention below the platform's 7-day floor was requested."""


def check_retention(hours: float) -> float:
    """``hours`` if it is at least :data:`MIN_VACUUM_RETENTION_HOURS`; raises otherwise."""
    if hours < MIN_VACUUM_RETENTION_HOURS:
        raise RetentionTooShortError(
            f"VACUUM retention {hours:g} h is below the {MIN_VACUUM_RETENTION_HOURS:g} h (7 days) floor: "
            "files still readable by time travel, running queries and the streaming job would be "
            "deleted. Use --retention-hours 168 or more."
        )
    return hours
