"""OpenLineage naming and facets, without Airflow running: dataset names against the naming spec, the
catalogue's declared column lineage against the model SQL, and the bound on what staging remembers."""

from __future__ import annotations

import json
import re

import pytest
import sqlglot
from airflow.sdk.definitions.connection import Connection
from sqlglot import exp
from sqlglot.lineage import lineage

from sparkify.lineage import WarehouseNaming, object_dataset_name, staging_lineage, static_prefix
from sparkify.models.catalogue import load_catalogue
from sparkify.models.ddl import ddl_statements
from sparkify.models.sql_files import sql_dir
from sparkify.sources import LocalSource, SourceObject
from sparkify.staging.request import StagedObjects
from sparkify.warehouses.postgres import PostgresWarehouse
from sparkify.warehouses.redshift import RedshiftWarehouse


def connection(conn_type: str, host: str, port: int | None = None, **extra: object) -> Connection:
    return Connection(
        conn_id="redshift", conn_type=conn_type, host=host, port=port, schema="dev", extra=json.dumps(extra)
    )


# the OpenLineage naming spec (spec/Naming.md): postgres://{host}:{port}, redshift://{cluster}.{region}:{port}
@pytest.mark.parametrize(
    ("target", "conn", "namespace"),
    [
        (PostgresWarehouse, connection("postgres", "127.0.0.1", 55432), "postgres://127.0.0.1:55432"),
        (PostgresWarehouse, connection("postgres", "DB.example.com"), "postgres://db.example.com:5432"),
        (
            RedshiftWarehouse,
            connection("redshift", "sparkify.c1a2b3.us-west-2.redshift.amazonaws.com", 5439),
            "redshift://sparkify.us-west-2:5439",
        ),
        (
            RedshiftWarehouse,
            connection("postgres", "etl.123456789012.eu-central-1.redshift-serverless.amazonaws.com"),
            "redshift://etl.eu-central-1:5439",
        ),
        (
            RedshiftWarehouse,
            connection("redshift", "10.0.0.7", 5439, **{"cluster-identifier": "sparkify", "region": "us-east-1"}),
            "redshift://sparkify.us-east-1:5439",
        ),
        (RedshiftWarehouse, connection("redshift", "10.0.0.7", 5439), "redshift://10.0.0.7:5439"),
    ],
)
def test_warehouse_tables_are_named_as_the_naming_spec_says(target, conn, namespace) -> None:
    naming = WarehouseNaming.of(target("redshift", conn))
    assert naming.namespace == namespace
    assert naming.name("songplays") == "dev.public.songplays"
    assert naming.name("analytics.plays_per_hour") == "dev.analytics.plays_per_hour"


def test_source_objects_are_named_as_the_naming_spec_says() -> None:
    assert object_dataset_name("s3://udacity-dend/log_data/2018/11/2018-11-01-events.json") == (
        "s3://udacity-dend",
        "log_data/2018/11/2018-11-01-events.json",
    )
    assert object_dataset_name("s3://sparkify-demo/raw/song_data/") == ("s3://sparkify-demo", "raw/song_data")
    assert object_dataset_name("/data/raw/log_data/2018/11/2018-11-01-events.json") == (
        "file",
        "/data/raw/log_data/2018/11/2018-11-01-events.json",
    )
    assert static_prefix("log_data/%Y/%m/%Y-%m-%d-events.json") == "log_data"


def test_staging_remembers_a_bounded_sample_and_reports_many_objects_as_their_prefix(tmp_path) -> None:
    (tmp_path / "song_data").mkdir()
    staged = StagedObjects(keep=3)
    for number in range(1000):
        staged.add([SourceObject(f"song_data/A/{number:04}.json", "v", 10)], 1)
    assert (staged.count, staged.size, staged.rows, len(staged.objects), staged.complete) == (
        1000,
        10_000,
        1000,
        3,
        False,
    )

    naming = WarehouseNaming("postgres://127.0.0.1:5432", "sparkify", "postgres")
    events = staging_lineage(
        naming, "staging_events", LocalSource(tmp_path), staged, group="song_data", per_object=True
    )
    assert [(d.namespace, d.name) for d in events.inputs] == [("file", str(tmp_path / "song_data"))]
    statistics = events.inputs[0].inputFacets["inputStatistics"]
    assert (statistics.fileCount, statistics.size, statistics.rowCount) == (1000, 10_000, 1000)


# -- the catalogue's column lineage against the model SQL ---------------------------------------------


def table_columns() -> dict[str, dict[str, str]]:
    """Every table's columns, from its DDL, as sqlglot's schema."""
    schema = {}
    for statement in ddl_statements("postgres", None):
        tree = sqlglot.parse_one(statement, read="postgres")
        if isinstance(tree, exp.Create) and tree.kind == "TABLE":
            columns = [c for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
            schema[tree.this.this.name] = {c.name: c.args["kind"].sql() for c in columns}
    return schema


@pytest.mark.parametrize("spec", load_catalogue().star, ids=lambda spec: spec.name)
def test_declared_column_lineage_is_what_the_model_sql_computes(spec) -> None:
    # the model's driver parameters are not SQL: literals take their place for parsing
    sql = re.sub(r"%\((\w+)\)s", r"'\1'", (sql_dir() / spec.model).read_text())
    tree = sqlglot.parse_one(sql, read="postgres")
    schema = table_columns()
    computed = {}
    for select in tree.selects:
        leaves = [node for node in lineage(select.alias_or_name, tree, schema=schema).walk() if not node.downstream]
        computed[select.alias_or_name] = {f"{node.expression.name}.{node.name.rpartition('.')[2]}" for node in leaves}
    declared = {column.name: set(column.sources) for column in spec.columns}
    assert declared == computed
