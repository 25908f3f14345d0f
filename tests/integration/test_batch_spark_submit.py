"""The gold entry point under the real local spark-submit, launched by the operator the DAGs use locally.

This covers what in-process tests cannot: argument parsing in the script, the job wheel (``--py-files``)
with the seeds read through ``importlib.resources``, and the JSON summary handed back to Airflow.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from edp.batch.spark_submit import SparkSubmitFailedError, SparkSubmitLocalOperator
from edp.batch.tasks import argv, job_arguments
from edp.config import get_config
from edp.lake.gold import GOLD_REVENUE_DAILY
from tests.integration.silver_rows import append_silver, event, item

pytestmark = pytest.mark.integration


def test_build_gold_runs_under_spark_submit_and_returns_its_summary(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
    lake = str(tmp_path / "lake")
    append_silver(
        spark,
        lake,
        [
            event(
                "purchase",
                "2025-06-01 10:00:00",
                session="s1",
                anonymous_id="a1",
                locale="fr-FR",
                order_id="o1",
                currency="EUR",
                revenue=129.99,
                items=[item("P-2001", 1, 129.99)],
            ),
        ],
    )
    arguments = job_arguments(
        get_config(), {"--start": "2025-06-01", "--end": "2025-06-02", "--tables": "revenue_daily"}
    )
    arguments["--lake-root"] = lake
    operator = SparkSubmitLocalOperator(
        task_id="build_gold",
        script="include/spark/build_gold.py",
        application_args=argv(arguments),
    )

    summary = operator.execute({})

    assert summary is not None and list(summary["tables"]) == [GOLD_REVENUE_DAILY.name]
    assert summary["plan"]["daily"] == ["2025-06-01"]
    row = spark.read.format("delta").load(GOLD_REVENUE_DAILY.path(lake)).collect()[0]
    assert (row.product_category, row.product_brand, row.country_name, row.region) == (
        "footwear",
        "Contoso Outdoor",
        "France",
        "EMEA",
    )


def test_a_failing_job_fails_the_task_with_the_end_of_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM__LOCAL_STATE_DIR", str(tmp_path / "state"))
    operator = SparkSubmitLocalOperator(
        task_id="vacuum",
        script="include/spark/compact_tables.py",
        application_args=["--action", "vacuum", "--retention-hours", "1", "--lake-root", str(tmp_path)],
    )
    with pytest.raises(SparkSubmitFailedError, match="below the 168 h"):
        operator.execute({})
