"""Airflow UI plugin: the local KPI and pipeline-health dashboard (QuickSight's local stand-in).

Mounts a small FastAPI app on the API server at ``/edp-dashboard/`` that serves the static site the
``warehouse_load`` DAG's BI step writes to ``<state dir>/dashboard/`` (HTML with the data inlined,
vendored Chart.js), and adds a "KPI dashboard" entry to the UI's Browse menu that shows it in the UI.
Until the first refresh the page explains how to fill it. On AWS the BI layer is QuickSight, so the
menu entry is only added locally.

The app serves files only (no queries, no writes); like every FastAPI plugin app it is outside
Airflow's auth, which is fine for the loopback-only local platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from edp.config import get_config
from edp.resources import resources
from edp.serving.names import DASHBOARD_URL_PREFIX, dashboard_dir

PLACEHOLDER = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>KPI dashboard</title></head>
<body style="font-family: system-ui, sans-serif; margin: 40px; max-width: 720px">
<h1>KPI dashboard</h1>
<p>Not built yet. The <code>warehouse_load</code> DAG rebuilds it after every gold build: quality gates,
warehouse load, then this page. Send traffic with <code>make send</code>, or trigger
<code>gold_build</code> in the Airflow UI.</p></body></html>"""


def create_app(site_dir: Path) -> FastAPI:
    """The dashboard app for the site folder ``site_dir`` (may not exist yet)."""
    app = FastAPI(title="Event data platform dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        page = site_dir / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-store"})
        return HTMLResponse(PLACEHOLDER, headers={"Cache-Control": "no-store"})

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, object]:
        page = site_dir / "index.html"
        return {"built": page.is_file(), "site": str(site_dir)}

    app.mount("/", StaticFiles(directory=site_dir, check_dir=False), name="site")
    return app


_config = get_config()
dashboard_app = create_app(dashboard_dir(_config))


class EdpDashboardPlugin(AirflowPlugin):
    name = "edp_dashboard"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": dashboard_app, "url_prefix": DASHBOARD_URL_PREFIX, "name": "EDP KPI dashboard"}
    ]
    # A link in the Airflow UI only where the dashboard is the BI layer (QuickSight has its own UI).
    external_views: ClassVar[list[dict[str, Any]]] = resources(_config).bi.ui_links()
