"""Where an alert goes when Slack would not take it: an append-only JSON Lines file (local runtime).

Each line keeps the original SNS record, so :meth:`DeadLetterFile.drain` plus a re-invocation of the handler with
``{"Records": [entry["record"]]}`` replays it unchanged (``python -m edp_local.alerting redrive``).
Appends are whole lines under an exclusive lock and flushed to disk before the handler returns: once
the handler reports an alert as dead-lettered, it is on disk.

On AWS there is no file: the handler raises instead, and Lambda's asynchronous retries followed by
the function's on-failure destination (an SQS queue) keep the event; see README.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class DeadLetterFile:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def write(
        self,
        *,
        record: Mapping[str, Any],
        reason: str,
        attempts: int,
        alert_kind: str,
        dedup_key: str,
        slack_message: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        entry = {
            "dead_lettered_at": datetime.now(tz=UTC).isoformat(),
            "reason": reason,
            "attempts": attempts,
            "alert_kind": alert_kind,
            "dedup_key": dedup_key,
            "record": dict(record),
            "slack_message": slack_message,
        }
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        with _locked(self.path), open(self.path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        return entry

    def read_all(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def drain(self, accept: Callable[[list[dict[str, Any]]], None]) -> int:
        """Hand every entry to ``accept`` and then empty the file, all under the lock.

        ``accept`` must store the entries durably (the local bridge writes them to its spool): if it
        raises, the file is left as it was, so a redrive never loses an entry; failures of the replay
        are written back as new entries by the handler.
        """
        with _locked(self.path):
            entries = self.read_all()
            if entries:
                accept(entries)
                self.path.write_text("", encoding="utf-8")
        return len(entries)
