"""Alerting: platform alerts from Airflow tasks to SNS, and the SNS-to-Slack Lambda (:mod:`edp.alerting.slack`)."""
