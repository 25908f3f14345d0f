"""When a Delta table last changed: its newest commit's time, read with delta-rs, without Spark.

The streaming supervisor, the ``data_freshness`` check and the local dashboard ask when silver last
got a commit. delta-rs (``deltalake``) opens the table from its latest checkpoint plus the commits after
it and reads the newest commit's ``commitInfo``. The cost follows the table's active files, which
compaction and Delta's log retention bound, more than the log's length (measured in
docs/benchmarks.md, "Newest Delta commit"). The table's location is a local path or an ``s3://`` URI of
the environment's lake storage, whose ``storage_options`` carry the credentials.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

if TYPE_CHECKING:
    from edp.lake.storage import Storage


def newest_commit(table_uri: str, storage: Storage | None = None) -> datetime | None:
    """Newest commit time of the Delta table at ``table_uri``; ``None`` if it is not a Delta table yet.

    :param storage: the storage the table lives in (default: a local path, no options).
    """
    options = storage.storage_options() if storage is not None else None
    try:
        table = DeltaTable(table_uri, storage_options=options)
    except TableNotFoundError:
        return None
    history = table.history(limit=1)
    timestamp = history[0].get("timestamp") if history else None
    if not isinstance(timestamp, int | float):
        return None  # a writer that records no commitInfo: no commit time to report
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)
