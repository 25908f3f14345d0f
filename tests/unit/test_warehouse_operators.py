"""Each serving step's task: provider operators (deferrable) on AWS, local twins locally, same task ids."""

from __future__ import annotations

import dataclasses

import pytest

from edp.config import Environment, get_config
from edp.serving.dashboard.operator import DashboardRefreshOperator
from edp.serving.operators import (
    LocalAthenaSqlOperator,
    LocalWarehouseSqlOperator,
    athena_ddl_task,
    bi_refresh_task,
    warehouse_sql_task,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def aws_config():
    return dataclasses.replace(get_config(), env=Environment.AWS)


def test_local_steps_use_the_local_twins_with_the_same_sql_files() -> None:
    config = get_config()
    sql = warehouse_sql_task("merge_gold", "redshift/merge_gold.sql", config)
    assert isinstance(sql, LocalWarehouseSqlOperator) and sql.sql == "redshift/merge_gold.sql"
    assert ".sql" in sql.template_ext and "sql" in sql.template_fields
    assert isinstance(
        athena_ddl_task("create_database", "athena/create_database.sql", config), LocalAthenaSqlOperator
    )
    assert isinstance(bi_refresh_task("refresh_bi", config), DashboardRefreshOperator)


def test_on_aws_the_warehouse_step_is_a_deferrable_redshift_data_batch(aws_config) -> None:
    from airflow.providers.amazon.aws.operators.redshift_data import RedshiftDataOperator

    task = warehouse_sql_task("merge_gold", "redshift/merge_gold.sql", aws_config)
    assert isinstance(task, RedshiftDataOperator) and task.deferrable
    assert (task.workgroup_name, task.database) == (
        aws_config.redshift.workgroup,
        aws_config.redshift.database,
    )


def test_on_aws_athena_ddl_runs_deferrable_in_the_configured_workgroup(aws_config) -> None:
    task = athena_ddl_task("create_database", "athena/create_database.sql", aws_config, database="default")
    assert type(task).__name__ == "AthenaOperator" and task.deferrable
    assert task.workgroup == aws_config.athena.workgroup
    assert task.output_location == f"s3://{aws_config.artifacts_bucket}/athena-results/"


def test_on_aws_the_bi_step_maps_one_deferrable_spice_ingestion_per_dataset(aws_config) -> None:
    task = bi_refresh_task("refresh_bi", aws_config)
    assert task.operator_class.__name__ == "QuickSightCreateIngestionOperator"
    assert task.partial_kwargs["deferrable"] is True
    assert task.partial_kwargs["ingestion_id"] == "{{ run_id | safe_id(100) }}-t{{ ti.try_number }}"
    assert task.expand_input.value == {"data_set_id": list(aws_config.quicksight.dataset_ids)}


def test_a_rendered_multi_statement_file_is_sent_as_one_batch(
    aws_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.amazon.aws.operators.redshift_data import RedshiftDataOperator

    sent: list = []
    monkeypatch.setattr(
        RedshiftDataOperator, "execute", lambda self, context: sent.append(self.sql) or ["id"]
    )
    task = warehouse_sql_task("stage_gold", "redshift/stage_gold.sql", aws_config)
    task.sql = "DELETE FROM s.t;\nCOPY s.t FROM 's3://b/x/' IAM_ROLE default FORMAT AS PARQUET; -- trailing comment\n"
    task.execute({})
    assert sent == [["DELETE FROM s.t", "COPY s.t FROM 's3://b/x/' IAM_ROLE default FORMAT AS PARQUET"]]
