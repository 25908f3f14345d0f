"""Alerting: the SNS alert topic, the sns_to_slack Lambda with its dead-letter queue, the CloudWatch alarms.

The alarms are generated from :func:`edp.monitoring.alarms.platform_alarms`, the definitions the
``monitoring_alarms`` DAG applies: both produce the same alarms, so the DAG finds them unchanged.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from edp.alerting.slack.settings import RUNBOOK_BASE_URL_VAR, WEBHOOK_SECRET_VAR
from edp.monitoring.alarms import AlarmSpec, platform_alarms
from edp_infra.nag import suppress
from edp_infra.settings import InfraSettings
from edp_infra.stacks.common import platform_key
from edp_infra.stacks.functions import platform_function
from edp_infra.stacks.secrets import SecretsStack

SLACK_TIMEOUT = Duration.seconds(120)  # six webhook attempts with backoff up to 20 s fit in it


class AlertsStack(Stack):
    def __init__(
        self, scope: Construct, id_: str, *, settings: InfraSettings, secrets: SecretsStack, **kwargs
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        config = settings.platform
        self.key = platform_key(self, "AlertsKey", settings, "alerts")
        # CloudWatch alarm actions publish to the encrypted topic, so the service must use the key.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "AlertTopic",
            topic_name=config.sns.alerts_topic,
            display_name="Event data platform alerts",
            master_key=self.key,
            enforce_ssl=True,
        )

        self.dead_letters = sqs.Queue(
            self,
            "SlackDeadLetters",
            queue_name=f"{settings.prefix}-sns-to-slack-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        suppress(
            self.dead_letters,
            [("AwsSolutions-SQS3", "This queue is the dead-letter queue of the sns_to_slack Lambda itself.")],
        )
        environment = {WEBHOOK_SECRET_VAR: secrets.slack_webhook.secret_arn}
        if settings.runbook_base_url:
            environment[RUNBOOK_BASE_URL_VAR] = settings.runbook_base_url
        self.function, role, _ = platform_function(
            self,
            "SnsToSlack",
            settings,
            function="sns_to_slack",
            memory_mb=256,
            timeout=SLACK_TIMEOUT,
            environment=environment,
            reserved_concurrency=1,  # one poster: dedup and rate limits live in the container's memory
            dead_letter_queue=self.dead_letters,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[secrets.slack_webhook.secret_arn]
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[secrets.key.key_arn]))
        self.topic.add_subscription(subscriptions.LambdaSubscription(self.function))
        suppress(
            role,
            [
                (
                    "AwsSolutions-IAM5",
                    "Log streams are created at run time; the wildcard is limited to this function's log group.",
                )
            ],
        )

        self.alarms = [self._alarm(spec) for spec in platform_alarms(config)]
        CfnOutput(self, "AlertTopicArn", value=self.topic.topic_arn)
        CfnOutput(self, "SlackDeadLetterQueueUrl", value=self.dead_letters.queue_url)

    def _alarm(self, spec: AlarmSpec) -> cloudwatch.CfnAlarm:
        request = spec.request()
        actions = [self.topic.topic_arn]
        return cloudwatch.CfnAlarm(
            self,
            spec.name.removeprefix("edp-platform-").title().replace("-", ""),
            alarm_name=request["AlarmName"],
            alarm_description=request["AlarmDescription"],
            actions_enabled=request["ActionsEnabled"],
            alarm_actions=actions,
            ok_actions=actions,
            namespace=request["Namespace"],
            metric_name=request["MetricName"],
            dimensions=[
                cloudwatch.CfnAlarm.DimensionProperty(name=d["Name"], value=d["Value"])
                for d in request["Dimensions"]
            ],
            statistic=request["Statistic"],
            period=request["Period"],
            evaluation_periods=request["EvaluationPeriods"],
            datapoints_to_alarm=request["DatapointsToAlarm"],
            threshold=request["Threshold"],
            comparison_operator=request["ComparisonOperator"],
            treat_missing_data=request["TreatMissingData"],
        )
