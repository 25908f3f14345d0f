"""SNS -> Slack: the function that turns every message on the platform alert topic into a Slack post.

Entry point: :func:`slack_alerts.handler.lambda_handler`. Modules:

* :mod:`~slack_alerts.notifications`: reads an SNS record as a platform alert, a CloudWatch alarm or a
  foreign message;
* :mod:`~slack_alerts.gate`: dedup and per-kind rate limiting (alert storms fold into summaries);
* :mod:`~slack_alerts.messages`: Slack Block Kit layout;
* :mod:`~slack_alerts.webhook`: the webhook POST with retries, backoff, jitter and ``Retry-After``;
* :mod:`~slack_alerts.dead_letter`: the local dead-letter file;
* :mod:`~slack_alerts.settings`: environment variables and their local defaults.

Deployment on AWS (subscription, retries, on-failure destination, concurrency) is in ``README.md``
next to this package. Locally ``local_alerting.sns_bridge`` runs this same handler for each message
moto's SNS delivers, and ``local_alerting.slack_receiver`` stands in for Slack.
"""
