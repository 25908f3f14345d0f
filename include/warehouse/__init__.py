"""The serving layer: gold -> Redshift (DuckDB locally), Athena over the lake, and the BI refresh.

* :mod:`warehouse.names` — object names, locations and Assets (stdlib; DAGs import it);
* :mod:`warehouse.plan` — the load plan every serving step works from (interval, dates, versions);
* :mod:`warehouse.export` — the interval's gold partitions as Parquet, the COPY source;
* :mod:`warehouse.transpile` — Redshift SQL files on DuckDB: statement splitting, sqlglot rewrites;
* :mod:`warehouse.local_warehouse` — the local DuckDB warehouse, one transaction per SQL file;
* :mod:`warehouse.lake_catalog` — the local Glue/Athena: same DDL files, DuckDB over delta-rs;
* :mod:`warehouse.operators` — task factories: provider operators on AWS, local twins locally;
* :mod:`warehouse.redshift` — ``RedshiftScriptOperator`` (AWS only);
* :mod:`warehouse.resources` — where the local pieces live, for ``make status``.

See ``docs/serving.md``. SQL lives in ``include/sql/`` (``redshift/``, ``athena/``, ``dashboard/``), templated by Airflow.
"""
