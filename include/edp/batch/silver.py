"""Names of the ``silver.events`` columns the batch jobs read, derived from contract paths.

Spelling a column as ``column_name("device.platform")`` rather than ``"device_platform"`` keeps the
batch jobs tied to the contract: a renamed field fails :func:`missing_columns` (checked by the unit
tests and at job start) instead of silently reading nulls.
"""

from __future__ import annotations

from collections.abc import Iterable

from edp.contract import EVENT_TYPES
from edp.lake import column_name, silver_columns

EVENT_ID = column_name("event_id")
EVENT_TYPE = column_name("event_type")
OCCURRED_AT = column_name("occurred_at")
USER_ID = column_name("user_id")
ANONYMOUS_ID = column_name("anonymous_id")
SESSION_ID = column_name("session_id")
PLATFORM = column_name("device.platform")
LOCALE = column_name("device.locale")
APP_VERSION = column_name("app.version")
ORDER_ID = column_name("properties.order_id")
CURRENCY = column_name("properties.currency")
ITEMS = column_name("properties.items")
ITEM_PRODUCT_ID = column_name("product_id")  # element fields keep their leaf name
ITEM_QUANTITY = column_name("quantity")
ITEM_PRICE = column_name("price")
FATAL = column_name("properties.fatal")
INGESTED_AT = "ingested_at"
EVENT_DATE = "event_date"

PAGE_VIEW, SCREEN_VIEW, ADD_TO_CART, PURCHASE, APP_ERROR = (
    "page_view",
    "screen_view",
    "add_to_cart",
    "purchase",
    "app_error",
)
VIEW_TYPES = (PAGE_VIEW, SCREEN_VIEW)
USED_EVENT_TYPES = (*VIEW_TYPES, ADD_TO_CART, PURCHASE, APP_ERROR)

USED_COLUMNS = (
    EVENT_ID,
    EVENT_TYPE,
    OCCURRED_AT,
    USER_ID,
    ANONYMOUS_ID,
    SESSION_ID,
    PLATFORM,
    LOCALE,
    APP_VERSION,
    ORDER_ID,
    CURRENCY,
    ITEMS,
    FATAL,
    INGESTED_AT,
    EVENT_DATE,
)


def missing_columns(available: Iterable[str] | None = None) -> list[str]:
    """Columns (and event types) the batch jobs use that silver (or the contract) does not have."""
    names = set(available) if available is not None else {c.name for c in silver_columns()}
    missing = [name for name in USED_COLUMNS if name not in names]
    if available is None:
        items = next(c for c in silver_columns() if c.name == ITEMS)
        fields = {f.name for f in items.fields}
        missing += [f"{ITEMS}.{n}" for n in (ITEM_PRODUCT_ID, ITEM_QUANTITY, ITEM_PRICE) if n not in fields]
    missing += [f"event type {t}" for t in USED_EVENT_TYPES if t not in EVENT_TYPES]
    return missing


def require_columns(available: Iterable[str]) -> None:
    """Fail fast when a silver table lacks a column the gold builds read."""
    missing = missing_columns(available)
    if missing:
        raise ValueError(f"silver.events lacks columns the gold build needs: {', '.join(missing)}")
