"""Supervision of the streaming job by Airflow: health verdicts, bounded restarts, one alert per incident.

* :mod:`edp.stream.supervision.supervise` — the steps of the ``streaming_supervisor`` DAG, as functions;
* :mod:`edp.stream.supervision.health` — the verdict (pure rules over an observation);
* :mod:`edp.stream.supervision.policy` — bounded restart attempts with exponential backoff;
* :mod:`edp.stream.supervision.state` — what is remembered between runs, in the state store;
* :mod:`edp.stream.supervision.controllers` — start/stop/status of the Databricks job;
* :mod:`edp.stream.supervision.platform` — controller and health bounds per platform (the local twin is
  ``edp_local.runtime.streaming_control``; :mod:`edp.resources` picks one);
* :mod:`edp.stream.supervision.metrics` — the job's health facts (local file or CloudWatch);
* :mod:`edp.lake.delta_log` — the newest silver commit, from the Delta log without Spark;
* :mod:`edp.stream.supervision.operators` — the Airflow operator that defers while a run stops.

Importing the package loads only the Airflow pieces, which need ``airflow.sdk`` and ``orchestration``:
DAG files import them at parse time. Everything else loads inside tasks.
"""
