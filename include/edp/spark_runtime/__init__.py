"""Local and Databricks Spark sessions with Delta Lake, shared by the streaming and batch jobs.

* :mod:`edp.spark_runtime.jars`: cache the Delta jars once (``make setup``), then run offline.
* :mod:`edp.spark_runtime.session`: ``get_spark(app_name)`` for in-process sessions.
* :mod:`edp.spark_runtime.submit`: ``spark-submit`` command lines for our PySpark entry-point scripts.

Submodules are not imported here, so ``python -m edp.spark_runtime.jars`` runs cleanly and importing
the package stays cheap.
"""
