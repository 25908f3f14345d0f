"""SNS -> Slack: the function that turns every message on the platform alert topic into a Slack post.

Entry point: :func:`edp.alerting.slack.handler.lambda_handler`. Modules:

* :mod:`~edp.alerting.slack.notifications`: reads an SNS record as a platform alert, a CloudWatch alarm or a
  foreign message;
* :mod:`~edp.alerting.slack.gate`: dedup and per-kind rate limiting (alert storms fold into summaries);
* :mod:`~edp.alerting.slack.messages`: Slack Block Kit layout;
* :mod:`~edp.alerting.slack.webhook`: the webhook POST with retries, backoff, jitter and ``Retry-After``;
* :mod:`~edp.alerting.slack.dead_letter`: the local dead-letter file;
* :mod:`~edp.alerting.slack.settings`: environment variables and their local defaults.

Deployment on AWS (subscription, retries, on-failure destination, concurrency) is in ``README.md``
next to this package. Locally ``edp_local.alerting.sns_bridge`` runs this same handler for each message
moto's SNS delivers, and ``edp_local.alerting.slack_receiver`` stands in for Slack.
"""
