"""The local alert path: moto SNS -> :mod:`~edp_local.alerting.sns_bridge` -> the ``sns_to_slack`` handler
-> :mod:`~edp_local.alerting.slack_receiver` (the Slack stand-in), each a component of ``make run``.

On AWS the same handler runs as a Lambda subscribed to the SNS topic and posts to the real Slack.
"""
