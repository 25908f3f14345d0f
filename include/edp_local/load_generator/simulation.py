"""Simulated visitors and their sessions: valid events of the v1 contract, in occurrence order."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from edp.batch.seeds.catalog import Product

SCHEMA_VERSION = "1.0"
WEB_ORIGIN = "https://shop.example.com"
LOCALES = (
    ("en-US", "America/New_York"),
    ("en-US", "America/Los_Angeles"),
    ("en-GB", "Europe/London"),
    ("de-DE", "Europe/Berlin"),
    ("fr-FR", "Europe/Paris"),
    ("es-ES", "Europe/Madrid"),
    ("pt-BR", "America/Sao_Paulo"),
    ("ja-JP", "Asia/Tokyo"),
    ("en-IN", "Asia/Kolkata"),
)
ERRORS = (
    ("NET_TIMEOUT", "request to /api/cart timed out after 10000 ms", "network"),
    ("HTTP_500", "checkout service answered 500", "checkout"),
    ("NULL_REFERENCE", "product image was null in ProductCard", "product_list"),
    ("OUT_OF_MEMORY", "image cache exceeded its budget", "media"),
    ("JS_TYPE_ERROR", "Cannot read properties of undefined (reading 'price')", "cart"),
)
SIGNUP_METHODS = ("email", "google", "apple", "facebook", "phone")
UTM_SOURCES = ("newsletter", "google", "instagram", "partner")


@dataclasses.dataclass(frozen=True)
class Platform:
    """One client platform: the app that runs on it and the devices it runs on."""

    name: str  # device.platform: web | ios | android
    app_name: str
    app_versions: tuple[str, ...]  # oldest first; the oldest carries a crash bug
    os_choices: tuple[tuple[str, tuple[str, ...]], ...]  # (os, versions)
    models: tuple[tuple[str | None, str | None], ...]  # (manufacturer, model)
    screens: tuple[tuple[int, int, float], ...]
    weight: float


PLATFORMS = (
    Platform(
        name="web",
        app_name="shop-web",
        app_versions=("2025.10.2", "2025.11.0", "2025.11.3"),
        os_choices=(("Windows", ("10", "11")), ("macOS", ("14.6", "15.1")), ("Linux", ("6.8",))),
        models=((None, None),),
        screens=((1920, 1080, 1.0), (1440, 900, 2.0), (2560, 1440, 1.0), (1366, 768, 1.0)),
        weight=0.5,
    ),
    Platform(
        name="ios",
        app_name="shop-ios",
        app_versions=("4.12.0", "4.13.0", "4.13.1"),
        os_choices=(("iOS", ("17.6", "18.1", "18.2")),),
        models=(("Apple", "iPhone15,2"), ("Apple", "iPhone16,1"), ("Apple", "iPhone17,3")),
        screens=((393, 852, 3.0), (430, 932, 3.0), (375, 812, 3.0)),
        weight=0.25,
    ),
    Platform(
        name="android",
        app_name="shop-android",
        app_versions=("4.12.0", "4.13.0", "4.13.2"),
        os_choices=(("Android", ("13", "14", "15")),),
        models=(("Google", "Pixel 8"), ("samsung", "SM-S921B"), ("Xiaomi", "Redmi Note 13")),
        screens=((412, 915, 2.625), (360, 780, 3.0), (393, 873, 2.75)),
        weight=0.25,
    ),
)


@dataclasses.dataclass
class Visitor:
    """A browser or app install; returning visitors keep their ids, device and (once known) user id."""

    anonymous_id: str
    user_id: str | None
    platform: Platform
    device: dict[str, Any]
    app: dict[str, Any]

    @property
    def buggy_build(self) -> bool:
        return self.app["version"] == self.platform.app_versions[0]


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_visitor(rng: random.Random) -> Visitor:
    platform = rng.choices(PLATFORMS, weights=[p.weight for p in PLATFORMS])[0]
    os_name, os_versions = rng.choice(platform.os_choices)
    manufacturer, model = rng.choice(platform.models)
    width, height, density = rng.choice(platform.screens)
    locale, timezone = rng.choice(LOCALES)
    version = rng.choices(platform.app_versions, weights=(1, 3, 6))[0]
    device = {
        "platform": platform.name,
        "os": os_name,
        "os_version": rng.choice(os_versions),
        "model": model,
        "manufacturer": manufacturer,
        "locale": locale,
        "timezone": timezone,
        "screen": {"width": width, "height": height, "density": density},
    }
    build = None if platform.name == "web" else str(1000 + platform.app_versions.index(version) * 17)
    return Visitor(
        anonymous_id=f"anon-{rng.getrandbits(64):016x}",
        user_id=f"u-{rng.randrange(10**7, 10**8)}" if rng.random() < 0.4 else None,
        platform=platform,
        device=device,
        app={"name": platform.app_name, "version": version, "build": build},
    )


class SessionBuilder:
    """Builds one session's events; times are offsets from the session start, fixed by the caller."""

    def __init__(self, rng: random.Random, catalog: Sequence[Product], visitor: Visitor) -> None:
        self.rng = rng
        self.catalog = catalog
        self.visitor = visitor
        self.session_id = f"s-{rng.getrandbits(64):016x}"
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.elapsed_s = 0.0
        self.crashed = False

    # ---- one event -----------------------------------------------------------------------------
    def emit(
        self, event_type: str, properties: dict[str, Any], gap: tuple[float, float] = (1.0, 25.0)
    ) -> None:
        if self.crashed:
            return
        self.elapsed_s += self.rng.uniform(*gap)
        event = {
            "event_id": new_uuid(self.rng),
            "event_type": event_type,
            "schema_version": SCHEMA_VERSION,
            "occurred_at": "",  # set by stamp() once the session start is known
            "user_id": self.visitor.user_id,
            "anonymous_id": self.visitor.anonymous_id,
            "session_id": self.session_id,
            "device": dict(self.visitor.device),
            "app": dict(self.visitor.app),
            "properties": properties,
        }
        self.events.append((self.elapsed_s, event))
        self.maybe_error()

    def maybe_error(self) -> None:
        chance = 0.06 if self.visitor.buggy_build else 0.006
        if self.rng.random() >= chance:
            return
        code, message, component = self.rng.choice(ERRORS)
        fatal = self.visitor.platform.name != "web" and self.rng.random() < 0.3
        self.elapsed_s += self.rng.uniform(0.1, 2.0)
        self.events.append(
            (
                self.elapsed_s,
                {
                    **self.events[-1][1],
                    "event_id": new_uuid(self.rng),
                    "event_type": "app_error",
                    "properties": {
                        "error_code": code,
                        "message": message,
                        "fatal": fatal,
                        "component": component,
                    },
                },
            )
        )
        self.crashed = fatal

    def view(self, name: str, path: str) -> None:
        if self.visitor.platform.name == "web":
            query = f"?utm_source={self.rng.choice(UTM_SOURCES)}" if self.rng.random() < 0.15 else ""
            title = f"{name} | Shop"
            self.emit(
                "page_view",
                {"url": f"{WEB_ORIGIN}{path}{query}", "path": path, "referrer": None, "title": title},
            )
        else:
            previous = self.events[-1][1]["properties"].get("screen_name") if self.events else None
            self.emit(
                "screen_view",
                {"screen_name": name, "screen_class": f"{name}Screen", "previous_screen": previous},
            )

    def click(self, element_id: str, text: str | None = None) -> None:
        self.emit("click", {"element_id": element_id, "element_text": text}, gap=(0.5, 8.0))

    # ---- the funnel ----------------------------------------------------------------------------
    def build(self) -> list[tuple[float, dict[str, Any]]]:
        self.view("Home", "/")
        if self.visitor.user_id is None and self.rng.random() < 0.08:
            self.signup()
        cart = self.browse()
        if cart and self.rng.random() < 0.45:
            self.checkout(cart)
        return self.events

    def signup(self) -> None:
        self.click("signup-link", "Create account")
        self.view("Signup", "/signup")
        self.click("signup-submit", "Sign up")
        self.visitor.user_id = f"u-{self.rng.randrange(10**7, 10**8)}"
        method = self.rng.choice(SIGNUP_METHODS)
        self.emit("signup", {"method": method, "email": None, "referral_code": None})

    def browse(self) -> dict[str, tuple[Product, int]]:
        cart: dict[str, tuple[Product, int]] = {}
        category = self.rng.choice(self.catalog).category
        self.click(f"nav-category-{category}", category.title())
        self.view("Category", f"/c/{category}")
        for _ in range(self.rng.randint(1, 5)):
            in_category = [p for p in self.catalog if p.category == category]
            product = self.rng.choice(in_category if self.rng.random() < 0.7 else self.catalog)
            self.click(f"product-card-{product.product_id}", product.name)
            self.view("ProductDetail", f"/p/{product.product_id}")
            if self.rng.random() < 0.3:
                quantity = self.rng.choices((1, 2, 3), weights=(8, 2, 1))[0]
                self.click(f"add-to-cart-{product.product_id}", "Add to cart")
                self.emit(
                    "add_to_cart",
                    {
                        "product_id": product.product_id,
                        "quantity": quantity,
                        "price": product.price,
                        "currency": product.currency,
                        "cart_id": f"cart-{self.session_id}",
                    },
                    gap=(0.2, 2.0),
                )
                previous = cart.get(product.product_id, (product, 0))[1]
                cart[product.product_id] = (product, previous + quantity)
        return cart

    def checkout(self, cart: dict[str, tuple[Product, int]]) -> None:
        self.click("cart-icon", "Cart")
        self.view("Cart", "/cart")
        self.click("checkout-button", "Checkout")
        self.view("Checkout", "/checkout")
        self.click("place-order", "Place order")
        items = [{"product_id": p.product_id, "quantity": q, "price": p.price} for p, q in cart.values()]
        subtotal = sum(p.unit_price * q for p, q in cart.values())
        coupon = "WELCOME10" if self.rng.random() < 0.1 else None
        revenue = round(float(subtotal) * (0.9 if coupon else 1.0), 2)
        self.emit(
            "purchase",
            {
                "order_id": f"ord-{self.rng.getrandbits(48):012x}",
                "currency": next(iter(cart.values()))[0].currency,
                "revenue": revenue,
                "tax": round(revenue * 0.08, 2),
                "shipping": 0.0 if revenue >= 50 else 4.99,
                "coupon": coupon,
                "items": items,
            },
            gap=(1.0, 5.0),
        )
        self.view("OrderConfirmation", "/order/confirmation")


def build_session(
    rng: random.Random, catalog: Sequence[Product], visitor: Visitor, ends_at: datetime
) -> list[dict[str, Any]]:
    """One session's events in occurrence order, its last event a few seconds before ``ends_at``."""
    timed = SessionBuilder(rng, catalog, visitor).build()
    start = ends_at - timedelta(seconds=timed[-1][0] + rng.uniform(0.5, 5.0))
    events = []
    for offset, event in timed:
        event["occurred_at"] = iso(start + timedelta(seconds=offset))
        events.append(event)
    return events
