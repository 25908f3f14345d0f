"""Reference data shipped with the code, used by the batch jobs to enrich events.

* :func:`product_catalog` — the products the shop sells: the load generator's
  ``product_catalog.csv`` next to this module (one file, so simulated traffic and enrichment never drift);
* :func:`geo_countries` — ``geo_countries.csv``: ISO 3166-1 alpha-2 code -> country name and sales
  region, joined on the region subtag of ``device.locale`` (``en-US`` -> ``US``).

Files are read with :mod:`importlib.resources`, so they load the same from the source tree, from the
``--py-files`` zip ``spark-submit`` ships, and from a Glue ``--extra-py-files`` archive. Standard
library only; rows come back as tuples of strings.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from functools import lru_cache
from importlib import resources

PRODUCT_CATALOG = ("edp.batch.seeds", "product_catalog.csv")
GEO_COUNTRIES = ("edp.batch.seeds", "geo_countries.csv")


@dataclasses.dataclass(frozen=True)
class Seed:
    """A small CSV dimension: a header and its rows, every value a string."""

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def column(self, name: str) -> list[str]:
        index = self.header.index(name)
        return [row[index] for row in self.rows]


def read_seed(package: str, filename: str) -> Seed:
    """Parse ``filename`` inside ``package``; rejects empty files and ragged rows."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    rows = tuple(tuple(row) for row in reader if row)
    if not header or not rows:
        raise ValueError(f"seed {package}/{filename} holds no rows")
    ragged = [row for row in rows if len(row) != len(header)]
    if ragged:
        raise ValueError(
            f"seed {package}/{filename}: rows with other than {len(header)} fields: {ragged[:3]}"
        )
    keys = [row[0] for row in rows]
    if len(set(keys)) != len(keys):
        raise ValueError(f"seed {package}/{filename}: its first column {header[0]!r} is not unique")
    return Seed(f"{package}/{filename}", header, rows)


@lru_cache(maxsize=1)
def product_catalog() -> Seed:
    """``product_id, sku, name, category, brand, unit_price, currency`` per product."""
    return read_seed(*PRODUCT_CATALOG)


@lru_cache(maxsize=1)
def geo_countries() -> Seed:
    """``country_code, country_name, region`` per country."""
    return read_seed(*GEO_COUNTRIES)
