"""Gold builds from silver: small, typed ``DataFrame -> DataFrame`` functions.

Each function takes silver rows (at least the dates :class:`edp.lake.intervals.GoldPlan` says it
reads) and the ``event_date`` values to produce, and returns exactly the columns of its table in
:mod:`edp.lake.gold`. Everything is deterministic, so a rebuild of the same dates from the same
silver gives identical rows: ties are broken by ``event_id``, sums are over integers or decimals
(never floating-point sums, whose result depends on the order Spark adds them in).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from edp.batch import silver as s
from edp.batch.enrichment import country_from_locale, with_country, with_product
from edp.lake.columns import Column as LakeColumn
from edp.lake.gold import (
    ALL_PLATFORMS,
    APP_ERRORS_DAILY_COLUMNS,
    DAILY_ACTIVE_USERS_COLUMNS,
    FUNNEL_DAILY_COLUMNS,
    MONEY,
    REVENUE_DAILY_COLUMNS,
    SESSIONS_COLUMNS,
    SESSIONS_DAILY_COLUMNS,
)

USER_KEY = "user_key"
MICROS = 1_000_000


def _select(df: DataFrame, columns: Sequence[LakeColumn]) -> DataFrame:
    return df.select(*[F.col(c.name).cast(c.sql_type).alias(c.name) for c in columns])


def _on_dates(df: DataFrame, dates: Sequence[date], column: str = s.EVENT_DATE) -> DataFrame:
    return df.where(F.col(column).isin(list(dates)))


def _ratio(numerator: str, denominator: str) -> Column:
    return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))


def _count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).cast("bigint")


def user_key() -> Column:
    """The hashed ``user_id`` when the event has one, else the hashed ``anonymous_id``."""
    return F.coalesce(F.col(s.USER_ID), F.col(s.ANONYMOUS_ID))


def daily_active_users(events: DataFrame, dates: Sequence[date]) -> DataFrame:
    """DAU and WAU per date in ``dates`` and platform, plus ``all`` rows; only days with activity."""
    spark = events.sparkSession
    days = events.select(
        s.EVENT_DATE, F.col(s.PLATFORM).alias("platform"), user_key().alias(USER_KEY)
    ).distinct()
    targets = spark.createDataFrame([(d,) for d in sorted(set(dates))], "target_date date")
    in_window = days.join(
        F.broadcast(targets),
        F.col(s.EVENT_DATE).between(F.date_sub(F.col("target_date"), 6), F.col("target_date")),
    )
    measures = [
        F.count_distinct(F.when(F.col(s.EVENT_DATE) == F.col("target_date"), F.col(USER_KEY))).alias("dau"),
        F.count_distinct(USER_KEY).alias("wau"),
    ]
    per_platform = in_window.groupBy("target_date", "platform").agg(*measures)
    overall = in_window.groupBy("target_date").agg(*measures).withColumn("platform", F.lit(ALL_PLATFORMS))
    result = per_platform.unionByName(overall).where(F.col("dau") > 0)
    return _select(result.withColumnRenamed("target_date", s.EVENT_DATE), DAILY_ACTIVE_USERS_COLUMNS)


def sessions(events: DataFrame, dates: Sequence[date]) -> DataFrame:
    """One row per ``(anonymous_id, session_id)`` whose first event falls on a date in ``dates``."""
    first = F.min(
        F.struct(
            F.col(s.OCCURRED_AT).alias("at"),
            F.col(s.EVENT_ID).alias("id"),
            F.col(s.PLATFORM).alias("platform"),
            F.col(s.APP_VERSION).alias("app_version"),
            F.col(s.LOCALE).alias("locale"),
        )
    )
    first_user = F.min(
        F.when(
            F.col(s.USER_ID).isNotNull(),
            F.struct(
                F.col(s.OCCURRED_AT).alias("at"),
                F.col(s.EVENT_ID).alias("id"),
                F.col(s.USER_ID).alias("user"),
            ),
        )
    )
    grouped = events.groupBy(s.ANONYMOUS_ID, s.SESSION_ID).agg(
        first.alias("first"),
        first_user.alias("first_user"),
        F.max(s.OCCURRED_AT).alias("ended_at"),
        F.count(F.lit(1)).alias("event_count"),
        _count_if(F.col(s.EVENT_TYPE) == s.PAGE_VIEW).alias("page_views"),
        _count_if(F.col(s.EVENT_TYPE) == s.SCREEN_VIEW).alias("screen_views"),
        F.max(F.col(s.EVENT_TYPE) == s.PURCHASE).alias("converted"),
    )
    started = F.col("first.at")
    duration_micros = F.unix_micros(F.col("ended_at")) - F.unix_micros(started)
    result = grouped.select(
        F.col(s.SESSION_ID).alias("session_id"),
        F.col(s.ANONYMOUS_ID).alias("anonymous_id"),
        F.coalesce(F.col("first_user.user"), F.col(s.ANONYMOUS_ID)).alias(USER_KEY),
        F.col("first.platform").alias("platform"),
        F.col("first.app_version").alias("app_version"),
        country_from_locale(F.col("first.locale")).alias("country_code"),
        started.alias("started_at"),
        F.col("ended_at"),
        (duration_micros / MICROS).alias("duration_seconds"),
        F.col("event_count"),
        F.col("page_views"),
        F.col("screen_views"),
        F.col("converted"),
        F.to_date(started).alias(s.EVENT_DATE),
    )
    return _select(_on_dates(result, dates), SESSIONS_COLUMNS)


def sessions_daily(session_rows: DataFrame) -> DataFrame:
    """Aggregate :func:`sessions` rows per date and platform."""
    micros = F.unix_micros(F.col("ended_at")) - F.unix_micros(F.col("started_at"))
    daily = session_rows.groupBy(s.EVENT_DATE, "platform").agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count_distinct(USER_KEY).alias("users"),
        _count_if(F.col("converted")).alias("converted_sessions"),
        _count_if(F.col("event_count") == 1).alias("bounced_sessions"),
        (F.sum(micros) / F.count(F.lit(1)) / MICROS).alias("avg_duration_seconds"),
        F.expr("percentile(duration_seconds, 0.5)").alias("median_duration_seconds"),
        (F.sum("event_count") / F.count(F.lit(1))).alias("avg_events_per_session"),
    )
    daily = daily.withColumn("conversion_rate", _ratio("converted_sessions", "sessions")).withColumn(
        "bounce_rate", _ratio("bounced_sessions", "sessions")
    )
    return _select(daily, SESSIONS_DAILY_COLUMNS)


def funnel_daily(events: DataFrame, dates: Sequence[date]) -> DataFrame:
    """Ordered funnel per user key, day and platform: a view, then an add_to_cart, then a purchase."""
    keys = [s.EVENT_DATE, F.col(s.PLATFORM).alias("platform"), user_key().alias(USER_KEY)]
    steps = (
        _on_dates(events, dates)
        .where(F.col(s.EVENT_TYPE).isin(*s.VIEW_TYPES, s.ADD_TO_CART, s.PURCHASE))
        .select(*keys, s.EVENT_TYPE, s.OCCURRED_AT)
    )
    per_user = Window.partitionBy(s.EVENT_DATE, "platform", USER_KEY)
    at = F.col(s.OCCURRED_AT)
    is_view = F.col(s.EVENT_TYPE).isin(*s.VIEW_TYPES)
    steps = steps.withColumn("first_view", F.min(F.when(is_view, at)).over(per_user))
    steps = steps.withColumn(
        "first_cart",
        F.min(F.when((F.col(s.EVENT_TYPE) == s.ADD_TO_CART) & (at >= F.col("first_view")), at)).over(
            per_user
        ),
    )
    users = steps.groupBy(s.EVENT_DATE, "platform", USER_KEY).agg(
        F.max(F.col("first_view").isNotNull()).alias("viewed"),
        F.max(F.col("first_cart").isNotNull()).alias("carted"),
        F.max((F.col(s.EVENT_TYPE) == s.PURCHASE) & (at >= F.col("first_cart"))).alias("purchased"),
    )
    daily = users.groupBy(s.EVENT_DATE, "platform").agg(
        _count_if(F.col("viewed")).alias("viewers"),
        _count_if(F.col("carted")).alias("carted"),
        _count_if(F.coalesce(F.col("purchased"), F.lit(False))).alias("purchased"),
    )
    daily = (
        daily.where(F.col("viewers") > 0)
        .withColumn("view_to_cart_rate", _ratio("carted", "viewers"))
        .withColumn("cart_to_purchase_rate", _ratio("purchased", "carted"))
        .withColumn("view_to_purchase_rate", _ratio("purchased", "viewers"))
    )
    return _select(daily, FUNNEL_DAILY_COLUMNS)


def purchased_items(events: DataFrame, dates: Sequence[date]) -> DataFrame:
    """One row per line item of each order (an order re-sent under a new event_id counts once per day)."""
    purchases = _on_dates(events, dates).where(F.col(s.EVENT_TYPE) == s.PURCHASE)
    first_copy = Window.partitionBy(s.EVENT_DATE, s.ORDER_ID).orderBy(s.OCCURRED_AT, s.EVENT_ID)
    orders = purchases.withColumn("_copy", F.row_number().over(first_copy)).where(F.col("_copy") == 1)
    items = orders.select(
        s.EVENT_DATE,
        F.col(s.ORDER_ID).alias("order_id"),
        F.col(s.PLATFORM).alias("platform"),
        F.col(s.CURRENCY).alias("currency"),
        country_from_locale(F.col(s.LOCALE)).alias("country_code"),
        F.explode(s.ITEMS).alias("item"),
    )
    return items.select(
        s.EVENT_DATE,
        "order_id",
        "platform",
        "currency",
        "country_code",
        F.col(f"item.{s.ITEM_PRODUCT_ID}").alias("product_id"),
        F.col(f"item.{s.ITEM_QUANTITY}").alias("quantity"),
        (F.col(f"item.{s.ITEM_QUANTITY}") * F.col(f"item.{s.ITEM_PRICE}").cast(MONEY)).alias("line_revenue"),
    )


def revenue_daily(events: DataFrame, dates: Sequence[date], catalog: DataFrame, geo: DataFrame) -> DataFrame:
    """Orders, units and revenue per day, product, country, platform and currency, enriched."""
    items = purchased_items(events, dates)
    daily = items.groupBy(s.EVENT_DATE, "product_id", "country_code", "platform", "currency").agg(
        F.count_distinct("order_id").alias("orders"),
        F.sum("quantity").alias("units"),
        F.sum("line_revenue").cast(MONEY).alias("revenue"),
    )
    return _select(with_country(with_product(daily, catalog), geo), REVENUE_DAILY_COLUMNS)


def app_errors_daily(events: DataFrame, dates: Sequence[date]) -> DataFrame:
    """All events vs ``app_error`` events per day, platform and app version."""
    is_error = F.col(s.EVENT_TYPE) == s.APP_ERROR
    daily = (
        _on_dates(events, dates)
        .groupBy(s.EVENT_DATE, F.col(s.PLATFORM).alias("platform"), F.col(s.APP_VERSION).alias("app_version"))
        .agg(
            F.count(F.lit(1)).alias("events"),
            _count_if(is_error).alias("errors"),
            _count_if(is_error & F.coalesce(F.col(s.FATAL), F.lit(False))).alias("fatal_errors"),
        )
        .withColumn("error_rate", _ratio("errors", "events"))
    )
    return _select(daily, APP_ERRORS_DAILY_COLUMNS)
