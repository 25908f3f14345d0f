"""The product catalog the simulated shoppers browse; batch jobs enrich events against the same file."""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal
from pathlib import Path

CATALOG_PATH = Path(__file__).resolve().with_name("product_catalog.csv")


@dataclasses.dataclass(frozen=True)
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    brand: str
    unit_price: Decimal
    currency: str

    @property
    def price(self) -> float:
        return float(self.unit_price)


def load_catalog(path: Path | str = CATALOG_PATH) -> tuple[Product, ...]:
    """Read the catalog CSV (header: product_id, sku, name, category, brand, unit_price, currency)."""
    with open(path, newline="", encoding="utf-8") as fh:
        products = tuple(
            Product(
                product_id=row["product_id"],
                sku=row["sku"],
                name=row["name"],
                category=row["category"],
                brand=row["brand"],
                unit_price=Decimal(row["unit_price"]),
                currency=row["currency"],
            )
            for row in csv.DictReader(fh)
        )
    if not products:
        raise ValueError(f"{path} holds no products")
    return products
