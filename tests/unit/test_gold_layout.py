"""Gold table specs, lake assets, seeds and the silver columns the batch jobs read."""

from __future__ import annotations

from pathlib import Path

import pytest

from edp.batch.seeds import geo_countries, product_catalog
from edp.batch.seeds.catalog import load_catalog
from edp.batch.silver import missing_columns
from edp.lake import SILVER_EVENTS, Layer
from edp.lake.assets import asset_uri, table_asset
from edp.lake.gold import GOLD_TABLES, gold_columns
from edp_local.load_generator.simulation import LOCALES

pytestmark = pytest.mark.unit


def test_every_gold_table_is_partitioned_by_a_non_null_event_date_under_gold() -> None:
    assert len(GOLD_TABLES) == 6
    for name, spec in GOLD_TABLES.items():
        assert spec.layer is Layer.GOLD and spec.relative_path == f"gold/{name.removeprefix('gold.')}"
        assert spec.partition_columns == ("event_date",)
        columns = {c.name: c for c in gold_columns(spec)}
        assert not columns["event_date"].nullable and columns["event_date"].sql_type == "date"
        assert all(c.description for c in columns.values())


def test_gold_columns_of_a_non_gold_table_are_an_error() -> None:
    with pytest.raises(KeyError, match="not a gold table"):
        gold_columns(SILVER_EVENTS)


def test_the_silver_columns_the_batch_jobs_read_exist_in_the_contract() -> None:
    assert missing_columns() == []
    assert missing_columns(["event_id"])  # and the check does notice a missing column


def test_asset_uris_are_s3_on_aws_and_file_uris_locally() -> None:
    assert asset_uri(SILVER_EVENTS, "s3://edp-lake/lake") == "s3://edp-lake/lake/silver/events"
    local = asset_uri(SILVER_EVENTS, "data/lake")
    assert local.startswith("file:///") and local.endswith("/data/lake/silver/events")
    asset = table_asset(GOLD_TABLES["gold.sessions"], "s3://edp-lake/lake")
    assert asset.name == "gold.sessions" and asset.uri == "s3://edp-lake/lake/gold/sessions"
    assert asset.extra == {"layer": "gold", "format": "delta"}


def test_the_product_seed_is_the_load_generators_catalog() -> None:
    seed = product_catalog()
    assert seed.column("product_id") == [p.product_id for p in load_catalog()]
    assert {"product_id", "category", "brand"} <= set(seed.header)


def test_every_simulated_locale_maps_to_a_country_of_the_geo_seed() -> None:
    codes = set(geo_countries().column("country_code"))
    regions = {locale.replace("_", "-").split("-")[1] for locale, _ in LOCALES}
    assert regions <= codes
    assert all(len(code) == 2 and code.isupper() for code in codes)
    assert (
        Path(__file__).resolve().parents[2] / "include" / "edp" / "batch" / "seeds" / "geo_countries.csv"
    ).is_file()
