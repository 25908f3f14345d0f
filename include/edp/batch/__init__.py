"""The batch layer's logic: gold aggregates, compaction/vacuum and bronze -> silver replay.

Entry points live in ``include/spark/`` (``build_gold.py``, ``compact_tables.py``,
``replay_silver.py``); they parse arguments, open a session and call into this package:

* :mod:`edp.lake.intervals` — data intervals and the dates each job touches (pure Python);
* :mod:`edp.batch.gold` — typed ``DataFrame -> DataFrame`` gold builds from silver;
* :mod:`edp.batch.gold_build` — one build: plan the interval, read silver once, overwrite partitions;
* :mod:`edp.batch.silver` — the silver column names the builds read, derived from contract paths;
* :mod:`edp.batch.enrichment` — seed dimensions (product catalog, geo) and the locale -> country rule;
* :mod:`edp.batch.delta_io` — gold table creation and ``replaceWhere`` partition overwrites;
* :mod:`edp.batch.compaction` — OPTIMIZE (bin-packing, Z-order) of touched partitions and VACUUM;
* :mod:`edp.batch.policy` — the VACUUM retention floor (168 h), compaction target, Z-order columns;
* :mod:`edp.batch.replay` — re-derive silver from bronze through the streaming job's transforms;
* :mod:`edp.batch.cli` — what every entry point shares: Glue-tolerant argument parsing, platform
  environment, the Spark session.

``intervals``, ``policy``, ``silver`` and ``cli`` import without pyspark. The code sticks to
APIs that exist in Spark 3.5 / Delta 3.3 as well, the versions of AWS Glue 5.0.
"""
