"""The real-time layer's processing: Kinesis records -> bronze, silver and quarantine Delta tables.

* :mod:`event_pipeline.records` — contract check of one record payload (pure Python, used in a UDF);
* :mod:`event_pipeline.transforms` — typed ``DataFrame -> DataFrame`` steps: :func:`to_bronze`,
  :func:`parse_envelopes`, :func:`split_valid_invalid`, :func:`dedupe_within_batch`,
  :func:`apply_pii_policy`;
* :mod:`event_pipeline.writer` — the idempotent ``foreachBatch`` writer (:class:`MicroBatchWriter`);
* :mod:`event_pipeline.tables` — table creation and the schema-evolution check;
* :mod:`event_pipeline.pii` — the PII hash salt;
* :mod:`event_pipeline.metrics` / :mod:`event_pipeline.listener` — streaming health metrics
  (local JSON file or CloudWatch).

Submodules are imported explicitly by their users: ``records``, ``pii`` and ``metrics`` need no
pyspark, the rest do.
"""
