"""The local BI layer (QuickSight's stand-in): a static KPI and pipeline-health dashboard.

* :mod:`edp.serving.dashboard.data` — the page's data: reporting SQL on the local warehouse, health files;
* :mod:`edp.serving.dashboard.site` — writes ``<state dir>/dashboard/`` (HTML with inlined data, vendored Chart.js);
* :mod:`edp.serving.dashboard.operator` — ``DashboardRefreshOperator``, the BI step of ``warehouse_load`` locally.

The Airflow plugin ``plugins/edp_dashboard.py`` serves the site inside the Airflow UI.
"""
