"""The Airflow 3 UI and the local KPI dashboard in headless Chromium, after the demo ran every DAG once.

Signs in through SimpleAuthManager's form, then checks what a person would look at: every platform DAG
listed with a recent successful run, the gold_build grid, the Assets view, the lineage of the medallion
chain (bronze -> silver -> gold -> warehouse -> dashboard) in the asset and DAG graphs, and the KPI
dashboard plugin page with real figures. Full-page screenshots land in ``artifacts/screenshots/``.

Selectors are roles, accessible names, visible text and URLs; React Flow labels graph edges
``Edge from <node> to <node>`` (nodes ``dag:<id>``, ``asset:<id>``, ``task:<dag>…<task>``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from edp.config import get_config
from edp.lake import BRONZE_EVENTS, SILVER_EVENTS
from edp.lake.gold import GOLD_TABLES
from edp.serving.names import FACT_TABLES, dashboard_asset
from edp_local.runtime.environment import ADMIN_USER, DEFAULT_ADMIN_PASSWORD
from tests.e2e.browser import (
    GRAPH_VIEWPORT,
    REPO_ROOT,
    VIEWPORT,
    AirflowApi,
    accessible_name,
    chromium,
    chromium_available,
    fit_graph,
    graph_edge,
    login_to_airflow,
    new_context,
    open_airflow_login,
    open_ui_page,
    parse_ui_time,
    screenshot,
    show_dag_graph,
    sign_in_to_airflow,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(2400),  # the first test may pay the make demo fixture (conftest.py)
    # checked at collection, so a machine without Chromium does not start the demo platform for nothing
    pytest.mark.skipif(
        not chromium_available(),
        reason="Chromium not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]

PLATFORM_DAGS = sorted(p.stem for p in (REPO_ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
BRONZE = BRONZE_EVENTS.name
SILVER = SILVER_EVENTS.name
GOLD = sorted(spec.name for spec in GOLD_TABLES.values())
WAREHOUSE = sorted(f"warehouse.{table}" for table in FACT_TABLES.values())
DASHBOARD = dashboard_asset(get_config()).name
MEDALLION_ASSETS = [BRONZE, SILVER, *GOLD, *WAREHOUSE, DASHBOARD]
# "Recent": the demo ran the DAGs minutes ago; a day-old run would mean the UI shows stale history.
RECENT = timedelta(hours=6)
# Scheduled runs may start after the demo's; give them time to finish before reading the latest state.
SETTLE_SECONDS = 120
IN_FLIGHT = {"queued", "running"}
DASHBOARD_CHARTS = {"users", "sessions", "funnel", "revenue", "categories", "errors"}


def task_node(dag_id: str, task_id: str) -> re.Pattern[str]:
    """A task node id in the asset graph: ``task:<dag>``, the UI's separator, ``<task>``."""
    return re.compile(rf"task:{re.escape(dag_id)}\S*?{re.escape(task_id)}")


@pytest.fixture(scope="module")
def credentials(demo_platform: Any) -> tuple[str, str]:
    # the demo fixture yields even when `make demo` failed, so its own test can report why
    if getattr(demo_platform, "returncode", 0) != 0:
        pytest.fail(
            f"the demo did not finish (exit {demo_platform.returncode}): nothing to look at in the UI"
        )
    return ADMIN_USER, demo_platform.env.get("AIRFLOW_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as headless_chromium:
        yield headless_chromium


@pytest.fixture(scope="module")
def ui(browser: Browser, demo_platform: Any, credentials: tuple[str, str]) -> Iterator[Page]:
    """One signed-in Airflow UI tab shared by the module's tests (signing in costs seconds)."""
    context = new_context(browser, demo_platform.airflow_url)
    page = context.new_page()
    login_to_airflow(page, *credentials)
    yield page
    context.close()


@pytest.fixture
def large_ui(ui: Page) -> Iterator[Page]:
    """The signed-in tab in a larger window, for graphs (they shrink to fit the canvas)."""
    ui.set_viewport_size(GRAPH_VIEWPORT)
    yield ui
    ui.set_viewport_size(VIEWPORT)


@pytest.fixture(scope="module")
def api(demo_platform: Any, credentials: tuple[str, str]) -> AirflowApi:
    return AirflowApi(demo_platform.airflow_url, *credentials)


@pytest.fixture(scope="module")
def asset_ids(api: AirflowApi) -> dict[str, int]:
    """Asset name -> id: the graphs label nodes by id (``asset:<id>``)."""
    assets = api.get("/api/v2/assets", limit=100)["assets"]
    ids = {asset["name"]: asset["id"] for asset in assets}
    missing = sorted(set(MEDALLION_ASSETS) - set(ids))
    assert not missing, f"assets not registered in Airflow: {missing}"
    return ids


def test_the_login_page_rejects_a_wrong_password_and_signs_the_admin_in(
    browser: Browser, demo_platform: Any, credentials: tuple[str, str]
) -> None:
    context = new_context(browser, demo_platform.airflow_url)
    try:
        page = context.new_page()
        open_airflow_login(page)
        expect(page.get_by_label("Username")).to_be_editable()
        expect(page.get_by_label("Password")).to_be_editable()
        screenshot(page, "airflow-login")

        username, password = credentials
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password + "-wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Invalid credentials")).to_be_visible()
        assert "/auth/login" in page.url

        sign_in_to_airflow(page, username, password)
        for section in ("Dags", "Assets"):
            expect(page.get_by_role("link", name=section, exact=True).first).to_be_visible()
        expect(page.get_by_role("button", name="Browse")).to_be_visible()
    finally:
        context.close()


def dag_row(page: Page, dag_id: str) -> Locator:
    """A DAG's row in the DAG list's table view."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=dag_id, exact=True))


def latest_run_link(page: Page, dag_id: str) -> Locator:
    """The "Latest Run" link of a DAG's row in the DAG list's table view."""
    return dag_row(page, dag_id).locator(f'a[href^="/dags/{dag_id}/runs/"]')


def read_latest_runs(page: Page) -> dict[str, tuple[str, str, str | None]]:
    """dag_id -> (state, run id, run time) as the DAG list renders them; state "none" without a run."""
    runs: dict[str, tuple[str, str, str | None]] = {}
    for dag_id in PLATFORM_DAGS:
        link = latest_run_link(page, dag_id)
        if link.count() == 0:
            runs[dag_id] = ("none", "", None)
            continue
        name = accessible_name(link)  # "2025-06-01 12:00:00 success": the time, then the state badge
        run_id = link.first.get_attribute("href").rsplit("/runs/", 1)[1]
        runs[dag_id] = (name.rsplit(" ", 1)[-1], run_id, link.first.locator("time").get_attribute("datetime"))
    return runs


def wait_for_latest_runs_to_settle(page: Page) -> dict[str, tuple[str, str, str | None]]:
    """Re-read the DAG list while latest runs are in flight (scheduled runs may follow the demo's)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    runs = read_latest_runs(page)
    while time.monotonic() < deadline and any(state in IN_FLIGHT for state, *_ in runs.values()):
        page.wait_for_timeout(5_000)
        page.reload(wait_until="networkidle")
        expect(dag_row(page, PLATFORM_DAGS[-1])).to_be_visible()
        runs = read_latest_runs(page)
    return runs


def newest_successful_run(page: Page, dag_id: str) -> tuple[str, datetime]:
    """Open the DAG's Runs tab filtered to successful runs; the newest run's id and run-after time."""
    open_ui_page(page, f"/dags/{dag_id}/runs?state=success")
    rows = page.get_by_role("row").filter(has=page.locator(f'a[href^="/dags/{dag_id}/runs/"]'))
    newest = rows.first
    expect(newest.get_by_role("cell", name="Success", exact=True)).to_be_visible()
    run_link = newest.locator(f'a[href^="/dags/{dag_id}/runs/"]').filter(has=page.locator("time")).first
    run_id = run_link.get_attribute("href").rsplit("/runs/", 1)[1]
    return run_id, parse_ui_time(run_link.locator("time").get_attribute("datetime"))


def demo_run_ids(summary: dict[str, Any]) -> dict[str, set[str]]:
    """dag_id -> the ids of the runs the demo drove to success (its summary lists them)."""
    runs: dict[str, set[str]] = {}
    for run in summary.get("dag_runs", []):
        if run.get("state") == "success":
            runs.setdefault(run["dag_id"], set()).add(run["run_id"])
    return runs


def test_the_dag_list_shows_every_platform_dag_with_a_recent_successful_run(
    ui: Page, api: AirflowApi, demo_platform: Any
) -> None:
    open_ui_page(ui, "/dags")
    ui.get_by_role("button", name="Show table view").click()
    # "0 Dags" and placeholder rows show while the table loads
    expect(ui.get_by_role("heading", name=re.compile(r"^[1-9]\d* Dags?$"))).to_be_visible()
    for dag_id in PLATFORM_DAGS:
        expect(dag_row(ui, dag_id)).to_be_visible()
    runs = wait_for_latest_runs_to_settle(ui)
    screenshot(ui, "airflow-dags")

    not_run_or_failed = {
        dag: state for dag, (state, *_) in runs.items() if state not in {"success", *IN_FLIGHT}
    }
    assert not not_run_or_failed, f"latest run state in the DAG list: {not_run_or_failed}"
    now = datetime.now(UTC)
    demo_runs = demo_run_ids(demo_platform.summary or {})
    for dag_id, (state, run_id, run_time) in runs.items():
        if state != "success":  # a newer run is still going: its Runs tab must show the demo's success
            run_id, started = newest_successful_run(ui, dag_id)
        else:
            started = parse_ui_time(run_time)
        assert now - started < RECENT, (dag_id, run_id, started)
        # the UI shows what the API knows: the same run, successful
        assert api.dag_run(dag_id, run_id)["state"] == "success", (dag_id, run_id)
        if dag_id in demo_runs:  # and it is the run the demo drove (scheduled runs are off in the demo)
            assert run_id in demo_runs[dag_id], (dag_id, run_id, demo_runs[dag_id])


def test_the_gold_build_run_page_shows_the_successful_build_in_the_grid_and_task_list(ui: Page) -> None:
    run_id, _ = newest_successful_run(ui, "gold_build")
    open_ui_page(ui, f"/dags/gold_build/runs/{run_id}")
    expect(ui.get_by_role("heading", name=run_id, exact=True)).to_be_visible()
    # the run's task instances table, and the grid's cell for this run (a link to the task instance)
    expect(ui.get_by_role("row", name=re.compile(r"^build_gold Success\b"))).to_be_visible()
    expect(ui.locator(f'a[href="/dags/gold_build/runs/{run_id}/tasks/build_gold"]').first).to_be_visible()
    expect(ui.get_by_role("link", name="build_gold", exact=True).first).to_be_visible()
    screenshot(ui, "airflow-gold-build")


def test_the_gold_build_graph_shows_the_task_writing_the_six_gold_assets(
    large_ui: Page, asset_ids: dict[str, int]
) -> None:
    graph = show_dag_graph(large_ui, "gold_build")
    expect(graph.get_by_role("link", name="build_gold", exact=True)).to_be_visible()
    for gold in GOLD:
        expect(graph_edge(graph, "dag:gold_build", f"asset:{asset_ids[gold]}")).to_have_count(1)
        expect(graph.get_by_role("link", name=gold, exact=True)).to_be_visible()
    screenshot(large_ui, "airflow-gold-build-graph")


def test_the_assets_view_lists_the_medallion_tables_with_events_from_the_demo(ui: Page) -> None:
    open_ui_page(ui, "/assets")
    expect(ui.get_by_role("heading", name=re.compile(r"^\d+ Assets?$"))).to_be_visible()
    for name in MEDALLION_ASSETS:
        expect(ui.get_by_role("link", name=name, exact=True)).to_have_attribute(
            "href", re.compile(r"/assets/\d+$")
        )

    now = datetime.now(UTC)
    # gold_build and warehouse_load ran in the demo, so their outputs have a recent "Last Asset Event"
    for name in [*GOLD, *WAREHOUSE, DASHBOARD]:
        row = ui.get_by_role("row").filter(has=ui.get_by_role("link", name=name, exact=True))
        last_event = row.locator("time")
        expect(last_event).to_have_count(1)
        assert now - parse_ui_time(last_event.get_attribute("datetime")) < RECENT, name
    # warehouse_load is scheduled on each gold asset
    gold_row = ui.get_by_role("row").filter(has=ui.get_by_role("link", name=GOLD[0], exact=True))
    expect(gold_row.get_by_role("button", name="1 Dag")).to_be_visible()
    screenshot(ui, "airflow-assets")


def test_the_asset_graph_shows_gold_build_feeding_warehouse_load_feeding_the_dashboard(
    large_ui: Page, asset_ids: dict[str, int]
) -> None:
    open_ui_page(large_ui, f"/assets/{asset_ids[DASHBOARD]}")
    large_ui.get_by_role("button", name="Scheduling", exact=True).click()
    graph = fit_graph(large_ui)

    asset = {name: f"asset:{asset_ids[name]}" for name in MEDALLION_ASSETS}
    expect(graph_edge(graph, "dag:lake_backfill", asset[SILVER])).to_have_count(1)
    # the streaming job's writes are recorded by its supervisor (record_lake_updates)
    expect(graph_edge(graph, "dag:streaming_supervisor", asset[SILVER])).to_have_count(1)
    for gold in GOLD:
        expect(graph_edge(graph, "dag:gold_build", asset[gold])).to_have_count(1)
        expect(graph_edge(graph, asset[gold], "dag:warehouse_load")).to_have_count(1)
    for target in [*WAREHOUSE, DASHBOARD]:
        expect(graph_edge(graph, "dag:warehouse_load", asset[target])).to_have_count(1)
    for node in ["gold_build", "warehouse_load", SILVER, *GOLD, *WAREHOUSE, DASHBOARD]:
        expect(graph.get_by_role("link", name=node, exact=True)).to_be_visible()
    screenshot(large_ui, "airflow-asset-lineage")


def test_the_task_lineage_shows_bronze_feeding_silver_feeding_the_gold_build(
    large_ui: Page, asset_ids: dict[str, int]
) -> None:
    open_ui_page(large_ui, f"/assets/{asset_ids[SILVER]}")
    large_ui.get_by_role("button", name="Task Dependencies", exact=True).click()
    graph = fit_graph(large_ui)

    bronze, silver = f"asset:{asset_ids[BRONZE]}", f"asset:{asset_ids[SILVER]}"
    replay, build = (
        task_node("lake_backfill", "replay_bronze_to_silver"),
        task_node("gold_build", "build_gold"),
    )
    expect(graph_edge(graph, bronze, replay)).to_have_count(1)
    expect(graph.get_by_label(re.compile(rf"^Edge from {replay.pattern} to {silver}$"))).to_have_count(1)
    expect(graph_edge(graph, silver, build)).to_have_count(1)
    for gold in GOLD:
        label = re.compile(rf"^Edge from {build.pattern} to asset:{asset_ids[gold]}$")
        expect(graph.get_by_label(label)).to_have_count(1)
    for gate, source in (("gate_bronze", bronze), ("gate_silver", silver)):
        expect(graph_edge(graph, source, task_node("warehouse_load", gate))).to_have_count(1)
    for node in (BRONZE, SILVER):
        expect(graph.get_by_role("link", name=node, exact=True)).to_be_visible()
    for dag_id, task_id in (("lake_backfill", "replay_bronze_to_silver"), ("gold_build", "build_gold")):
        expect(graph.get_by_role("link", name=task_id, exact=True)).to_have_attribute(
            "href", f"/dags/{dag_id}/tasks/{task_id}"
        )
    screenshot(large_ui, "airflow-asset-lineage-tasks")


def test_the_warehouse_load_graph_with_dag_dependencies_shows_gold_in_and_warehouse_and_dashboard_out(
    large_ui: Page, asset_ids: dict[str, int]
) -> None:
    graph = show_dag_graph(large_ui, "warehouse_load")

    for gold in GOLD:
        expect(graph_edge(graph, "dag:gold_build", f"asset:{asset_ids[gold]}")).to_have_count(1)
        expect(graph_edge(graph, f"asset:{asset_ids[gold]}", "dag:warehouse_load")).to_have_count(1)
    for target in [*WAREHOUSE, DASHBOARD]:
        expect(graph_edge(graph, "dag:warehouse_load", f"asset:{asset_ids[target]}")).to_have_count(1)
    # the DAG's own tasks, gates first and the BI refresh last
    for source, target in (
        ("plan_load", "gate_gold"),
        ("stage_gold", "merge_gold"),
        ("merge_gold", "refresh_bi"),
    ):
        expect(graph_edge(graph, source, target)).to_have_count(1)
    screenshot(large_ui, "airflow-warehouse-load-graph")


def chart_paint(page: Page) -> dict[str, dict[str, int]]:
    """Per chart: data points that are not empty/zero, and canvas pixels actually painted."""
    return page.evaluate(
        """() => Object.fromEntries(Object.entries(window.__dashboard.charts).map(([name, chart]) => {
            const points = chart.data.datasets.reduce(
                (n, d) => n + d.data.filter(v => v !== null && v !== 0).length, 0);
            const canvas = chart.canvas, ctx = canvas.getContext('2d');
            const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
            return [name, {points, painted}];
        }))"""
    )


def figure(text: str, label: str) -> float:
    """The number shown right after ``label`` in a tile's text ("Daily active users1,234WAU ...")."""
    match = re.search(rf"{re.escape(label)}\s*([\d,.]+)", text)
    assert match, f"no figure after {label!r} in {text!r}"
    return float(match.group(1).replace(",", ""))


def section(page: Page, heading: str) -> Locator:
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))


def test_the_kpi_dashboard_renders_charts_tiles_and_tables_with_real_figures(
    ui: Page, demo_platform: Any
) -> None:
    page = ui.context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.set_viewport_size({"width": 1400, "height": 1800})
        page.goto(demo_platform.dashboard_url, wait_until="load")
        # the plugin's placeholder until warehouse_load first builds the site
        expect(page.get_by_text("Not built yet")).to_have_count(0)
        expect(page.get_by_role("heading", name="Event data platform", level=1)).to_be_visible()
        page.wait_for_function("window.__dashboard && window.__dashboard.ready")
        expect(page.get_by_text(re.compile(r"data as of .* · warehouse ok"))).to_be_visible()
        for empty_state in ("No KPIs in the warehouse yet", "No quality gate has run yet", "No loads yet."):
            expect(page.get_by_text(empty_state)).to_have_count(0)

        tiles = section(page, "Latest day").text_content() or ""
        for label in ("Daily active users", "Sessions", "Purchasers"):
            assert figure(tiles, label) > 0, (label, tiles)

        charts = chart_paint(page)
        assert set(charts) == DASHBOARD_CHARTS
        for name, chart in charts.items():
            assert chart["points"] > 0, f"chart {name} has no data"
            assert chart["painted"] > 500, f"chart {name} painted almost nothing"

        gates = section(page, "Quality gates").get_by_role("table")
        for layer in ("bronze", "silver", "gold"):
            expect(gates.get_by_role("row", name=re.compile(rf"^{layer} passed "))).to_have_count(1)
        loads = section(page, "Warehouse loads").get_by_role("table")
        newest_load = loads.get_by_role("row").nth(1)  # row 0 is the header
        expect(newest_load).to_be_visible()
        rows_column = loads.get_by_role("columnheader").all_text_contents().index("rows")
        loaded_rows = newest_load.get_by_role("cell").nth(rows_column).text_content() or ""
        assert float(loaded_rows.replace(",", "")) > 0, loaded_rows
        screenshot(page, "dashboard")
    finally:
        page.close()
    assert not errors, errors


def test_the_kpi_dashboard_opens_inside_the_airflow_ui_from_the_browse_menu(ui: Page) -> None:
    open_ui_page(ui, "/dags")
    ui.get_by_role("button", name="Browse").click()
    ui.get_by_role("menuitem", name="KPI dashboard").click()
    ui.wait_for_url("**/plugin/edp-dashboard")
    frame = ui.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="Event data platform", level=1)).to_be_visible()
    expect(frame.get_by_role("heading", name="Quality gates")).to_be_visible()
    screenshot(ui, "airflow-kpi-dashboard")
