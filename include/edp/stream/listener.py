"""A PySpark ``StreamingQueryListener`` that feeds :class:`edp.stream.metrics.HealthTracker`."""

from __future__ import annotations

import json
import logging

from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.streaming.listener import (
    QueryIdleEvent,
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
)

from edp.stream.metrics import HealthTracker

log = logging.getLogger(__name__)


class StreamingHealthListener(StreamingQueryListener):
    """Publishes a health snapshot on every progress, idle, start and end event of one named query.

    Spark calls listeners on its listener-bus thread, asynchronously: the last progress of a bounded
    run may arrive after ``awaitTermination`` returns, so ``main`` also publishes the final state itself.
    """

    def __init__(self, tracker: HealthTracker) -> None:
        self.tracker = tracker
        self.query_id: str | None = None

    def _ours(self, query_id: object, name: object = None) -> bool:
        if name is not None:
            return name == self.tracker.query_name
        return self.query_id is None or str(query_id) == self.query_id

    def onQueryStarted(self, event: QueryStartedEvent) -> None:
        if self._ours(event.id, event.name):
            self.query_id = str(event.id)
            self.tracker.started(str(event.id), str(event.runId))

    def onQueryProgress(self, event: QueryProgressEvent) -> None:
        progress = json.loads(event.progress.json)
        if self._ours(progress.get("id"), progress.get("name")):
            self.tracker.progress(progress)

    def onQueryIdle(self, event: QueryIdleEvent) -> None:
        if self._ours(event.id):
            self.tracker.idle(str(event.id), str(event.runId))

    def onQueryTerminated(self, event: QueryTerminatedEvent) -> None:
        if self._ours(event.id):
            self.tracker.terminated(event.exception)
