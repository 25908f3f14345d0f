"""Gold builds on a local Spark with Delta: values against a plain-Python reference, reruns, late rows.

The dataset is small and fixed; every expected value is recomputed here from the same rows with plain
Python (no Spark), following the definitions in ``edp.lake.gold``.
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from edp.batch.gold_build import build_gold_tables, select_tables
from edp.lake.gold import (
    GOLD_APP_ERRORS_DAILY,
    GOLD_DAILY_ACTIVE_USERS,
    GOLD_FUNNEL_DAILY,
    GOLD_REVENUE_DAILY,
    GOLD_SESSIONS,
    GOLD_SESSIONS_DAILY,
    GOLD_TABLES,
    gold_columns,
)
from edp.lake.intervals import day_interval, parse_interval
from tests.integration.silver_rows import append_silver, event, item

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
D1, D2, D3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)
VIEWS = ("page_view", "screen_view")
ROUND = 9


def dataset() -> list[dict[str, Any]]:
    """Three days of web, iOS and Android traffic covering the tricky cases of each gold table."""
    u1 = {"anonymous_id": "a1", "user_id": "u1", "platform": "web", "locale": "en-US"}
    a2 = {"anonymous_id": "a2", "platform": "ios", "locale": "de-DE", "app_version": "4.13.0"}
    u3 = {"anonymous_id": "a3", "user_id": "u3", "platform": "android", "locale": "pt_BR"}
    a4 = {"anonymous_id": "a4", "platform": "web", "locale": "en"}
    return [
        # u1: view -> cart -> purchase; the order is re-sent under a new event_id (counted once)
        event("page_view", "2025-06-01 10:00:00", session="s1", **u1, url="https://shop/p/P-1001"),
        event(
            "add_to_cart",
            "2025-06-01 10:01:00",
            session="s1",
            **u1,
            product_id="P-1001",
            quantity=2,
            price=19.99,
            currency="USD",
        ),
        event(
            "purchase",
            "2025-06-01 10:05:00",
            session="s1",
            **u1,
            order_id="o1",
            currency="USD",
            revenue=44.98,
            items=[item("P-1001", 2, 19.99), item("P-9999", 1, 5.0)],
        ),
        event(
            "purchase",
            "2025-06-01 10:05:30",
            session="s1",
            **u1,
            order_id="o1",
            currency="USD",
            revenue=44.98,
            items=[item("P-1001", 2, 19.99), item("P-9999", 1, 5.0)],
        ),
        event(
            "app_error", "2025-06-01 10:06:00", session="s1", **u1, error_code="E1", message="m", fatal=False
        ),
        # a2 (iOS, anonymous): a session across midnight; on day 2 the cart comes before any view
        event("screen_view", "2025-06-01 23:58:00", session="s2", **a2, screen_name="Home"),
        event("screen_view", "2025-06-02 00:00:40", session="s2", **a2, screen_name="Product"),
        event(
            "add_to_cart",
            "2025-06-02 00:00:30",
            session="s2",
            **a2,
            product_id="P-3001",
            quantity=1,
            price=79.0,
            currency="EUR",
        ),
        event(
            "add_to_cart",
            "2025-06-02 00:00:50",
            session="s2",
            **a2,
            product_id="P-3001",
            quantity=1,
            price=79.0,
            currency="EUR",
        ),
        event(
            "purchase",
            "2025-06-02 00:02:00",
            session="s2",
            **a2,
            order_id="o2",
            currency="EUR",
            revenue=158.0,
            items=[item("P-3001", 2, 79.0)],
        ),
        # u3 (Android): two app versions, fatal and non-fatal errors, a purchase without a cart
        event(
            "screen_view", "2025-06-01 12:00:00", session="s3", **u3, app_version="4.12.0", screen_name="Home"
        ),
        event(
            "app_error",
            "2025-06-01 12:00:05",
            session="s3",
            **u3,
            app_version="4.12.0",
            error_code="OOM",
            message="m",
            fatal=True,
        ),
        event(
            "screen_view", "2025-06-02 09:00:00", session="s4", **u3, app_version="4.13.2", screen_name="Home"
        ),
        event(
            "purchase",
            "2025-06-02 09:03:00",
            session="s4",
            **u3,
            app_version="4.13.2",
            order_id="o3",
            currency="BRL",
            revenue=30.0,
            items=[item("P-4001", 1, 14.5), item("P-4005", 1, 15.5)],
        ),
        event(
            "app_error",
            "2025-06-02 09:04:00",
            session="s4",
            **u3,
            app_version="4.13.2",
            error_code="NET",
            message="m",
            fatal=False,
        ),
        # a4 (web, locale without a region): signs up mid-session, so the session's user key is u4
        event("page_view", "2025-06-02 15:00:00", session="s5", **a4, url="https://shop/"),
        event("signup", "2025-06-02 15:02:00", session="s5", **a4, user_id="u4", method="email"),
        event(
            "page_view", "2025-06-02 15:03:00", session="s5", **a4, user_id="u4", url="https://shop/account"
        ),
        event(
            "add_to_cart",
            "2025-06-02 15:04:00",
            session="s5",
            **a4,
            user_id="u4",
            product_id="P-2001",
            quantity=1,
            price=129.99,
            currency="USD",
        ),
        # day 3: u1 returns (a bounce); a2 and u3 count in day 3's WAU only
        event("page_view", "2025-06-03 08:00:00", session="s6", **u1, url="https://shop/"),
    ]


# ---- the plain-Python reference ------------------------------------------------------------------


def key(row: dict[str, Any]) -> str:
    return row["user_id"] or row["anonymous_id"]


def country(locale: str | None) -> str:
    match = re.match(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2})(?:[-_].*)?$", locale or "")
    return match.group(1).upper() if match else "ZZ"


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def expected_active_users(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    days = sorted({r["event_date"] for r in rows})
    for day in days:
        for platform in [*sorted({r["device_platform"] for r in rows}), "all"]:
            mine = [r for r in rows if platform in ("all", r["device_platform"])]
            dau = {key(r) for r in mine if r["event_date"] == day}
            wau = {key(r) for r in mine if day - timedelta(days=6) <= r["event_date"] <= day}
            if dau:
                out.append({"event_date": day, "platform": platform, "dau": len(dau), "wau": len(wau)})
    return out


def expected_sessions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["anonymous_id"], r["session_id"])].append(r)
    out = []
    for (anonymous_id, session_id), events in groups.items():
        events.sort(key=lambda r: (r["occurred_at"], r["event_id"]))
        first, ended = events[0], max(r["occurred_at"] for r in events)
        users = [r["user_id"] for r in events if r["user_id"]]
        out.append(
            {
                "session_id": session_id,
                "anonymous_id": anonymous_id,
                "user_key": users[0] if users else anonymous_id,
                "platform": first["device_platform"],
                "app_version": first["app_version"],
                "country_code": country(first["device_locale"]),
                "started_at": naive(first["occurred_at"]),
                "ended_at": naive(ended),
                "duration_seconds": micros(ended - first["occurred_at"]) / 1_000_000,
                "event_count": len(events),
                "page_views": sum(r["event_type"] == "page_view" for r in events),
                "screen_views": sum(r["event_type"] == "screen_view" for r in events),
                "converted": any(r["event_type"] == "purchase" for r in events),
                "event_date": first["occurred_at"].date(),
            }
        )
    return out


def expected_sessions_daily(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[date, str], list[dict[str, Any]]] = defaultdict(list)
    for session in sessions:
        groups[(session["event_date"], session["platform"])].append(session)
    out = []
    for (day, platform), group in groups.items():
        n = len(group)
        converted = sum(s["converted"] for s in group)
        bounced = sum(s["event_count"] == 1 for s in group)
        total_micros = sum(micros(s["ended_at"] - s["started_at"]) for s in group)
        out.append(
            {
                "event_date": day,
                "platform": platform,
                "sessions": n,
                "users": len({s["user_key"] for s in group}),
                "converted_sessions": converted,
                "conversion_rate": ratio(converted, n),
                "bounced_sessions": bounced,
                "bounce_rate": ratio(bounced, n),
                "avg_duration_seconds": total_micros / n / 1_000_000,
                "median_duration_seconds": statistics.median(s["duration_seconds"] for s in group),
                "avg_events_per_session": sum(s["event_count"] for s in group) / n,
            }
        )
    return out


def expected_funnel(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users: dict[tuple[date, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        users[(r["event_date"], r["device_platform"], key(r))].append(r)
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (day, platform, _), events in users.items():
        views = [r["occurred_at"] for r in events if r["event_type"] in VIEWS]
        if not views:
            continue
        first_view = min(views)
        carts = [
            r["occurred_at"]
            for r in events
            if r["event_type"] == "add_to_cart" and r["occurred_at"] >= first_view
        ]
        first_cart = min(carts) if carts else None
        bought = first_cart is not None and any(
            r["event_type"] == "purchase" and r["occurred_at"] >= first_cart for r in events
        )
        counts[(day, platform)][0] += 1
        counts[(day, platform)][1] += first_cart is not None
        counts[(day, platform)][2] += bought
    return [
        {
            "event_date": day,
            "platform": platform,
            "viewers": viewers,
            "carted": carted,
            "purchased": purchased,
            "view_to_cart_rate": ratio(carted, viewers),
            "cart_to_purchase_rate": ratio(purchased, carted),
            "view_to_purchase_rate": ratio(purchased, viewers),
        }
        for (day, platform), (viewers, carted, purchased) in counts.items()
    ]


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    first = next(iter(rows[0]))
    return {row[first]: row for row in rows}


def expected_revenue(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    catalog = read_csv(ROOT / "include" / "edp" / "batch" / "seeds" / "product_catalog.csv")
    geo = read_csv(ROOT / "include" / "edp" / "batch" / "seeds" / "geo_countries.csv")
    orders: dict[tuple[date, str], dict[str, Any]] = {}
    for r in sorted(
        (r for r in rows if r["event_type"] == "purchase"), key=lambda r: (r["occurred_at"], r["event_id"])
    ):
        orders.setdefault((r["event_date"], r["properties_order_id"]), r)
    groups: dict[tuple, dict[str, Any]] = {}
    for (day, order_id), r in orders.items():
        code = country(r["device_locale"])
        for line in r["properties_items"]:
            group = groups.setdefault(
                (day, line["product_id"], code, r["device_platform"], r["properties_currency"]),
                {"orders": set(), "units": 0, "revenue": Decimal("0.00")},
            )
            group["orders"].add(order_id)
            group["units"] += line["quantity"]
            group["revenue"] += line["quantity"] * Decimal(str(line["price"])).quantize(Decimal("0.01"))
    out = []
    for (day, product_id, code, platform, currency), group in groups.items():
        product, place = catalog.get(product_id, {}), geo.get(code, {})
        out.append(
            {
                "event_date": day,
                "product_id": product_id,
                "product_category": product.get("category", "unknown"),
                "product_brand": product.get("brand", "unknown"),
                "country_code": code,
                "country_name": place.get("country_name", "Unknown"),
                "region": place.get("region", "Unknown"),
                "platform": platform,
                "currency": currency,
                "orders": len(group["orders"]),
                "units": group["units"],
                "revenue": group["revenue"],
            }
        )
    return out


def expected_app_errors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        group = groups[(r["event_date"], r["device_platform"], r["app_version"])]
        group[0] += 1
        group[1] += r["event_type"] == "app_error"
        group[2] += r["event_type"] == "app_error" and bool(r["properties_fatal"])
    return [
        {
            "event_date": day,
            "platform": platform,
            "app_version": version,
            "events": events,
            "errors": errors,
            "fatal_errors": fatal,
            "error_rate": ratio(errors, events),
        }
        for (day, platform, version), (events, errors, fatal) in groups.items()
    ]


def expected_tables(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    sessions = expected_sessions(rows)
    return {
        GOLD_DAILY_ACTIVE_USERS.name: expected_active_users(rows),
        GOLD_SESSIONS.name: sessions,
        GOLD_SESSIONS_DAILY.name: expected_sessions_daily(sessions),
        GOLD_FUNNEL_DAILY.name: expected_funnel(rows),
        GOLD_REVENUE_DAILY.name: expected_revenue(rows),
        GOLD_APP_ERRORS_DAILY.name: expected_app_errors(rows),
    }


# ---- comparing ----------------------------------------------------------------------------------


def normalised(rows: Iterable[dict[str, Any]]) -> list[tuple]:
    """Rows as sorted tuples of (column, value), floats rounded: order- and ulp-insensitive."""
    return sorted(
        (
            tuple(sorted((k, round(v, ROUND) if isinstance(v, float) else v) for k, v in row.items()))
            for row in rows
        ),
        key=repr,
    )


def gold_rows(spark: SparkSession, spec_name: str, lake_root: str) -> list[dict[str, Any]]:
    spec = GOLD_TABLES[spec_name]
    return [row.asDict() for row in spark.read.format("delta").load(spec.path(lake_root)).collect()]


def table_snapshot(spark: SparkSession, lake_root: str) -> dict[str, list[tuple]]:
    return {name: normalised(gold_rows(spark, name, lake_root)) for name in GOLD_TABLES}


@pytest.fixture(scope="module")
def built_lake(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[dict[str, Any]]]:
    """Silver from :func:`dataset`, and gold built once for the days 2025-06-01 .. 2025-06-03."""
    lake = str(tmp_path_factory.mktemp("gold-lake"))
    rows = dataset()
    append_silver(spark, lake, rows, files=3)
    build_gold_tables(spark, lake, day_interval(D1, D3))
    return lake, rows


def test_every_gold_table_matches_the_plain_python_reference(spark: SparkSession, built_lake) -> None:
    lake, rows = built_lake
    expected = expected_tables(rows)
    for name in GOLD_TABLES:
        actual = gold_rows(spark, name, lake)
        assert actual, f"{name} is empty"
        assert {tuple(r) for r in actual} == {tuple(c.name for c in gold_columns(GOLD_TABLES[name]))}
        assert normalised(actual) == normalised(expected[name]), name


def test_the_reference_covers_the_cases_the_dataset_was_built_for(built_lake) -> None:
    """Guards the dataset itself: the tricky cases must actually be exercised."""
    _, rows = built_lake
    expected = expected_tables(rows)
    funnel = {(r["event_date"], r["platform"]): r for r in expected[GOLD_FUNNEL_DAILY.name]}
    assert funnel[(D2, "ios")]["carted"] == 1  # the 00:00:50 cart counts, the 00:00:30 one alone would not
    assert funnel[(D2, "android")]["purchased"] == 0  # a purchase without a cart is not a funnel conversion
    revenue = {(r["event_date"], r["product_id"]): r for r in expected[GOLD_REVENUE_DAILY.name]}
    assert revenue[(D1, "P-1001")]["orders"] == 1 and revenue[(D1, "P-1001")]["revenue"] == Decimal("39.98")
    assert revenue[(D1, "P-9999")]["product_category"] == "unknown"
    sessions = {r["session_id"]: r for r in expected[GOLD_SESSIONS.name]}
    assert sessions["s2"]["event_date"] == D1 and sessions["s2"]["event_count"] == 5
    assert sessions["s5"]["user_key"] == "u4" and sessions["s5"]["country_code"] == "ZZ"
    dau = {(r["event_date"], r["platform"]): r for r in expected[GOLD_DAILY_ACTIVE_USERS.name]}
    assert dau[(D3, "all")] == {"event_date": D3, "platform": "all", "dau": 1, "wau": 5}


def test_rebuilding_the_same_interval_yields_identical_tables_through_overwrites(
    spark: SparkSession, built_lake
) -> None:
    lake, _ = built_lake
    before = table_snapshot(spark, lake)
    versions = {
        n: DeltaTable.forPath(spark, GOLD_TABLES[n].path(lake)).history(1).collect()[0]["version"]
        for n in GOLD_TABLES
    }

    build_gold_tables(spark, lake, day_interval(D1, D3))

    assert table_snapshot(spark, lake) == before
    for name in GOLD_TABLES:
        last = DeltaTable.forPath(spark, GOLD_TABLES[name].path(lake)).history(1).collect()[0]
        assert last["version"] == versions[name] + 1, name
        assert last["operation"] == "WRITE", name
        assert last["operationParameters"]["mode"] == "Overwrite", name
        assert "event_date" in last["operationParameters"]["predicate"], name


def test_a_late_row_rebuilds_its_own_date_in_the_hour_it_arrives(spark: SparkSession, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    rows = dataset()
    tables = select_tables(["funnel_daily", "daily_active_users"])
    append_silver(spark, lake, rows)
    build_gold_tables(spark, lake, day_interval(D1, D3), tables)
    # An offline iOS purchase from day 1 reaches silver on day 3 at 10:30.
    late = event(
        "screen_view",
        "2025-06-01 20:00:00",
        session="s9",
        anonymous_id="a9",
        platform="ios",
        ingested_at="2025-06-03 10:30:00",
        screen_name="Home",
    )
    append_silver(spark, lake, [late])

    summary = build_gold_tables(
        spark, lake, parse_interval("2025-06-03T10:00:00Z", "2025-06-03T11:00:00Z"), tables
    )

    assert summary["plan"]["affected"] == ["2025-06-01", "2025-06-03"]
    expected = expected_tables([*rows, late])
    for spec in tables:
        assert normalised(gold_rows(spark, spec.name, lake)) == normalised(expected[spec.name]), spec.name
    funnel = {
        (r["event_date"], r["platform"]): r["viewers"] for r in gold_rows(spark, GOLD_FUNNEL_DAILY.name, lake)
    }
    assert funnel[(D1, "ios")] == 2
