"""Where the local alerting components listen and keep their files (standard library only: ``make status``
imports this through the registry)."""

from __future__ import annotations

from pathlib import Path

from edp.config import PlatformConfig

SNS_PATH = "/sns"
LOCAL_WEBHOOK_PATH = "/services/LOCAL/ALERTS/platform-alerts"  # same as edp.alerting.slack.settings


def bridge_port(config: PlatformConfig) -> int:
    return config.ports.alert_bridge


def bridge_url(config: PlatformConfig, port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or bridge_port(config)}"


def sns_endpoint(config: PlatformConfig, port: int | None = None) -> str:
    """The HTTP endpoint subscribed to the alert topic."""
    return bridge_url(config, port) + SNS_PATH


def slack_receiver_url(config: PlatformConfig) -> str:
    return f"http://127.0.0.1:{config.ports.slack}"


def slack_webhook_url(config: PlatformConfig) -> str:
    return slack_receiver_url(config) + LOCAL_WEBHOOK_PATH


def messages_path(config: PlatformConfig) -> Path:
    return config.state_dir / "slack" / "messages.jsonl"


def dead_letter_path(config: PlatformConfig) -> Path:
    """The handler's default local dead-letter file (``edp.alerting.slack.settings``)."""
    return config.state_dir / "slack" / "dead_letter.jsonl"


def on_failure_path(config: PlatformConfig) -> Path:
    return config.state_dir / "slack" / "on_failure.jsonl"


def spool_dir(config: PlatformConfig) -> Path:
    return config.state_dir / "alerting" / "spool"
