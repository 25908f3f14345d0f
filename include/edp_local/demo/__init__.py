"""``make demo``: a bounded run of the whole local platform, from app traffic to the warehouse, reconciled.

``python -m edp_local.demo --events N`` starts its own isolated platform (``.platform/demo``,
``data/demo/lake``; no live traffic, no scheduled runs), sends N events through the real gateway,
waits until the streaming job has drained them into bronze and silver, drives every DAG through one
data interval over the Airflow REST API, then prints (and writes as JSON) a summary and reconciles
every layer against the one before it. Exits non-zero when a check fails.

One idea per module: :mod:`~edp_local.demo.isolation` (environment, refusal, wipe),
:mod:`~edp_local.demo.platform_control` (up/down), :mod:`~edp_local.demo.traffic` (load generator),
:mod:`~edp_local.demo.lake_counts` and :mod:`~edp_local.demo.drain` (lake figures, waiting for the stream),
:mod:`~edp_local.demo.dag_driver` (DAG runs), :mod:`~edp_local.demo.serving_counts` (gold vs silver,
warehouse), :mod:`~edp_local.demo.observations` (quality records, Slack alerts),
:mod:`~edp_local.demo.memory` (peak RSS), :mod:`~edp_local.demo.reconcile` (pure checks),
:mod:`~edp_local.demo.report` (table and JSON), :mod:`~edp_local.demo.stages` (wall time per stage).
The Airflow REST calls go through :mod:`edp_local.runtime.airflow_api`.
"""
