"""Supervision of the streaming job by Airflow: health verdicts, bounded restarts, one alert per incident.

* :mod:`streaming_supervision.supervise` — the steps of the ``streaming_supervisor`` DAG, as functions;
* :mod:`streaming_supervision.health` — the verdict (pure rules over an observation);
* :mod:`streaming_supervision.policy` — bounded restart attempts with exponential backoff;
* :mod:`streaming_supervision.state` — what is remembered between runs (file locally, Variable on AWS);
* :mod:`streaming_supervision.controllers` — start/stop/status: local runtime or Databricks job;
* :mod:`streaming_supervision.metrics` — the job's health facts (local file or CloudWatch);
* :mod:`streaming_supervision.silver` — the newest silver commit, from the Delta log without Spark;
* :mod:`streaming_supervision.notifier` / :mod:`streaming_supervision.operators` — the Airflow pieces.

Importing the package loads only the Airflow pieces, which need ``airflow.sdk`` and ``orchestration``:
DAG files import them at parse time. Everything else loads inside tasks.
"""

from streaming_supervision.notifier import ALERT_KIND, StreamingIncidentNotifier
from streaming_supervision.operators import StreamingControlOperator

__all__ = ["ALERT_KIND", "StreamingControlOperator", "StreamingIncidentNotifier"]
