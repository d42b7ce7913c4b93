"""What the pipeline sends to Redshift: exact COPY text, statements that parse, no leaked secrets.

These are statement-text tests on a recording double; what the Redshift path *does* is tested end to
end on the Redshift emulator (test_redshift_emulated.py)."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
import sqlglot
from airflow.sdk.exceptions import AirflowFailException
from support.redshift_double import FakeRedshift, with_literals

from sparkify.operators import base as operator_base
from sparkify.operators import create_tables as create_tables_module
from sparkify.operators import data_quality, load_dimension, load_fact, stage_redshift
from sparkify.staging import s3_copy

WINDOW = {"params": {"window_start": "2018-11-01T10:00:00Z", "window_end": "2018-11-03T02:00:00Z"}}
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"


@pytest.fixture
def redshift(monkeypatch) -> FakeRedshift:
    fake = FakeRedshift(iam_role=ROLE)
    monkeypatch.setattr(operator_base, "open_warehouse", fake)
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
    assert "select object_key, object_version, load_unit from staging_ledger where table_name = %s" in redshift.sql()
    assert "lock staging_events" in redshift.sql()
    assert "analyze staging_events" in redshift.sql(), "statistics refreshed after the bulk load"


def test_song_copy_goes_through_manifests_in_the_workspace_never_the_source(
    redshift, monkeypatch, s3_endpoint, demo_bucket, demo_source
):
    set_aws_connection(monkeypatch, s3_endpoint)
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-west-2"
    )
    s3.create_bucket(Bucket="sparkify-work", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    source_before = {o["Key"]: o["ETag"] for o in _objects(s3, "sparkify-demo")}
    written = []
    monkeypatch.setattr(s3_copy.S3CopyStager, "_delete", lambda self, uri: written.append(uri))  # keep them to read
    operator = stage_redshift.StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=demo_bucket,
        prefix="song_data/",
        manifest_batch=100,
        workspace="s3://sparkify-work/etl",
    )
    operator.execute({})

    song_files = sorted(p.relative_to(demo_source).as_posix() for p in (demo_source / "song_data").rglob("*.json"))
    statements = copies(redshift)
    assert len(statements) == -(-len(song_files) // 100)
    assert all("\nmanifest\n" in s and "format as json 'auto'" in s for s in statements)
    named = []
    for statement in statements:
        manifest_uri = statement.split("\n")[1].split("'")[1]
        assert manifest_uri.startswith("s3://sparkify-work/etl/manifests/staging_songs/")
        assert manifest_uri in written, "each manifest is cleaned up after its unit"
        key = manifest_uri.removeprefix("s3://sparkify-work/")
        entries = json.loads(s3.get_object(Bucket="sparkify-work", Key=key)["Body"].read())["entries"]
        assert all(entry["mandatory"] for entry in entries)
        named += [entry["url"].removeprefix("s3://sparkify-demo/raw/") for entry in entries]
    assert named == song_files
    assert {o["Key"]: o["ETag"] for o in _objects(s3, "sparkify-demo")} == source_before, "the source is read-only"


def test_manifests_are_deleted_once_their_unit_committed(redshift, monkeypatch, s3_endpoint, demo_bucket):
    set_aws_connection(monkeypatch, s3_endpoint)
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="us-west-2"
    )
    s3.create_bucket(Bucket="sparkify-clean", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    stage_redshift.StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=demo_bucket,
        prefix="song_data/",
        workspace="s3://sparkify-clean/etl",
    ).execute({})
    assert copies(redshift), "manifest COPYs ran"
    assert _objects(s3, "sparkify-clean") == []


def test_without_a_workspace_song_staging_says_what_to_set(redshift, monkeypatch, s3_endpoint, demo_bucket):
    set_aws_connection(monkeypatch, s3_endpoint)
    operator = stage_redshift.StageToRedshiftOperator(
        task_id="stage_songs", table="staging_songs", source=demo_bucket, prefix="song_data/"
    )
    with pytest.raises(AirflowFailException, match=r"no workspace is set\. Set the Variable sparkify_workspace"):
        operator.execute({})
    assert copies(redshift) == []


def _objects(s3, bucket: str) -> list[dict]:
    return [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in page.get("Contents", [])]


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
        task_id="stage_songs",
        table="staging_songs",
        source=demo_bucket,
        prefix="song_data/",
        workspace="s3://sparkify-demo/work",
    )
    with pytest.raises(RuntimeError) as error:
        songs.execute({})

    printed = capsys.readouterr()
    everything = "\n".join([caplog.text, printed.out, printed.err, str(error.value), json.dumps(result)])
    assert "Running copy stage_unit" in everything, "the COPY log lines were captured"
    assert SECRET_KEY not in everything
    assert "secret_access_key '***'" in str(error.value)


def test_copy_takes_its_region_from_the_bucket_not_from_the_aws_connection(
    redshift, monkeypatch, s3_endpoint, demo_bucket
):
    # the AWS connection's region is where Airflow's own client goes, not where the bucket is
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIAEXAMPLEKEY",
                "password": SECRET_KEY,
                "extra": {"endpoint_url": s3_endpoint, "region_name": "eu-west-1"},
            }
        ),
    )
    stage_events_operator().execute(WINDOW)
    # the demo bucket was created in us-west-2 (tests/support/moto_server.py REGION)
    assert copies(redshift) and all("\nregion 'us-west-2'\n" in s for s in copies(redshift))


def test_a_workspace_bucket_in_another_region_than_the_source_is_refused(
    redshift, monkeypatch, s3_endpoint, demo_bucket
):
    set_aws_connection(monkeypatch, s3_endpoint)
    far = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t", region_name="eu-west-1"
    )
    far.create_bucket(Bucket="sparkify-work-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    songs = stage_redshift.StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=demo_bucket,
        prefix="song_data/",
        workspace="s3://sparkify-work-eu/etl",
    )
    with pytest.raises(AirflowFailException, match="workspace bucket sparkify-work-eu is in eu-west-1"):
        songs.execute({})
    assert copies(redshift) == []
