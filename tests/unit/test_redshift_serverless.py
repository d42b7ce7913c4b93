"""Which Redshift is it: a Serverless workgroup reads its load errors from SYS_LOAD_ERROR_DETAIL (its STL
tables hold nothing), a provisioned cluster from STL_LOAD_ERRORS. The warehouse class decides."""

from __future__ import annotations

import json

from airflow.models.connection import Connection

from sparkify.warehouses.redshift import RedshiftWarehouse


def warehouse(host: str, **extra: object) -> RedshiftWarehouse:
    conn = Connection(conn_id="redshift", conn_type="redshift", host=host, port=5439, extra=json.dumps(extra))
    return RedshiftWarehouse("redshift", conn)


def test_a_serverless_endpoint_or_its_extras_make_it_serverless():
    assert warehouse("etl.123456789012.eu-central-1.redshift-serverless.amazonaws.com").serverless
    assert warehouse("127.0.0.1", **{"redshift-serverless": True}).serverless
    assert warehouse("127.0.0.1", **{"redshift-serverless": "true"}).serverless
    assert warehouse("tunnel.internal", **{"workgroup-name": "etl"}).serverless


def test_a_provisioned_cluster_is_not():
    assert not warehouse("sparkify.c1a2b3.us-west-2.redshift.amazonaws.com").serverless
    assert not warehouse("10.0.0.7", **{"cluster-identifier": "sparkify"}).serverless
    assert not warehouse("127.0.0.1", **{"redshift-serverless": "false"}).serverless
