"""The restart policy: a bounded number of attempts per incident, spaced by exponential backoff.

After attempt ``n`` the supervisor waits ``initial_backoff * multiplier**(n-1)`` (capped at
``max_backoff``) before it judges that attempt a failure. It then restarts again, or, once
``max_attempts`` attempts have failed, gives up: the incident is marked exhausted and alerted once.
A job that is healthy again closes the incident and the budget starts afresh with the next one.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta

from edp.stream.supervision.state import Incident


class Action(enum.StrEnum):
    RESTART = "restart"
    WAIT = "wait"
    GIVE_UP = "give_up"


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to do about an unhealthy job now.

    :param action: restart, wait for the backoff to pass, or give up.
    :param attempt: number of the attempt to make (RESTART) or the attempts made so far.
    :param not_before: when the next attempt (or giving up) is due, for WAIT.
    :param explanation: one line for logs and the run summary.
    """

    action: Action
    attempt: int
    not_before: datetime | None
    explanation: str


@dataclasses.dataclass(frozen=True)
class RestartPolicy:
    """Bounded restarts with exponential backoff (see the module docstring)."""

    max_attempts: int = 3
    initial_backoff: timedelta = timedelta(minutes=2)
    multiplier: float = 2.0
    max_backoff: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")
        if self.initial_backoff < timedelta(0) or self.max_backoff < self.initial_backoff:
            raise ValueError("backoffs must satisfy 0 <= initial_backoff <= max_backoff")

    def backoff_after(self, attempts: int) -> timedelta:
        """How long attempt number ``attempts`` gets before the next one (or giving up) is due."""
        if attempts < 1:
            return timedelta(0)
        seconds = self.initial_backoff.total_seconds() * self.multiplier ** (attempts - 1)
        return min(timedelta(seconds=seconds), self.max_backoff)

    def decide(self, incident: Incident, now: datetime) -> Decision:
        """RESTART, WAIT or GIVE_UP for an incident whose job was just judged unhealthy."""
        made = len(incident.attempts)
        if incident.exhausted_at is not None:  # given up stays given up until the incident closes
            return Decision(Action.GIVE_UP, made, None, f"gave up at {incident.exhausted_at.isoformat()}")
        last = incident.last_attempt
        if last is None:
            return Decision(Action.RESTART, 1, None, f"first restart (of at most {self.max_attempts})")
        due = last.at + self.backoff_after(made)
        if now < due:
            left = (due - now).total_seconds()
            return Decision(
                Action.WAIT,
                made,
                due,
                f"attempt {made} of {self.max_attempts} is {left:.0f}s from its deadline",
            )
        if made >= self.max_attempts:
            return Decision(
                Action.GIVE_UP, made, None, f"still unhealthy after {made} of {self.max_attempts} restarts"
            )
        return Decision(Action.RESTART, made + 1, None, f"restart {made + 1} of {self.max_attempts}")
