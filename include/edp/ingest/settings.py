"""Runtime settings of the ingest Lambda: API keys, IP salt, stream, quarantine and retry policy.

Secrets come from the environment, or from AWS Secrets Manager when only ``<NAME>_SECRET_ID`` is set
(read once per container at cold start). Resource names come from :mod:`platform_config`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping

from edp.config import PlatformConfig, get_config
from edp.resources import resources

API_KEYS_VAR = "INGEST_API_KEYS"
IP_SALT_VAR = "INGEST_IP_SALT"
SECRET_SUFFIX = "_SECRET_ID"  # noqa: S105 - a variable-name suffix, not a secret

LOCAL_DEMO_API_KEYS = {"local-demo-key": "demo-web"}  # same as edp_local.gateway.keys
"""Used only with ``PLATFORM_ENV=local`` when ``INGEST_API_KEYS`` is unset: ``x-api-key: local-demo-key``."""
LOCAL_DEV_IP_SALT = "local-development-salt"


class ConfigurationError(RuntimeError):
    """The function is deployed without a setting it cannot run without."""


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """PutRecords retries of failed entries: exponential backoff with full jitter, bounded attempts."""

    max_attempts: int = 5
    base_delay_s: float = 0.05
    max_delay_s: float = 1.0
    min_time_left_s: float = 1.0  # stop retrying when the Lambda has less than this left


@dataclasses.dataclass(frozen=True)
class IngestSettings:
    api_key_apps: Mapping[str, str]  # sha256(key) hex -> app name
    ip_salt: bytes
    stream_name: str
    region: str
    endpoint_url: str | None
    quarantine_root: str
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)

    def app_for_key(self, api_key: str) -> str | None:
        """Look keys up by digest so the comparison time says nothing about the stored keys."""
        return self.api_key_apps.get(key_digest(api_key))


def key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def _secret_value(secret_id: str, region: str) -> str:
    import boto3  # noqa: PLC0415 - only when a secret is configured, once per container

    response = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)
    return response["SecretString"]


def _setting(name: str, environ: Mapping[str, str], region: str) -> str | None:
    if value := environ.get(name):
        return value
    if secret_id := environ.get(name + SECRET_SUFFIX):
        return _secret_value(secret_id, region)
    return None


def parse_api_keys(raw: str) -> dict[str, str]:
    """``{"key": "app"}`` JSON to the digest map; rejects anything else loudly (a deploy error)."""
    try:
        keys = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{API_KEYS_VAR} is not JSON: {exc}") from None
    if not isinstance(keys, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
    ):
        raise ConfigurationError(f"{API_KEYS_VAR} must be a JSON object of key -> app name strings")
    return {key_digest(key): app for key, app in keys.items() if key and app}


def load_settings(
    environ: Mapping[str, str] | None = None, config: PlatformConfig | None = None
) -> IngestSettings:
    """Build settings for this container; raises :class:`ConfigurationError` when a secret is missing."""
    environ = os.environ if environ is None else environ
    config = config or get_config()
    raw_keys = _setting(API_KEYS_VAR, environ, config.stream.region)
    salt = _setting(IP_SALT_VAR, environ, config.stream.region)
    secrets = resources(config).secrets  # development values locally; none on AWS (fail closed)
    raw_keys = raw_keys or secrets.fallback(API_KEYS_VAR, json.dumps(LOCAL_DEMO_API_KEYS))
    salt = salt or secrets.fallback(IP_SALT_VAR, LOCAL_DEV_IP_SALT)
    if not raw_keys:
        raise ConfigurationError(f"set {API_KEYS_VAR} or {API_KEYS_VAR}{SECRET_SUFFIX}")
    if not salt:
        raise ConfigurationError(f"set {IP_SALT_VAR} or {IP_SALT_VAR}{SECRET_SUFFIX}")
    return IngestSettings(
        api_key_apps=parse_api_keys(raw_keys),
        ip_salt=salt.encode(),
        stream_name=config.stream.name,
        region=config.stream.region,
        endpoint_url=config.stream.endpoint_url or None,
        quarantine_root=config.lake.quarantine,
    )
