"""The real-time layer's processing: Kinesis records -> bronze, silver and quarantine Delta tables.

* :mod:`edp.stream.records` — contract check of one record payload (pure Python, used in a UDF);
* :mod:`edp.stream.transforms` — typed ``DataFrame -> DataFrame`` steps: :func:`to_bronze`,
  :func:`parse_envelopes`, :func:`split_valid_invalid`, :func:`dedupe_within_batch`,
  :func:`apply_pii_policy`;
* :mod:`edp.stream.writer` — the idempotent ``foreachBatch`` writer (:class:`MicroBatchWriter`);
* :mod:`edp.stream.tables` — table creation and the schema-evolution check;
* :mod:`edp.stream.pii` — the PII hash salt;
* :mod:`edp.stream.metrics` / :mod:`edp.stream.listener` — streaming health metrics
  (local JSON file or CloudWatch).

Submodules are imported explicitly by their users: ``records``, ``pii`` and ``metrics`` need no
pyspark, the rest do.
"""
