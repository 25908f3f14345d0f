"""Runtime settings of the SNS -> Slack function, from its environment and the platform configuration.

| variable | meaning | default |
| --- | --- | --- |
| ``SLACK_WEBHOOK_URL`` | the incoming-webhook URL itself | local: the local Slack receiver |
| ``SLACK_WEBHOOK_SECRET_ID`` | Secrets Manager id holding the URL (plain, or JSON ``{"webhook_url": ...}``) | - |
| ``RUNBOOK_BASE_URL`` | prefix for an alert's ``runbook`` path (``docs/runbooks/x.md``) | local: the receiver |
| ``SLACK_DEAD_LETTER_PATH`` | JSON Lines file for alerts Slack never took | local: ``<state>/slack/dead_letter.jsonl`` |
| ``SLACK_ALERT_STATE_PATH`` | dedup and rate-limit state file | local: ``<state>/slack/alert_state.json`` |
| ``SLACK_DEDUP_WINDOW_S`` | same ``dedup_key`` within this many seconds posts once | 3600 |
| ``SLACK_RATE_LIMIT`` / ``SLACK_RATE_WINDOW_S`` | posts per alert kind per window, then fold | 5 / 600 |
| ``SLACK_MAX_ATTEMPTS``, ``SLACK_RETRY_BASE_S``, ``SLACK_RETRY_MAX_S`` | webhook retry policy | 6, 0.5, 20 |

On AWS (``PLATFORM_ENV=aws``) there is no dead-letter file and no state file by default: a failed
delivery raises, so Lambda's asynchronous retries and its on-failure destination keep the event, and
dedup state lives in the container's memory (see ``README.md`` for why that is enough).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from edp.config import PlatformConfig, get_config

WEBHOOK_URL_VAR = "SLACK_WEBHOOK_URL"
WEBHOOK_SECRET_VAR = "SLACK_WEBHOOK_SECRET_ID"  # noqa: S105 - a variable name, not a secret
RUNBOOK_BASE_URL_VAR = "RUNBOOK_BASE_URL"
DEAD_LETTER_PATH_VAR = "SLACK_DEAD_LETTER_PATH"
STATE_PATH_VAR = "SLACK_ALERT_STATE_PATH"
LOCAL_WEBHOOK_PATH = "/services/LOCAL/ALERTS/platform-alerts"


class ConfigurationError(RuntimeError):
    """The function is deployed without a setting it cannot run without."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Webhook retries: exponential backoff with full jitter, ``Retry-After`` honoured, bounded attempts.

    :param max_attempts: tries in total, the first included.
    :param base_delay_s: the first backoff ceiling; doubles per attempt.
    :param max_delay_s: ceiling of one backoff (and of a ``Retry-After`` we are willing to wait).
    :param min_time_left_s: stop retrying when the invocation has less than this left, so the handler
        can still dead-letter (or fail cleanly) before Lambda kills it.
    :param timeout_s: one HTTP request's timeout.
    """

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    min_time_left_s: float = 5.0
    timeout_s: float = 5.0


@dataclasses.dataclass(frozen=True)
class GatePolicy:
    """Alert-storm control: dedup window, and how many posts per alert kind per window before folding."""

    dedup_window_s: float = 3600.0
    rate_limit: int = 5
    rate_window_s: float = 600.0


@dataclasses.dataclass(frozen=True)
class SlackSettings:
    environment: str
    region: str
    webhook_url: str | None
    webhook_secret_id: str | None
    runbook_base_url: str | None
    dead_letter_path: Path | None
    state_path: Path | None
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    gate: GatePolicy = dataclasses.field(default_factory=GatePolicy)


@dataclasses.dataclass(frozen=True)
class AlertDelivery:
    """Where alerts go and what the Slack function falls back to when a setting is not given.

    The environment's ``alerts`` resource (:mod:`edp.resources`): locally the local Slack receiver,
    runbooks served by it, and files for dead letters and dedup state; on AWS nothing, so the webhook
    must be configured (Secrets Manager) and a failed delivery raises for Lambda's retries.
    """

    topic_arn: str
    webhook_url: str | None = None
    runbook_base_url: str | None = None
    dead_letter_path: Path | None = None
    state_path: Path | None = None

    @classmethod
    def local(cls, config: PlatformConfig) -> AlertDelivery:
        slack_dir = config.state_dir / "slack"
        receiver = local_receiver_url(config)
        return cls(
            topic_arn=config.alerts_topic_arn,
            webhook_url=receiver + LOCAL_WEBHOOK_PATH,
            runbook_base_url=receiver + "/",
            dead_letter_path=slack_dir / "dead_letter.jsonl",
            state_path=slack_dir / "alert_state.json",
        )


def local_receiver_url(config: PlatformConfig) -> str:
    """Base URL of the local Slack stand-in (``edp_local.alerting.slack_receiver``)."""
    return f"http://127.0.0.1:{config.ports.slack}"


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None


def _path(environ: Mapping[str, str], name: str, local_default: Path | None) -> Path | None:
    raw = environ.get(name)
    if raw is not None:
        return Path(raw) if raw.strip() else None  # an empty value switches the file off
    return local_default


def load_settings(
    environ: Mapping[str, str] | None = None, config: PlatformConfig | None = None
) -> SlackSettings:
    """Settings for this container; raises :class:`ConfigurationError` if no webhook is configured."""
    from edp.resources import resources  # noqa: PLC0415 - the mapping loads its factories lazily

    environ = os.environ if environ is None else environ
    config = config or get_config()
    delivery = resources(config).alerts
    url = environ.get(WEBHOOK_URL_VAR) or None
    secret_id = environ.get(WEBHOOK_SECRET_VAR) or None
    runbook_base = environ.get(RUNBOOK_BASE_URL_VAR) or delivery.runbook_base_url
    if not url and not secret_id:
        url = delivery.webhook_url
    if not url and not secret_id:
        raise ConfigurationError(f"set {WEBHOOK_SECRET_VAR} (or {WEBHOOK_URL_VAR})")
    defaults_retry, defaults_gate = RetryPolicy(), GatePolicy()
    return SlackSettings(
        environment=config.env.value,
        region=config.stream.region,
        webhook_url=url,
        webhook_secret_id=secret_id,
        runbook_base_url=runbook_base,
        dead_letter_path=_path(environ, DEAD_LETTER_PATH_VAR, delivery.dead_letter_path),
        state_path=_path(environ, STATE_PATH_VAR, delivery.state_path),
        retry=RetryPolicy(
            max_attempts=max(1, int(_number(environ, "SLACK_MAX_ATTEMPTS", defaults_retry.max_attempts))),
            base_delay_s=_number(environ, "SLACK_RETRY_BASE_S", defaults_retry.base_delay_s),
            max_delay_s=_number(environ, "SLACK_RETRY_MAX_S", defaults_retry.max_delay_s),
            min_time_left_s=_number(environ, "SLACK_MIN_TIME_LEFT_S", defaults_retry.min_time_left_s),
            timeout_s=_number(environ, "SLACK_HTTP_TIMEOUT_S", defaults_retry.timeout_s),
        ),
        gate=GatePolicy(
            dedup_window_s=_number(environ, "SLACK_DEDUP_WINDOW_S", defaults_gate.dedup_window_s),
            rate_limit=max(1, int(_number(environ, "SLACK_RATE_LIMIT", defaults_gate.rate_limit))),
            rate_window_s=_number(environ, "SLACK_RATE_WINDOW_S", defaults_gate.rate_window_s),
        ),
    )
