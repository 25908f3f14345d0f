"""The serving layer: gold -> Redshift (DuckDB locally), Athena over the lake, and the BI refresh.

* :mod:`edp.serving.names` — object names, locations and Assets (stdlib; DAGs import it);
* :mod:`edp.serving.plan` — the load plan every serving step works from (interval, dates, versions);
* :mod:`edp.serving.export` — the interval's gold partitions as Parquet, the COPY source;
* :mod:`edp.serving.transpile` — Redshift SQL files on DuckDB: statement splitting, sqlglot rewrites;
* :mod:`edp.serving.local_warehouse` — the local DuckDB warehouse, one transaction per SQL file;
* :mod:`edp.serving.lake_catalog` — the local Glue/Athena: same DDL files, DuckDB over delta-rs;
* :mod:`edp.serving.operators` — task factories: provider operators on AWS, local twins locally;
* :mod:`edp.serving.redshift` — ``RedshiftScriptOperator`` (AWS only);
* :mod:`edp_local.runtime.serving_status` — where the local pieces live, for ``make status``.

See ``docs/serving.md``. SQL lives in ``include/sql/`` (``redshift/``, ``athena/``, ``dashboard/``), templated by Airflow.
"""
