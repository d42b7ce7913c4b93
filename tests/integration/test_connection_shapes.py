"""Every warehouse connection docs/production.md shows connects, exactly as printed there (placeholders filled in):
Redshift through the emulator (password, IAM temporary credentials from moto's GetClusterCredentials, a
Postgres-type connection with an explicit target) and PostgreSQL itself."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from support.moto_server import client
from support.paths import ROOT

from sparkify.warehouses import open_warehouse
from sparkify.warehouses.postgres import PostgresWarehouse
from sparkify.warehouses.redshift import RedshiftWarehouse

ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"


def readme_shapes() -> list[str]:
    text = (ROOT / "docs" / "production.md").read_text()
    block = text.split("<!-- connection-shapes: begin -->")[1].split("<!-- connection-shapes: end -->")[0]
    return re.findall(r"^export AIRFLOW_CONN_REDSHIFT='([^']+)'$", block, flags=re.MULTILINE)


SHAPES = readme_shapes()


def test_the_readme_shows_every_shape() -> None:
    assert len(SHAPES) == 4
    assert {urlsplit(s).scheme for s in SHAPES} == {"redshift", "postgres"}
    assert any("iam=true" in s for s in SHAPES) and any("target=redshift" in s for s in SHAPES)


def filled(shape: str, *, redshift_port: int, postgres_port: int, database: str) -> str:
    """The document's URI with its placeholders filled for this machine."""
    uri = shape.replace("<cluster>.<id>.us-west-2.redshift.amazonaws.com", "127.0.0.1").replace("<host>", "127.0.0.1")
    uri = uri.replace(":5439/dev", f":{redshift_port}/{database}").replace(
        ":5432/<database>", f":{postgres_port}/{database}"
    )
    for placeholder, value in {
        "<password>": "not-checked",
        "<user>": "postgres",
        "<account>": "123456789012",
        "<role>": "sparkify-redshift-s3",
        "<workspace-bucket>": "sparkify-work",
        "<cluster>": "sparkify-dwh",
    }.items():
        uri = uri.replace(placeholder, value)
    assert "<" not in uri, uri
    return uri


@pytest.fixture
def moto_cluster(s3_endpoint, aws_connection) -> str:
    """A Redshift cluster in moto's control plane, so that GetClusterCredentials answers for it."""
    redshift = client(s3_endpoint, "redshift")
    redshift.create_cluster(
        ClusterIdentifier="sparkify-dwh",
        NodeType="dc2.large",
        MasterUsername="awsuser",
        MasterUserPassword="Passw0rd-not-used",
        ClusterType="single-node",
    )
    yield "sparkify-dwh"
    redshift.delete_cluster(ClusterIdentifier="sparkify-dwh", SkipFinalClusterSnapshot=True)


@pytest.mark.parametrize("shape", SHAPES, ids=["password+role", "iam-auth", "explicit-target", "postgres"])
def test_each_readme_connection_connects(shape, redshift_emulator, warehouse_dsn, monkeypatch, request) -> None:
    database = warehouse_dsn.rsplit("/", 1)[1]
    postgres_port = urlsplit(warehouse_dsn).port
    if "iam=true" in shape:
        request.getfixturevalue("moto_cluster")
    uri = filled(shape, redshift_port=redshift_emulator.port, postgres_port=postgres_port, database=database)
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", uri)
    logins_before = len(redshift_emulator.logins)

    warehouse = open_warehouse("redshift")
    with warehouse.transaction() as cursor:
        cursor.execute("select current_database()")
        assert cursor.fetchone()[0] == database
        if isinstance(warehouse, PostgresWarehouse):
            cursor.execute("show lock_timeout")
            assert cursor.fetchone()[0] == "30s", "the extra reached the session, not the driver"

    expected = RedshiftWarehouse if "redshift" in shape else PostgresWarehouse
    assert type(warehouse) is expected
    if expected is RedshiftWarehouse:
        assert warehouse.extra["iam_role"] == ROLE
        logins = redshift_emulator.logins[logins_before:]
        assert logins and logins[0][1] == database
        # IAM authentication logs in as the temporary user GetClusterCredentials returned
        assert logins[0][0] == ("IAM:awsuser" if "iam=true" in shape else "awsuser"), logins
    if "workspace" in shape:
        assert warehouse.extra["workspace"] == "s3://sparkify-work/sparkify"


def test_an_unknown_extra_would_still_reach_the_driver(warehouse_dsn, monkeypatch) -> None:
    # the guard is a list of the project's extras, not a blanket filter: a real libpq option still works
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDSHIFT",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": urlsplit(warehouse_dsn).port,
                "login": "postgres",
                "schema": warehouse_dsn.rsplit("/", 1)[1],
                "extra": {"application_name": "sparkify-test", "iam_role": ROLE},
            }
        ),
    )
    with open_warehouse("redshift").transaction() as cursor:
        cursor.execute("show application_name")
        assert cursor.fetchone()[0] == "sparkify-test"
