"""The Redshift rules catch what the DuckDB twin lets through."""

from __future__ import annotations

import pytest

from edp.serving.dialect_rules import MAX_BATCH_STATEMENTS, redshift_violations

pytestmark = pytest.mark.unit

MERGE_WITH_TARGET_ALIAS = """
MERGE INTO analytics.dim_product AS tgt
USING staging.dim_product AS src
ON tgt.product_id = src.product_id
WHEN MATCHED THEN UPDATE SET product_brand = src.product_brand
WHEN NOT MATCHED THEN INSERT (product_id, product_brand) VALUES (src.product_id, src.product_brand);
"""
MERGE_WITH_SOURCE_ALIAS_ONLY = MERGE_WITH_TARGET_ALIAS.replace(" AS tgt", "").replace("tgt.", "dim_product.")


def test_a_merge_target_alias_is_refused_and_a_source_alias_is_not() -> None:
    assert redshift_violations(MERGE_WITH_TARGET_ALIAS) == [
        "MERGE INTO analytics.dim_product AS tgt: Redshift allows an alias on the MERGE source only, "
        "not on the target"
    ]
    assert redshift_violations(MERGE_WITH_SOURCE_ALIAS_ONLY) == []


def test_a_batch_longer_than_the_data_api_takes_is_refused() -> None:
    script = "SELECT 1;\n" * (MAX_BATCH_STATEMENTS + 1)
    assert redshift_violations(script) == [
        f"{MAX_BATCH_STATEMENTS + 1} statements in one BatchExecuteStatement; the Data API takes at most 40"
    ]
    assert redshift_violations("SELECT 1;\n" * MAX_BATCH_STATEMENTS) == []
    assert redshift_violations(script, batch=False) == []
