"""Data quality: Great Expectations suites, the quality gate, and its records.

* :mod:`quality.suites` — the suites as data, derived from the event contract and ``lake_layout`` (stdlib);
* :mod:`quality.build_context` — ``python -m quality.build_context``: writes the GX file context in
  ``great_expectations/`` from those specs (idempotent; ``--check`` for CI);
* :mod:`quality.frames`, :mod:`quality.reconcile` — what each suite validates for one load plan;
* :mod:`quality.gate` — run a layer's checkpoints, record, raise ``quality_gate_failed``;
* :mod:`quality.operator` — ``QualityGateOperator`` for DAGs (cheap to import);
* :mod:`quality.records` — per-run JSON records and the latest result per layer.

Only :mod:`quality.suites`, :mod:`quality.records` and :mod:`quality.operator` import without GX,
pandas or delta-rs.
"""
