"""``make demo``: a bounded run of the whole local platform, from app traffic to the warehouse, reconciled.

``python -m platform_demo --events N`` starts its own isolated platform (``.platform/demo``,
``data/demo/lake``; no live traffic, no scheduled runs), sends N events through the real gateway,
waits until the streaming job has drained them into bronze and silver, drives every DAG through one
data interval over the Airflow REST API, then prints (and writes as JSON) a summary and reconciles
every layer against the one before it. Exits non-zero when a check fails.

One idea per module: :mod:`~platform_demo.isolation` (environment, refusal, wipe),
:mod:`~platform_demo.platform_control` (up/down), :mod:`~platform_demo.traffic` (load generator),
:mod:`~platform_demo.lake_counts` and :mod:`~platform_demo.drain` (lake figures, waiting for the stream),
:mod:`~platform_demo.dag_driver` (DAG runs), :mod:`~platform_demo.serving_counts` (gold vs silver,
warehouse), :mod:`~platform_demo.observations` (quality records, Slack alerts),
:mod:`~platform_demo.memory` (peak RSS), :mod:`~platform_demo.reconcile` (pure checks),
:mod:`~platform_demo.report` (table and JSON), :mod:`~platform_demo.stages` (wall time per stage).
The Airflow REST calls go through :mod:`local_runtime.airflow_api`.
"""
