"""Gold tables: business aggregates built from ``silver.events`` by the batch job ``build_gold.py``.

Every gold table is a Delta table partitioned by ``event_date`` (UTC). The batch job rebuilds whole
``event_date`` partitions with ``replaceWhere``, so a rerun of the same data interval yields the same
table (see ``docs/batch.md`` for which dates an interval rebuilds).

Conventions shared by the tables:

* ``user_key``: the event's hashed ``user_id`` when it carries one, else its hashed ``anonymous_id``
  (both are salted SHA-256 in silver); a visitor who signs in mid-day therefore counts once per key.
* ``platform``: ``device.platform`` (``web``, ``ios``, ``android``); ``daily_active_users`` adds
  ``all`` rows with platform-independent distinct counts.
* rates are ``numerator / denominator`` as doubles, null when the denominator is 0.
* money is ``decimal(18,2)`` in the event's currency (never converted): sums of decimals are exact,
  so a rebuild reproduces the same values bit for bit.

Standard library only, like the rest of :mod:`lake_layout`.
"""

from __future__ import annotations

from edp.lake.columns import Column
from edp.lake.tables import Layer, TableSpec

MONEY = "decimal(18,2)"
ALL_PLATFORMS = "all"
UNKNOWN = "unknown"
UNKNOWN_COUNTRY = "ZZ"  # ISO 3166 user-assigned code, used for "no country signal"


def _c(name: str, sql_type: str, description: str, *, nullable: bool = False) -> Column:
    return Column(name, sql_type, nullable, description=description)


EVENT_DATE = _c("event_date", "date", "UTC date the row describes; the partition column.")
PLATFORM = _c("platform", "string", "device.platform of the events: web, ios or android.")


def _rate(name: str, what: str) -> Column:
    return _c(name, "double", f"{what}; null when the denominator is 0.", nullable=True)


GOLD_DAILY_ACTIVE_USERS = TableSpec(
    name="gold.daily_active_users",
    layer=Layer.GOLD,
    relative_path="gold/daily_active_users",
    partition_columns=("event_date",),
    description="Distinct active users per day and platform: DAU, and WAU over the 7 days ending that day.",
)
DAILY_ACTIVE_USERS_COLUMNS: tuple[Column, ...] = (
    EVENT_DATE,
    _c("platform", "string", "device.platform, or 'all' for distinct users across platforms."),
    _c("dau", "bigint", "Distinct user keys with at least one event on event_date."),
    _c("wau", "bigint", "Distinct user keys with at least one event in [event_date - 6 days, event_date]."),
)

GOLD_SESSIONS = TableSpec(
    name="gold.sessions",
    layer=Layer.GOLD,
    relative_path="gold/sessions",
    partition_columns=("event_date",),
    description="One row per session (anonymous_id, session_id), dated by its first event.",
)
SESSIONS_COLUMNS: tuple[Column, ...] = (
    _c("session_id", "string", "Client session id (unique per anonymous_id)."),
    _c("anonymous_id", "string", "Hashed anonymous_id of the device or browser that ran the session."),
    _c("user_key", "string", "First hashed user_id seen in the session, else the hashed anonymous_id."),
    _c("platform", "string", "device.platform of the session's first event."),
    _c("app_version", "string", "app.version of the session's first event."),
    _c("country_code", "string", "ISO 3166-1 alpha-2 region of the first event's device.locale, or ZZ."),
    _c("started_at", "timestamp", "occurred_at of the first event."),
    _c("ended_at", "timestamp", "occurred_at of the last event."),
    _c("duration_seconds", "double", "ended_at - started_at in seconds (0 for one-event sessions)."),
    _c("event_count", "bigint", "Events in the session."),
    _c("page_views", "bigint", "page_view events in the session."),
    _c("screen_views", "bigint", "screen_view events in the session."),
    _c("converted", "boolean", "The session contains a purchase."),
    _c("event_date", "date", "UTC date of started_at; the partition column."),
)

GOLD_SESSIONS_DAILY = TableSpec(
    name="gold.sessions_daily",
    layer=Layer.GOLD,
    relative_path="gold/sessions_daily",
    partition_columns=("event_date",),
    description="Sessions per day and platform: counts, conversion, bounces and session length.",
)
SESSIONS_DAILY_COLUMNS: tuple[Column, ...] = (
    EVENT_DATE,
    PLATFORM,
    _c("sessions", "bigint", "Sessions that started on event_date."),
    _c("users", "bigint", "Distinct user keys among those sessions."),
    _c("converted_sessions", "bigint", "Sessions with a purchase."),
    _rate("conversion_rate", "converted_sessions / sessions"),
    _c("bounced_sessions", "bigint", "Sessions with exactly one event."),
    _rate("bounce_rate", "bounced_sessions / sessions"),
    _c("avg_duration_seconds", "double", "Mean session duration in seconds."),
    _c("median_duration_seconds", "double", "Exact median session duration in seconds."),
    _c("avg_events_per_session", "double", "Mean events per session."),
)

GOLD_FUNNEL_DAILY = TableSpec(
    name="gold.funnel_daily",
    layer=Layer.GOLD,
    relative_path="gold/funnel_daily",
    partition_columns=("event_date",),
    description="Ordered view -> add_to_cart -> purchase funnel of user keys per day and platform.",
)
FUNNEL_DAILY_COLUMNS: tuple[Column, ...] = (
    EVENT_DATE,
    PLATFORM,
    _c("viewers", "bigint", "User keys with a page_view or screen_view that day."),
    _c("carted", "bigint", "Viewers with an add_to_cart at or after their first view that day."),
    _c("purchased", "bigint", "Carted user keys with a purchase at or after their first such add_to_cart."),
    _rate("view_to_cart_rate", "carted / viewers"),
    _rate("cart_to_purchase_rate", "purchased / carted"),
    _rate("view_to_purchase_rate", "purchased / viewers"),
)

GOLD_REVENUE_DAILY = TableSpec(
    name="gold.revenue_daily",
    layer=Layer.GOLD,
    relative_path="gold/revenue_daily",
    partition_columns=("event_date",),
    description="Purchased line items per day, product, country and platform, enriched from the seeds.",
)
REVENUE_DAILY_COLUMNS: tuple[Column, ...] = (
    EVENT_DATE,
    _c("product_id", "string", "properties.items[].product_id."),
    _c("product_category", "string", "Category from the product catalog seed, or 'unknown'."),
    _c("product_brand", "string", "Brand from the product catalog seed, or 'unknown'."),
    _c("country_code", "string", "ISO 3166-1 alpha-2 region of device.locale, or ZZ."),
    _c("country_name", "string", "Country name from the geo seed, or 'Unknown'."),
    _c("region", "string", "Sales region from the geo seed, or 'Unknown'."),
    PLATFORM,
    _c("currency", "string", "ISO 4217 currency of the order."),
    _c("orders", "bigint", "Distinct orders containing the product."),
    _c("units", "bigint", "Sum of item quantities."),
    _c(
        "revenue",
        MONEY,
        "Sum of quantity * price of the items (before order-level discounts, tax, shipping).",
    ),
)

GOLD_APP_ERRORS_DAILY = TableSpec(
    name="gold.app_errors_daily",
    layer=Layer.GOLD,
    relative_path="gold/app_errors_daily",
    partition_columns=("event_date",),
    description="app_error events against all events per day, platform and app version.",
)
APP_ERRORS_DAILY_COLUMNS: tuple[Column, ...] = (
    EVENT_DATE,
    PLATFORM,
    _c("app_version", "string", "app.version."),
    _c("events", "bigint", "All events of that platform and version."),
    _c("errors", "bigint", "app_error events."),
    _c("fatal_errors", "bigint", "app_error events with properties.fatal = true."),
    _rate("error_rate", "errors / events"),
)

GOLD_TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        GOLD_DAILY_ACTIVE_USERS,
        GOLD_SESSIONS,
        GOLD_SESSIONS_DAILY,
        GOLD_FUNNEL_DAILY,
        GOLD_REVENUE_DAILY,
        GOLD_APP_ERRORS_DAILY,
    )
}

GOLD_COLUMNS: dict[str, tuple[Column, ...]] = {
    GOLD_DAILY_ACTIVE_USERS.name: DAILY_ACTIVE_USERS_COLUMNS,
    GOLD_SESSIONS.name: SESSIONS_COLUMNS,
    GOLD_SESSIONS_DAILY.name: SESSIONS_DAILY_COLUMNS,
    GOLD_FUNNEL_DAILY.name: FUNNEL_DAILY_COLUMNS,
    GOLD_REVENUE_DAILY.name: REVENUE_DAILY_COLUMNS,
    GOLD_APP_ERRORS_DAILY.name: APP_ERRORS_DAILY_COLUMNS,
}


def gold_columns(spec: TableSpec) -> tuple[Column, ...]:
    """Columns of a gold table, in table order; ``KeyError`` for a table that is not gold."""
    try:
        return GOLD_COLUMNS[spec.name]
    except KeyError:
        raise KeyError(f"{spec.name!r} is not a gold table; known: {', '.join(GOLD_COLUMNS)}") from None
