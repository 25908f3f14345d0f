"""Headless Chromium for browser tests: launch options, Airflow login, full-page screenshots.

Playwright drives the distribution's Chromium (``/usr/bin/chromium``, ``apt-get install chromium``)
through ``executable_path``: the tests never download a browser. Screenshots go to
``artifacts/screenshots/`` (gitignored) under stable names, so runs can be compared side by side.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The platform shares 2 cores with Spark and the scheduler: UI requests can take seconds, and the
# SPA shows placeholders (even untranslated labels) until its API calls and translations arrive.
UI_TIMEOUT_MS = 60_000
EXPECT_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1600, "height": 1000}
# Graphs are drawn to fit the canvas: a larger window keeps node labels readable in screenshots.
GRAPH_VIEWPORT = {"width": 2000, "height": 1200}


def chromium_available() -> bool:
    return CHROMIUM.exists()


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Debian Chromium with the flags that keep it off the network and quiet."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A running headless Chromium, closed (with Playwright's driver) on exit.

    Also raises Playwright's ``expect`` timeout (a process-wide setting) from 5 s to 30 s.
    """
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, base_url: str, viewport: dict[str, int] | None = None) -> BrowserContext:
    """A fresh profile (no cookies, no local storage) whose relative URLs resolve against ``base_url``."""
    context = browser.new_context(base_url=base_url.rstrip("/"), viewport=viewport or VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.set_default_navigation_timeout(UI_TIMEOUT_MS)
    return context


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as ``artifacts/screenshots/<name>.png``; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_airflow_login(page: Page) -> None:
    """Open the SimpleAuthManager sign-in form (the SPA redirects there when signed out)."""
    page.goto("/", wait_until="domcontentloaded")
    page.wait_for_url("**/auth/login**")
    expect(page.get_by_role("heading", name="Sign into Airflow")).to_be_visible()


def sign_in_to_airflow(page: Page, username: str, password: str) -> None:
    """Fill and submit the sign-in form; returns once the UI's navigation bar is shown."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    expect(page.get_by_role("link", name="Dags", exact=True).first).to_be_visible()


def login_to_airflow(page: Page, username: str, password: str) -> None:
    """Sign in through the UI's own form, like a person would."""
    open_airflow_login(page)
    sign_in_to_airflow(page, username, password)


def open_ui_page(page: Page, path: str) -> None:
    """Navigate the SPA to ``path`` and let its API calls settle (the React app renders after them)."""
    page.goto(path, wait_until="domcontentloaded")
    page.wait_for_load_state("networkidle")


class AirflowApi:
    """Minimal client of Airflow's REST API, to cross-check what the UI renders."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = self._post("/auth/token", {"username": username, "password": password})["access_token"]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self._token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")


def parse_ui_time(value: str | None) -> datetime:
    """The instant of a ``<time datetime=...>`` the UI rendered (ISO-8601, UTC)."""
    assert value, "the UI rendered a <time> without a datetime attribute"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def accessible_name(locator: Locator) -> str:
    """The accessible name of the first match, as Chromium's accessibility tree reports it."""
    first_line = locator.first.aria_snapshot().splitlines()[0]
    match = re.match(r"""\s*-\s*'?[\w-]+ "(.*?)"(?: \[.*\])?'?:?$""", first_line)
    return match.group(1) if match else ""


def graph_edge(graph: Locator, source: str, target: str | re.Pattern[str]) -> Locator:
    """A graph edge by the label React Flow gives it: ``Edge from <source> to <target>``.

    Nodes are ``dag:<dag id>``, ``asset:<asset id>``, ``task:<dag id><separator><task id>`` in asset
    graphs, and bare task ids in a DAG's own graph; ``target`` may be a pattern (for task nodes).
    """
    if isinstance(target, re.Pattern):
        return graph.get_by_label(re.compile(rf"^Edge from {re.escape(source)} to {target.pattern}$"))
    return graph.get_by_label(f"Edge from {source} to {target}", exact=True)


def fit_graph(page: Page) -> Locator:
    """The React Flow canvas, zoomed to show every node (nodes out of view may not be rendered)."""
    graph = page.get_by_role("application")
    expect(graph).to_be_visible()
    graph.get_by_role("button", name="Fit View").click()
    page.wait_for_timeout(500)  # the fit animates; a screenshot should show the settled graph
    return graph


def show_dag_graph(page: Page, dag_id: str, dependencies: str = "All Dag Dependencies") -> Locator:
    """Open a DAG's Graph view with the given "Dependencies" option, details panel folded away.

    "All Dag Dependencies" draws the upstream and downstream DAGs and Assets around the DAG's tasks.
    """
    open_ui_page(page, f"/dags/{dag_id}")
    page.get_by_role("button", name="Show Graph (Press g)").click()
    page.get_by_role("button", name="Options").click()
    page.get_by_role("combobox", name="Dependencies").click()
    page.get_by_role("option", name=dependencies).click()
    page.keyboard.press("Escape")
    page.wait_for_load_state("networkidle")
    collapse = page.get_by_role("button", name="Collapse Details Panel")
    if collapse.is_visible():
        collapse.click()
    return fit_graph(page)
