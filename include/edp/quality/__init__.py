"""Data quality: Great Expectations suites, the quality gate, and its records.

* :mod:`edp.quality.suites` — the suites as data, derived from the event contract and ``lake_layout`` (stdlib);
* :mod:`edp.quality.build_context` — ``python -m edp.quality.build_context``: writes the GX file context in
  ``great_expectations/`` from those specs (idempotent; ``--check`` for CI);
* :mod:`edp.quality.frames`, :mod:`edp.quality.reconcile` — what each suite validates for one load plan;
* :mod:`edp.quality.gate` — run a layer's checkpoints, record, raise ``quality_gate_failed``;
* :mod:`edp.quality.operator` — ``QualityGateOperator`` for DAGs (cheap to import);
* :mod:`edp.quality.records` — per-run JSON records and the latest result per layer.

Only :mod:`edp.quality.suites`, :mod:`edp.quality.records` and :mod:`edp.quality.operator` import without GX,
pandas or delta-rs.
"""
