"""The local dashboard: its data document, the static site it is written to, and the plugin serving it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edp.config import PlatformConfig, get_config
from edp.lake import streaming_metrics_path
from edp.serving.dashboard.data import build_dashboard_data
from edp.serving.dashboard.site import ASSETS, inline_json, write_site
from edp.serving.names import DASHBOARD_URL_PREFIX
from edp_dashboard import EdpDashboardPlugin, create_app

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlatformConfig:
    monkeypatch.setenv("PLATFORM_ENV", "local")
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLATFORM__LAKE__ROOT", str(tmp_path / "lake"))
    return get_config()


def test_a_fresh_platform_gets_a_dashboard_that_says_nothing_is_loaded_yet(config) -> None:
    data = build_dashboard_data(config, now=NOW)
    assert data["warehouse"]["available"] is False
    assert data["kpi_daily"] == [] and data["quality"] == [] and data["alerts"] == []
    assert data["streaming"]["available"] is False and data["freshness"]["age_s"] is None


def test_health_comes_from_the_streaming_metrics_file_and_the_slack_log(config) -> None:
    metrics = streaming_metrics_path(config)
    metrics.parent.mkdir(parents=True)
    metrics.write_text(
        json.dumps(
            {
                "format": "edp.streaming.health/v1",
                "state": "running",
                "written_at": (NOW - timedelta(seconds=7)).isoformat(),
                "input_rows_per_second": 40.0,
                "batch_id": 41,
                "source_lag": {"max_ms_behind_latest": 1200.0},
            }
        )
    )
    slack = config.state_dir / "slack" / "messages.jsonl"
    slack.parent.mkdir(parents=True)
    slack.write_text(
        "\n".join(
            json.dumps(m)
            for m in (
                {"received_at": "2025-06-02T11:00:00+00:00", "payload": {"text": "first"}},
                {
                    "received_at": "2025-06-02T11:30:00+00:00",
                    "payload": {
                        "blocks": [
                            {"type": "section", "text": {"type": "mrkdwn", "text": "*Quality gate failed*"}}
                        ]
                    },
                },
            )
        )
        + "\n"
    )
    data = build_dashboard_data(config, now=NOW)
    assert (
        data["streaming"]["state"],
        data["streaming"]["heartbeat_age_s"],
        data["streaming"]["max_ms_behind_latest"],
    ) == ("running", 7.0, 1200.0)
    assert [a["text"] for a in data["alerts"]] == ["*Quality gate failed*", "first"]  # newest first


def test_inlined_data_cannot_close_the_script_tag() -> None:
    text = inline_json({"text": "</script><script>alert(1)</script> & <!--"})
    assert "</script>" not in text and "<!--" not in text
    assert json.loads(text) == {"text": "</script><script>alert(1)</script> & <!--"}


def test_the_site_is_self_contained_html_with_vendored_chart_js(config, tmp_path: Path) -> None:
    index = write_site(tmp_path / "site", build_dashboard_data(config, now=NOW))
    page = index.read_text()
    assert "__DASHBOARD_DATA__" not in page and '"format": "edp.dashboard/v1"' in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from the internet
    for asset in ASSETS:
        assert (tmp_path / "site" / asset).is_file()
    assert json.loads((tmp_path / "site" / "data.json").read_text())["generated_at"].startswith("2025-06-02")


def test_the_plugin_serves_a_placeholder_until_the_first_refresh_then_the_site(
    tmp_path: Path, config
) -> None:
    client = TestClient(create_app(tmp_path / "site"))
    first = client.get("/")
    assert first.status_code == 200 and "Not built yet" in first.text
    assert client.get("/health").json()["built"] is False
    write_site(tmp_path / "site", build_dashboard_data(config, now=NOW))
    assert "dashboard-data" in client.get("/").text
    assert client.get("/vendor/chart.js-4.6.1/chart.umd.min.js").status_code == 200
    assert client.get("/../../etc/passwd").status_code == 404


def test_the_plugin_mounts_under_the_dashboard_prefix_and_adds_a_nav_entry_locally() -> None:
    (app,) = EdpDashboardPlugin.fastapi_apps
    assert app["url_prefix"] == DASHBOARD_URL_PREFIX
    (view,) = EdpDashboardPlugin.external_views
    assert view["href"] == "edp-dashboard/" and view["destination"] == "nav"


def test_status_resources_show_where_each_serving_piece_lives_and_the_latest_gates(config) -> None:
    from edp.lake.storage import LocalStorage
    from edp.quality.records import RecordStore
    from edp_local.runtime.serving_status import serving_resources

    before = serving_resources(config)
    assert (
        before["dashboard"]["url"] == "http://127.0.0.1:8080/edp-dashboard/"
        and before["dashboard"]["built"] is False
    )
    assert (
        before["warehouse"]["path"].endswith("warehouse/warehouse.duckdb")
        and before["data_quality"]["latest"] == {}
    )
    RecordStore(LocalStorage(config.state_dir)).write(
        {
            "format": "edp.quality_run/v1",
            "layer": "gold",
            "load_id": "l1",
            "success": False,
            "interval_start": "2025-06-01T00:00:00+00:00",
            "interval_end": "2025-06-02T00:00:00+00:00",
            "finished_at": "2025-06-02T00:05:00+00:00",
            "suites": [
                {
                    "suite": "gold.revenue_daily",
                    "failed": [{"expectation": "expect_column_values_to_be_between(revenue)"}],
                }
            ],
        }
    )
    gate = serving_resources(config)["data_quality"]["latest"]["gold"]
    assert gate["passed"] is False and gate["failed_expectations"] == [
        "expect_column_values_to_be_between(revenue)"
    ]
