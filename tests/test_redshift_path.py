"""What the pipeline sends to Redshift: exact COPY text, statements that parse, no leaked secrets."""

from __future__ import annotations

import datetime as dt
import json
import logging

import boto3
import pytest
import sqlglot
from redshift_double import FakeRedshift, with_literals

from sparkify.operators import create_tables as create_tables_module
from sparkify.operators import data_quality, load_dimension, load_fact, stage_redshift
from sparkify.operators.create_tables import ddl_statements
from sparkify.sql_files import render_sql

WINDOW = {"params": {"window_start": "2018-11-01T10:00:00Z", "window_end": "2018-11-03T02:00:00Z"}}
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"


@pytest.fixture
def redshift(monkeypatch) -> FakeRedshift:
    fake = FakeRedshift(iam_role=ROLE)
    for module in (stage_redshift, load_fact, load_dimension, data_quality, create_tables_module):
        monkeypatch.setattr(module, "Warehouse", fake)
    return fake


def set_aws_connection(monkeypatch, endpoint: str, **extra) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIAEXAMPLEKEY",
                "password": SECRET_KEY,
                "extra": {"endpoint_url": endpoint, "region_name": "us-west-2", **extra},
            }
        ),
    )


def parses_as_redshift(sql: str, params=None) -> sqlglot.Expression:
    return sqlglot.parse_one(with_literals(sql, params), read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def copies(redshift: FakeRedshift) -> list[str]:
    return [s for s in redshift.sql() if s.startswith("copy ")]


def stage_events_operator() -> stage_redshift.StageToRedshiftOperator:
    return stage_redshift.StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source="s3://sparkify-demo/raw",
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        json_format="log_json_path.json",
    )


def test_event_copy_loads_exactly_the_window_days_with_an_iam_role(redshift, monkeypatch, s3_endpoint, demo_bucket):
    set_aws_connection(monkeypatch, s3_endpoint, region="us-west-2")
    summary = stage_events_operator().execute(WINDOW)

    expected = [
        "copy stage_unit (artist, auth, first_name, gender, item_in_session, last_name, length, level, location,"
        " method, page, registration, session_id, song, status, ts, user_agent, user_id)\n"
        f"from 's3://sparkify-demo/raw/log_data/2018/11/2018-11-0{day}-events.json'\n"
        f"iam_role '{ROLE}'\n"
        "format as json 's3://sparkify-demo/raw/log_json_path.json'\n"
        "region 'us-west-2'\n"
        "timeformat 'epochmillisecs'\ntruncatecolumns\nblanksasnull\nemptyasnull\n"
        "compupdate off\nstatupdate off\nmaxerror 0"
        for day in (1, 2, 3)
    ]
    assert copies(redshift) == expected
    assert summary["objects_staged"] == 3
    assert redshift.sql()[0] == "select object_key, object_version, load_unit from staging_ledger where table_name = %s"
    assert "lock staging_events" in redshift.sql()


def test_song_copy_goes_through_manifests_naming_every_object(
    redshift, monkeypatch, s3_endpoint, demo_bucket, demo_source
):
    set_aws_connection(monkeypatch, s3_endpoint)
    operator = stage_redshift.StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=demo_bucket,
        prefix="song_data/",
        manifest_batch=100,
    )
    operator.execute({})

    song_files = sorted(p.relative_to(demo_source).as_posix() for p in (demo_source / "song_data").rglob("*.json"))
    statements = copies(redshift)
    assert len(statements) == -(-len(song_files) // 100)
    assert all("\nmanifest\n" in s and "format as json 'auto'" in s for s in statements)
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-west-2"
    )
    named = []
    for statement in statements:
        manifest_uri = statement.split("\n")[1].split("'")[1]
        key = manifest_uri.removeprefix("s3://sparkify-demo/")
        entries = json.loads(client.get_object(Bucket="sparkify-demo", Key=key)["Body"].read())["entries"]
        assert all(entry["mandatory"] for entry in entries)
        named += [entry["url"].removeprefix("s3://sparkify-demo/raw/") for entry in entries]
    assert named == song_files


def test_every_statement_of_a_redshift_run_parses(redshift, monkeypatch, s3_endpoint, demo_bucket):
    set_aws_connection(monkeypatch, s3_endpoint)
    create_tables_module.CreateTablesOperator(task_id="create_tables").execute({})
    stage_events_operator().execute(WINDOW)
    load_fact.LoadFactOperator(task_id="fact", table="songplays").execute(WINDOW)
    for table, key in (("users", "user_id"), ("songs", "song_id"), ("artists", "artist_id"), ("time", "start_time")):
        load_dimension.LoadDimensionOperator(task_id=table, table=table, mode="upsert", primary_key=key).execute(WINDOW)
    checks = data_quality.DataQualityOperator(
        task_id="checks", tables=["songplays", "users", "songs", "artists", "time"]
    )
    checks.execute({**WINDOW, "run_id": "r"})  # the double answers 0 everywhere: only the SQL matters here

    parsed = 0
    for sql, params in redshift.statements:
        if sql.startswith("lock "):
            assert sql in {f"lock {t}" for t in ("staging_events", "songplays", "users", "songs", "artists", "time")}
            continue
        parses_as_redshift(sql, params)
        parsed += 1
    assert parsed > 40


def test_ddl_for_redshift_has_keys_and_no_postgres_indexes() -> None:
    statements = ddl_statements("redshift")
    assert not any("create index" in s for s in statements)
    for statement in statements:
        parses_as_redshift(statement)
    songplays = next(s for s in statements if "table if not exists songplays" in s)
    assert "distkey (song_id)" in songplays and "sortkey (start_time)" in songplays
    assert "primary key (songplay_id)" in songplays
    users = next(s for s in statements if "table if not exists users" in s)
    assert "diststyle all" in users


def test_postgres_ddl_has_the_indexes_an_hourly_run_needs() -> None:
    statements = ddl_statements("postgres")
    assert "create index if not exists songplays_start_time_idx on songplays (start_time)" in statements
    assert "create index if not exists staging_events_ts_idx on staging_events (ts)" in statements
    assert not any("sortkey" in s or "diststyle" in s for s in statements)


@pytest.mark.parametrize("model", ["songplays", "users", "songs", "artists", "time"])
def test_models_are_shared_by_both_targets(model) -> None:
    assert render_sql(f"models/{model}.sql", "redshift") == render_sql(f"models/{model}.sql", "postgres")
    parses_as_redshift(
        render_sql(f"models/{model}.sql", "redshift"),
        {"window_start": dt.datetime(2018, 11, 1), "window_end": dt.datetime(2018, 11, 2)},
    )


def test_access_keys_never_leak_into_logs_errors_or_xcom(
    redshift, monkeypatch, s3_endpoint, demo_bucket, caplog, capsys
):
    set_aws_connection(monkeypatch, s3_endpoint)
    redshift.extra = {}  # no IAM role: COPY must carry the keys
    caplog.set_level(logging.DEBUG)
    result = stage_events_operator().execute(WINDOW)
    assert any(SECRET_KEY in s for s in copies(redshift)), "the keys do reach Redshift"

    redshift.fail_on = r"^copy "
    songs = stage_redshift.StageToRedshiftOperator(
        task_id="stage_songs", table="staging_songs", source=demo_bucket, prefix="song_data/"
    )
    with pytest.raises(RuntimeError) as error:
        songs.execute({})

    printed = capsys.readouterr()
    everything = "\n".join([caplog.text, printed.out, printed.err, str(error.value), json.dumps(result)])
    assert "Running copy stage_unit" in everything, "the COPY log lines were captured"
    assert SECRET_KEY not in everything
    assert "secret_access_key '***'" in str(error.value)
