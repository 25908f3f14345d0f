"""Local and Databricks Spark sessions with Delta Lake, shared by the streaming and batch jobs.

* :mod:`spark_runtime.jars`: cache the Delta jars once (``make setup``), then run offline.
* :mod:`spark_runtime.session`: ``get_spark(app_name)`` for in-process sessions.
* :mod:`spark_runtime.submit`: ``spark-submit`` command lines for our PySpark entry-point scripts.

Submodules are not imported here, so ``python -m spark_runtime.jars`` runs cleanly and importing
the package stays cheap.
"""
