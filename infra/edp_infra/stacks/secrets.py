"""Secrets Manager secrets the platform reads; their values never appear in code or templates.

The two salts are generated here (random, 48 characters) and must never rotate: a new salt re-keys every
hash. The API-key map starts as ``{}`` (every key refused, fail-closed) and the Slack webhook as a random
placeholder; docs/deploy.md says how to set both.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from edp_infra.nag import suppress
from edp_infra.settings import InfraSettings
from edp_infra.stacks.common import platform_key

NO_ROTATION = (
    "AwsSolutions-SMG4",
    "Salts must not rotate (a new salt re-keys every hash); API keys and the Slack webhook are rotated "
    "at their source (API Gateway, Slack) and copied in, as docs/deploy.md describes.",
)


class SecretsStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, settings: InfraSettings, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        self.key = platform_key(self, "SecretsKey", settings, "secrets")

        def salt(id_: str, name: str, description: str) -> sm.Secret:
            return sm.Secret(
                self, id_, secret_name=settings.secret_name(name), description=description,
                encryption_key=self.key, removal_policy=RemovalPolicy.RETAIN,
                generate_secret_string=sm.SecretStringGenerator(password_length=48, exclude_punctuation=True),
            )  # fmt: skip

        self.ip_salt = salt("IngestIpSalt", "ingest/ip-salt", "Salt of the client-IP hash in ingest metadata")
        self.pii_salt = salt(
            "PiiSalt", "stream/pii-salt", "Salt of silver's PII hashes (copy to the Databricks scope)"
        )
        self.api_keys = sm.Secret(
            self,
            "IngestApiKeys",
            secret_name=settings.secret_name("ingest/api-keys"),
            description='{"<api key>": "<app>"} of the ingest API; {} refuses every key until filled',
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
            secret_string_value=SecretValue.unsafe_plain_text("{}"),  # not a secret: an empty map
        )
        self.slack_webhook = sm.Secret(
            self,
            "SlackWebhook",
            secret_name=settings.secret_name("alerts/slack-webhook"),
            description="Slack incoming-webhook URL of the alert channel (replace the generated placeholder)",
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for secret in (self.ip_salt, self.pii_salt, self.api_keys, self.slack_webhook):
            suppress(secret, [NO_ROTATION])
        for name, secret in {
            "IngestApiKeysSecretArn": self.api_keys, "IngestIpSaltSecretArn": self.ip_salt,
            "PiiSaltSecretArn": self.pii_salt, "SlackWebhookSecretArn": self.slack_webhook,
        }.items():  # fmt: skip
            CfnOutput(self, name, value=secret.secret_arn)
