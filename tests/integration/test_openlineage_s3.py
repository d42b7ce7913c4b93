"""OpenLineage of staging from S3 (moto's server, through the S3 hook), into the local PostgreSQL and into
Redshift (the recording double): ``s3://{bucket}`` namespaces, key names, and each warehouse's own
namespace. The operators are executed directly; ``test_openlineage.py`` covers a whole Airflow run."""

from __future__ import annotations

from urllib.parse import urlparse

import boto3
import pytest
from support.postgres import PORT
from support.redshift_double import FakeRedshift

from sparkify.operators import CreateTablesOperator, StageToRedshiftOperator
from sparkify.operators import base as operator_base

WINDOW = {"params": {"window_start": "2018-11-01T10:00:00Z", "window_end": "2018-11-03T02:00:00Z"}}
BUCKET, PREFIX = "sparkify-demo", "raw"


def stage(table: str, **kwargs) -> StageToRedshiftOperator:
    return StageToRedshiftOperator(task_id=f"stage_{table}", table=table, source=f"s3://{BUCKET}/{PREFIX}", **kwargs)


def s3_objects(endpoint: str, prefix: str) -> dict[str, int]:
    """``{key: size}`` below ``prefix`` in the emulator, listed with boto3 itself."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-west-2",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


def day_keys() -> list[str]:
    return [f"{PREFIX}/log_data/2018/11/2018-11-0{day}-events.json" for day in (1, 2, 3)]


def test_staging_from_s3_into_postgres_names_the_objects_and_the_table(
    warehouse_dsn, aws_connection, demo_bucket, s3_endpoint
) -> None:
    CreateTablesOperator(task_id="create_tables").execute({})
    # the DAG's JSONPaths: with "auto", sessionId, userId and itemInSession match no column, and the plays
    # would be refused as staged (issue 18: a play needs its identity)
    operator = stage(
        "staging_events", daily_key="log_data/%Y/%m/%Y-%m-%d-events.json", json_format="log_json_path.json"
    )
    operator.execute(WINDOW)
    lineage = operator.get_openlineage_facets_on_complete(None)

    sizes = s3_objects(s3_endpoint, f"{PREFIX}/log_data/")
    assert {(d.namespace, d.name) for d in lineage.inputs} == {(f"s3://{BUCKET}", key) for key in day_keys()}
    assert {d.name: d.inputFacets["inputStatistics"].size for d in lineage.inputs} == {k: sizes[k] for k in day_keys()}
    database = urlparse(warehouse_dsn).path.lstrip("/")
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        (f"postgres://127.0.0.1:{PORT}", f"{database}.public.staging_events")
    ]


@pytest.fixture
def redshift(monkeypatch) -> FakeRedshift:
    fake = FakeRedshift(iam_role="arn:aws:iam::123456789012:role/sparkify-redshift-s3")
    monkeypatch.setattr(operator_base, "open_warehouse", fake)
    return fake


def test_staging_into_redshift_names_day_files_and_the_song_prefix(
    redshift, aws_connection, demo_bucket, s3_endpoint
) -> None:
    events = stage("staging_events", daily_key="log_data/%Y/%m/%Y-%m-%d-events.json", json_format="auto")
    events.execute(WINDOW)
    lineage = events.get_openlineage_facets_on_complete(None)
    assert {(d.namespace, d.name) for d in lineage.inputs} == {(f"s3://{BUCKET}", key) for key in day_keys()}
    # the double's endpoint is sparkify.abc123.us-west-2.redshift.amazonaws.com, and it names no database
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("redshift://sparkify.us-west-2:5439", "public.staging_events")
    ]

    songs = stage("staging_songs", prefix="song_data/", json_format="auto", workspace=f"s3://{BUCKET}/workspace")
    songs.execute({})
    lineage = songs.get_openlineage_facets_on_complete(None)
    song_files = s3_objects(s3_endpoint, f"{PREFIX}/song_data/")
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(f"s3://{BUCKET}", f"{PREFIX}/song_data")]
    statistics = lineage.inputs[0].inputFacets["inputStatistics"]
    assert (statistics.fileCount, statistics.size) == (len(song_files), sum(song_files.values()))
