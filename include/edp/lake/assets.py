"""Airflow Assets of the lake tables, so every DAG names a table's asset the same way.

An asset's ``name`` is the table name (``silver.events``) and its ``uri`` the table's storage location:
``s3://<data bucket>/lake/silver/events`` on AWS, ``file:///<project>/data/lake/silver/events`` locally.
Producers (the streaming layer for bronze/silver, ``gold_build`` for gold) list the asset in
``outlets``; consumers list it in ``inlets`` or schedule on it, and the Airflow UI draws the lineage.

:func:`asset_uri` is standard library only (Spark jobs import :mod:`lake_layout` without Airflow);
:func:`table_asset` imports ``airflow.sdk`` when called.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from edp.lake.tables import TableSpec

if TYPE_CHECKING:
    from airflow.sdk import Asset

ASSET_GROUP = "lake"


def asset_uri(spec: TableSpec, lake_root: str | None = None) -> str:
    """The table's location as a URI: unchanged if it has a scheme (``s3://``), else a ``file://`` URI."""
    location = spec.path(lake_root)
    if "://" in location:
        return location
    return Path(location).resolve().as_uri()


def table_asset(spec: TableSpec, lake_root: str | None = None) -> Asset:
    """The Airflow Asset of one lake table (name = table name, uri = :func:`asset_uri`)."""
    from airflow.sdk import Asset  # noqa: PLC0415 - lake_layout must import without Airflow

    return Asset(
        name=spec.name,
        uri=asset_uri(spec, lake_root),
        group=ASSET_GROUP,
        extra={"layer": spec.layer.value, "format": spec.format},
    )


def table_assets(specs: Iterable[TableSpec], lake_root: str | None = None) -> list[Asset]:
    return [table_asset(spec, lake_root) for spec in specs]
