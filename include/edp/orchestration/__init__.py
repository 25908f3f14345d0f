"""Shared orchestration pieces for DAG files: default arguments, DAG keyword arguments, task-time config.

DAG files import these modules at top level, so they and what they import must stay cheap:
standard library, ``airflow.sdk`` and ``platform_config`` only. Provider and AWS SDK imports happen
inside functions that run in tasks or callbacks (:mod:`edp.monitoring.health` is task-time only).
"""
