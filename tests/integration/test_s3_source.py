"""Staging from S3 for real: an S3 API over HTTP (moto's server), reached through Airflow's S3 hook."""

from __future__ import annotations

import datetime as dt

import pytest
from generate_demo_data import generate
from support.moto_server import upload_folder
from support.postgres import METADATA_DB
from support.runner import dag_test, run_window, task_states
from support.star_schema import assert_star_schema_matches
from support.warehouse_state import rows, snapshot

from sparkify.operators import StageToRedshiftOperator
from sparkify.sources import open_source

UTC = dt.UTC
START, END = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 4, tzinfo=UTC)


@pytest.mark.usefixtures("airflow_db", "aws_connection")
def test_the_dag_loads_from_s3_what_it_loads_from_a_folder(dag, demo_source, demo_bucket, db) -> None:
    dag_run = dag_test(dag, start=START, end=END, source=demo_bucket)

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert_star_schema_matches(db, demo_source, START, END)
    keys = {r[0] for r in rows(db, "select distinct _source_key from staging_events")}
    assert keys == {f"log_data/2018/11/2018-11-0{d}-events.json" for d in (1, 2, 3)}


@pytest.mark.usefixtures("aws_connection")
def test_many_small_objects_are_listed_across_pages_and_staged_once(s3_endpoint, tmp_path, warehouse_dsn, db) -> None:
    # more song files than one ListObjectsV2 page (1,000 keys) holds
    folder = tmp_path / "many"
    generate(folder, songs=1_150, users=5, days=1, events_per_day=10, seed=11)
    upload_folder(s3_endpoint, folder, "sparkify-many", "raw")
    source = open_source("s3://sparkify-many/raw", "aws_default")
    assert sum(1 for _ in source.list("song_data/")) == 1_150

    from sparkify.operators import CreateTablesOperator

    CreateTablesOperator(task_id="create").execute({})
    operator = StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source="s3://sparkify-many/raw",
        prefix="song_data/",
        max_workers=8,
        batch_bytes=64 * 1024,
    )
    first, second = operator.execute({}), operator.execute({})

    assert (first["objects_staged"], second["objects_staged"]) == (1_150, 0)
    assert rows(db, "select count(*), count(distinct song_id) from staging_songs")[0] == (1_150, 1_150)


@pytest.mark.usefixtures("aws_connection")
def test_s3_and_folder_sources_stage_identical_rows(dag, demo_source, demo_bucket, db) -> None:
    run_window(dag, START, END, demo_bucket)
    from_s3 = snapshot(db)
    staged_s3 = rows(db, "select * from staging_events order by _source_key, ts, session_id, item_in_session")

    from support.warehouse_state import recreate_tables

    recreate_tables(db)
    run_window(dag, START, END, demo_source)

    assert snapshot(db) == from_s3
    assert rows(db, "select * from staging_events order by _source_key, ts, session_id, item_in_session") == staged_s3


@pytest.mark.usefixtures("airflow_db")
def test_the_s3_secret_never_reaches_logs_xcom_or_rendered_templates(
    dag, demo_bucket, db, s3_endpoint, monkeypatch, caplog, capsys
) -> None:
    import json

    import psycopg
    from support.postgres import SERVER

    secret = "planted-S3CRET-9f8e7d6c5b4a"  # moto accepts any key pair
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIAPLANTED",
                "password": secret,
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-west-2"},
            }
        ),
    )
    dag_run = dag_test(dag, start=START, end=START + dt.timedelta(hours=6), source=demo_bucket)
    assert str(dag_run.state) == "success", task_states(dag_run)

    printed = capsys.readouterr()
    with psycopg.connect(f"{SERVER}/{METADATA_DB}") as meta:
        stored = meta.execute(
            "select coalesce((select string_agg(x::text, ' ') from xcom as x where x.run_id = %(r)s), '')"
            " || coalesce((select string_agg(f::text, ' ') from rendered_task_instance_fields as f"
            " where f.run_id = %(r)s), '')",
            {"r": dag_run.run_id},
        ).fetchone()[0]
    assert "objects_staged" in stored and "s3://sparkify-demo/raw" in stored, "XComs and rendered fields were read"
    assert "staging_events" in caplog.text + printed.out, "the task logs were captured"
    assert secret not in caplog.text + printed.out + printed.err + stored
