"""The batch layer's logic: gold aggregates, compaction/vacuum and bronze -> silver replay.

Entry points live in ``include/spark/`` (``build_gold.py``, ``compact_tables.py``,
``replay_silver.py``); they parse arguments, open a session and call into this package:

* :mod:`batch_jobs.intervals` — data intervals and the dates each job touches (pure Python);
* :mod:`batch_jobs.gold` — typed ``DataFrame -> DataFrame`` gold builds from silver;
* :mod:`batch_jobs.gold_build` — one build: plan the interval, read silver once, overwrite partitions;
* :mod:`batch_jobs.silver` — the silver column names the builds read, derived from contract paths;
* :mod:`batch_jobs.enrichment` — seed dimensions (product catalog, geo) and the locale -> country rule;
* :mod:`batch_jobs.delta_io` — gold table creation and ``replaceWhere`` partition overwrites;
* :mod:`batch_jobs.compaction` — OPTIMIZE (bin-packing, Z-order) of touched partitions and VACUUM;
* :mod:`batch_jobs.policy` — the VACUUM retention floor (168 h), compaction target, Z-order columns;
* :mod:`batch_jobs.replay` — re-derive silver from bronze through the streaming job's transforms;
* :mod:`batch_jobs.cli` — what every entry point shares: Glue-tolerant argument parsing, platform
  environment, the Spark session.

``intervals``, ``policy``, ``silver`` and ``cli`` import without pyspark. The code sticks to
APIs that exist in Spark 3.5 / Delta 3.3 as well, the versions of AWS Glue 5.0.
"""
