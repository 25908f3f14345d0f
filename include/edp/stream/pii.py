"""The salt of silver's PII hashes: from the environment, or AWS Secrets Manager on AWS.

* ``PII_HASH_SALT``: the salt itself (locally; on Databricks set it in the job's ``spark_env_vars`` from a
  secret scope, ``{{secrets/edp/pii_hash_salt}}``, so it never appears in job definitions);
* ``PII_HASH_SALT_SECRET_ID``: the id or ARN of a Secrets Manager secret whose string is the salt (read
  once at job start with the job's IAM role).

Locally (``PLATFORM_ENV=local``) a fixed development salt is used when neither is set, so hashes are
stable across restarts of the local platform. Elsewhere a missing salt stops the job: hashing without
the real salt would make silver's user ids unjoinable with everything hashed before.
Changing the salt changes every hash; it is a re-keying, done by rebuilding silver from bronze.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from edp.config import PlatformConfig, get_config
from edp.resources import resources

SALT_VAR = "PII_HASH_SALT"
SECRET_ID_VAR = "PII_HASH_SALT_SECRET_ID"  # noqa: S105 - the name of a variable, not a secret
LOCAL_DEV_SALT = "local-development-pii-salt"
MIN_SALT_CHARS = 16


class MissingSaltError(RuntimeError):
    """No usable PII hash salt is configured for a non-local environment."""


def _secret_string(secret_id: str, region: str) -> str:
    import boto3  # noqa: PLC0415 - only when a secret is configured, once per job start

    return boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_id)[
        "SecretString"
    ]


def load_pii_salt(environ: Mapping[str, str] | None = None, config: PlatformConfig | None = None) -> str:
    """The salt for :func:`edp.stream.transforms.hash_pii`; raises :class:`MissingSaltError`."""
    environ = os.environ if environ is None else environ
    config = config or get_config()
    salt = environ.get(SALT_VAR) or ""
    if not salt and (secret_id := environ.get(SECRET_ID_VAR)):
        salt = _secret_string(secret_id, config.stream.region)
    if not salt and (development := resources(config).secrets.fallback(SALT_VAR, LOCAL_DEV_SALT)):
        return development
    if len(salt) < MIN_SALT_CHARS:
        problem = "is not set" if not salt else f"is shorter than {MIN_SALT_CHARS} characters"
        raise MissingSaltError(f"the PII hash salt {problem}: set {SALT_VAR} or {SECRET_ID_VAR}")
    return salt
