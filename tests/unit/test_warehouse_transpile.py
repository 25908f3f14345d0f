"""Redshift SQL on DuckDB: statement splitting, the COPY -> INSERT rewrite on the syntax tree, storage options."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from edp.serving.transpile import (
    TranspileError,
    copy_to_insert,
    local_parquet_glob,
    split_statements,
    to_duckdb,
)

pytestmark = pytest.mark.unit


def test_statements_split_on_top_level_semicolons_only() -> None:
    script = """-- header comment; not a statement
    SELECT 'a;b' AS "x;y";
    /* block; comment */ DELETE FROM t WHERE a = 1 ;
    ;
    INSERT INTO t VALUES (1)"""
    assert split_statements(script) == [
        """SELECT 'a;b' AS "x;y\"""",
        "DELETE FROM t WHERE a = 1",
        "INSERT INTO t VALUES (1)",
    ]


def test_a_script_of_comments_has_no_statements() -> None:
    assert split_statements("-- nothing\n/* at all */\n") == []


def test_copy_from_a_parquet_prefix_becomes_an_insert_reading_every_file_below_it(tmp_path: Path) -> None:
    tree = sqlglot.parse_one(
        f"COPY staging.revenue_daily FROM '{tmp_path}/revenue_daily/' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET",
        read="redshift",
    )
    insert = copy_to_insert(tree)
    assert isinstance(insert, exp.Insert)
    assert insert.this.sql() == "staging.revenue_daily"
    reader = insert.expression.find(exp.Anonymous)
    assert reader.name.lower() == "read_parquet"
    assert [lit.name for lit in reader.find_all(exp.Literal)] == [f"{tmp_path}/revenue_daily/*.parquet"]
    assert insert.find(exp.Credentials) is None  # credentials do not survive the rewrite


def test_copy_with_a_column_list_inserts_into_those_columns_from_a_file_uri(tmp_path: Path) -> None:
    sql = to_duckdb(
        f"COPY s.t (a, b) FROM 'file://{tmp_path}/t/part-0.parquet' IAM_ROLE default FORMAT AS PARQUET"
    )
    assert sql == f"INSERT INTO s.t (a, b) SELECT * FROM READ_PARQUET(['{tmp_path}/t/part-0.parquet'])"


def test_the_rewritten_copy_loads_the_parquet_rows_into_duckdb(tmp_path: Path) -> None:
    folder = tmp_path / "export" / "t"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), folder / "part-00000.parquet")
    pq.write_table(pa.table({"a": [3], "b": ["z"]}), folder / "part-00001.parquet")
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA s; CREATE TABLE s.t (a BIGINT, b VARCHAR)")
    connection.execute(to_duckdb(f"COPY s.t FROM '{tmp_path}/export/t/' IAM_ROLE 'arn:x' FORMAT AS PARQUET"))
    assert sorted(connection.execute("SELECT a, b FROM s.t").fetchall()) == [(1, "x"), (2, "y"), (3, "z")]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("COPY s.t FROM 's3://bucket/k/' IAM_ROLE 'x' FORMAT AS PARQUET", "local files only"),
        ("COPY s.t FROM '/tmp/x/' IAM_ROLE 'x' CSV", "FORMAT AS PARQUET only"),
        ("COPY s.t FROM 'relative/path/' IAM_ROLE 'x' FORMAT AS PARQUET", "absolute path"),
        ("BEGIN", "must not control transactions"),
        ("COMMIT", "must not control transactions"),
    ],
)
def test_statements_that_cannot_run_locally_as_written_are_refused(statement: str, message: str) -> None:
    with pytest.raises(TranspileError, match=message):
        to_duckdb(statement)


def test_distribution_sort_keys_and_encodings_are_dropped_and_the_table_still_creates() -> None:
    sql = to_duckdb(
        "CREATE TABLE IF NOT EXISTS g.f (d DATE NOT NULL ENCODE az64, p VARCHAR(16) NOT NULL ENCODE zstd, "
        "v DECIMAL(18,2), PRIMARY KEY (d, p)) DISTSTYLE KEY DISTKEY (p) COMPOUND SORTKEY (d, p)"
    )
    assert not any(word in sql.upper() for word in ("DISTKEY", "DISTSTYLE", "SORTKEY", "ENCODE"))
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA g")
    connection.execute(sql)
    assert [r[0] for r in connection.execute("DESCRIBE g.f").fetchall()] == ["d", "p", "v"]


def test_redshift_functions_are_translated() -> None:
    assert "CURRENT_TIMESTAMP" in to_duckdb("SELECT GETDATE()")
    assert "COALESCE" in to_duckdb("SELECT NVL(a, 0) FROM t")


def test_a_directory_source_reads_its_parquet_files(tmp_path: Path) -> None:
    assert local_parquet_glob(str(tmp_path)) == f"{tmp_path}/*.parquet"
    assert local_parquet_glob(f"file://{tmp_path}/x.parquet") == f"{tmp_path}/x.parquet"
