"""Write the local dashboard as a static site: ``index.html`` with its data inlined, JS, CSS, ``data.json``.

The page needs no server logic and no network: the data is embedded in the HTML (so it also opens from
disk), Chart.js is vendored (``static/vendor/``). The Airflow plugin ``plugins/edp_dashboard.py`` serves
the folder at ``/edp-dashboard/``. Files are replaced atomically, so a reader never sees half a page.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).resolve().parent / "static"
DATA_PLACEHOLDER = "__DASHBOARD_DATA__"
VENDOR_CHART_JS = "vendor/chart.js-4.6.1/chart.umd.min.js"
ASSETS = ("style.css", "app.js", VENDOR_CHART_JS, "vendor/chart.js-4.6.1/LICENSE.md")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def inline_json(data: Mapping[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``</script>`` or comment openers."""
    text = json.dumps(data, sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def write_site(target: Path, data: Mapping[str, Any]) -> Path:
    """Write the dashboard into ``target``; returns the ``index.html`` path."""
    target.mkdir(parents=True, exist_ok=True)
    for asset in ASSETS:
        destination = target / asset
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(f".{destination.name}.tmp")
        shutil.copyfile(STATIC_DIR / asset, tmp)
        os.replace(tmp, destination)
    _write(target / "data.json", json.dumps(data, indent=2, sort_keys=True, default=str))
    page = (
        (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace(DATA_PLACEHOLDER, inline_json(data))
    )
    _write(target / "index.html", page)
    return target / "index.html"
