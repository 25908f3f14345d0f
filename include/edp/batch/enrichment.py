"""Seed dimensions as DataFrames, and the rule that turns ``device.locale`` into a country.

Silver has no IP geolocation (the IP is dropped as PII), so the country signal is the region subtag
of the device's BCP 47 locale: ``en-US`` -> ``US``, ``pt_BR`` -> ``BR``, ``zh-Hant-TW`` -> ``TW``.
A locale without a two-letter region (``en``, ``es-419``) maps to ``ZZ``, "unknown".
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from edp.batch.seeds import geo_countries, product_catalog
from edp.lake.gold import UNKNOWN, UNKNOWN_COUNTRY

# language (2-3 letters), optional script (4 letters), then the region subtag we keep
LOCALE_REGION = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2})(?:[-_].*)?$"
UNKNOWN_COUNTRY_NAME = "Unknown"


def country_from_locale(locale: Column) -> Column:
    """Upper-case ISO 3166-1 alpha-2 region of a locale, or ``ZZ``."""
    region = F.upper(F.regexp_extract(locale, LOCALE_REGION, 1))
    return F.when(region == "", F.lit(UNKNOWN_COUNTRY)).otherwise(region)


def products(spark: SparkSession) -> DataFrame:
    """``product_id, product_category, product_brand`` from the product catalog seed."""
    seed = product_catalog()
    rows = list(zip(seed.column("product_id"), seed.column("category"), seed.column("brand"), strict=True))
    return spark.createDataFrame(rows, "product_id string, product_category string, product_brand string")


def countries(spark: SparkSession) -> DataFrame:
    """``country_code, country_name, region`` from the geo seed."""
    seed = geo_countries()
    return spark.createDataFrame(list(seed.rows), "country_code string, country_name string, region string")


def with_product(df: DataFrame, catalog: DataFrame) -> DataFrame:
    """Add category and brand by ``product_id``; products missing from the catalog get ``unknown``."""
    enriched = df.join(F.broadcast(catalog), on="product_id", how="left")
    return enriched.fillna(UNKNOWN, subset=["product_category", "product_brand"])


def with_country(df: DataFrame, geo: DataFrame) -> DataFrame:
    """Add country name and region by ``country_code``; unknown codes get ``Unknown``."""
    enriched = df.join(F.broadcast(geo), on="country_code", how="left")
    return enriched.fillna(UNKNOWN_COUNTRY_NAME, subset=["country_name", "region"])
