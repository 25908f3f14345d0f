"""Alert-storm control: post each alert once, and at most N per alert kind per window.

Two rules, applied to every notification before anything is posted:

* **dedup**: an alert whose ``dedup_key`` (or whose SNS ``MessageId``) was posted within the dedup
  window is dropped. SNS delivers at least once and Lambda retries failed invocations, so the same
  notification can arrive twice; the producers also reuse a key on purpose for one incident.
* **rate limit per kind**: within a window of ``rate_window_s`` the first ``rate_limit`` alerts of a
  kind are posted; the next one posts a single *storm* notice (naming the alert that tipped it), and
  the rest are *folded*: counted, with a few samples kept. When the window is over, the folded
  alerts are posted as one summary message (on the next invocation, or on the scheduled tick).

An alert is recorded as posted only after Slack took it, so a failed delivery never blocks a retry.

State: a JSON document in a :class:`StateStore`. Locally a file (:class:`FileStateStore`, under the
platform's state dir, surviving bridge restarts). On AWS the container's memory
(:class:`MemoryStateStore`), which is enough because the function runs with reserved concurrency 1
(one warm container sees every alert in order) and losing the state on a cold start can only cause
one repeated post, never a lost alert; see README.md for the trade-off against DynamoDB.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from edp.alerting.slack.notifications import Incoming
from edp.alerting.slack.settings import GatePolicy

SAMPLE_LIMIT = 5
SENT_LIMIT = (
    20_000  # bound on remembered keys, whatever the window: an alert storm must not grow state forever
)

State = dict[str, Any]


class Decision(enum.StrEnum):
    POST = "post"
    STORM = "storm"  # the first alert over the kind's limit: post a storm notice instead
    FOLD = "fold"  # over the limit: count it into the summary
    DUPLICATE = "duplicate"


class StateStore(Protocol):
    def transaction(self) -> contextlib.AbstractContextManager[State]: ...


def empty_state() -> State:
    return {"sent": {}, "messages": {}, "kinds": {}, "summaries": []}


class MemoryStateStore:
    """State in this process's memory: one Lambda container's view."""

    def __init__(self) -> None:
        self.state = empty_state()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        yield self.state


class FileStateStore:
    """State in a JSON file, read and written under an exclusive lock (one writer at a time)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._load()
                yield state
                self._save(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> State:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return empty_state()  # missing or torn: forgetting dedup state costs at most a repeat post
        state = empty_state()
        if isinstance(data, dict):
            state.update({k: v for k, v in data.items() if k in state})
        return state

    def _save(self, state: State) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(state, sort_keys=True))
        tmp.replace(self.path)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class FoldedSummary:
    alert_kind: str
    count: int
    first_at: str
    last_at: str
    samples: list[dict[str, str]]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoldedSummary:
        return cls(
            alert_kind=str(data["alert_kind"]),
            count=int(data["count"]),
            first_at=iso(float(data["first_at"])),
            last_at=iso(float(data["last_at"])),
            samples=list(data.get("samples", [])),
        )


class AlertGate:
    """Decides what happens to each incoming alert, and remembers what was posted and folded.

    Use one :meth:`session` per invocation: the state is read once, and written once at its end.
    """

    def __init__(self, store: StateStore, policy: GatePolicy, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock

    @contextlib.contextmanager
    def session(self) -> Iterator[GateSession]:
        with self.store.transaction() as state:
            session = GateSession(state, self.policy, self.clock())
            session.prune()
            yield session


class GateSession:
    """The gate's state for one invocation, at one moment ``now`` (epoch seconds)."""

    def __init__(self, state: State, policy: GatePolicy, now: float) -> None:
        self.state = state
        self.policy = policy
        self.now = now

    def prune(self) -> None:
        horizon = self.now - self.policy.dedup_window_s
        for table in ("sent", "messages"):
            kept = {k: t for k, t in self.state[table].items() if t >= horizon}
            if len(kept) > SENT_LIMIT:
                kept = dict(sorted(kept.items(), key=lambda item: item[1])[-SENT_LIMIT:])
            self.state[table] = kept
        for kind in list(self.state["kinds"]):
            self._window(kind)

    def _window(self, kind: str) -> dict[str, Any]:
        """The kind's current window, rolled over (its folded alerts queued for a summary) when ended."""
        window = self.state["kinds"].get(kind)
        if window is None or self.now - window["start"] >= self.policy.rate_window_s:
            if window and window.get("folded"):
                self.state["summaries"].append({"alert_kind": kind, **window["folded"]})
            window = {"start": self.now, "posted": 0, "storm": False, "folded": None}
            self.state["kinds"][kind] = window
        return window

    def decide(self, incoming: Incoming) -> Decision:
        message_id = incoming.notification.message_id
        if incoming.dedup_key in self.state["sent"] or (message_id and message_id in self.state["messages"]):
            return Decision.DUPLICATE
        window = self._window(incoming.alert_kind)
        if window["posted"] < self.policy.rate_limit:
            return Decision.POST
        return Decision.FOLD if window["storm"] else Decision.STORM

    def window_end(self, alert_kind: str) -> str:
        return iso(self._window(alert_kind)["start"] + self.policy.rate_window_s)

    def record(self, incoming: Incoming, decision: Decision) -> None:
        """After Slack took a POST or STORM message, or when an alert was folded."""
        self.state["sent"][incoming.dedup_key] = self.now
        if incoming.notification.message_id:
            self.state["messages"][incoming.notification.message_id] = self.now
        window = self._window(incoming.alert_kind)
        if decision is Decision.POST:
            window["posted"] += 1
        elif decision is Decision.STORM:
            window["storm"] = True
        elif decision is Decision.FOLD:
            folded = window["folded"] or {"count": 0, "first_at": self.now, "samples": []}
            folded["count"] += 1
            folded["last_at"] = self.now
            if len(folded["samples"]) < SAMPLE_LIMIT:
                folded["samples"].append({"title": incoming.title, "dedup_key": incoming.dedup_key})
            window["folded"] = folded

    def pending_summaries(self) -> list[FoldedSummary]:
        return [FoldedSummary.from_dict(entry) for entry in self.state["summaries"]]

    def summary_posted(self, summary: FoldedSummary) -> None:
        for index, entry in enumerate(self.state["summaries"]):
            if entry["alert_kind"] == summary.alert_kind and int(entry["count"]) == summary.count:
                del self.state["summaries"][index]
                return
