"""The whole DAG on the Redshift target, for real: a ``redshift`` connection to the Redshift emulator
(tests/support/redshift_emulator: every statement runs on the real PostgreSQL, COPY reads moto's S3),
a read-only ``s3://`` source, manifests in a workspace bucket. The tables must equal the oracle's, as on
the PostgreSQL path."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException
from support import oracle
from support.moto_server import REDSHIFT_ROLE_NAME, client, ensure_role, upload_folder
from support.runner import dag_test, run_window, task_states
from support.star_schema import assert_star_schema_matches
from support.warehouse_state import rows, snapshot

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.UTC
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"
START, END = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 4, tzinfo=UTC)


@pytest.fixture
def source(s3_endpoint, demo_source, tmp_path, request):
    """A bucket of its own per test (tests change objects), holding a copy of the demo data."""
    folder = tmp_path / "raw"
    shutil.copytree(demo_source, folder)
    bucket = f"rs-{request.node.name[:30].replace('_', '-').lower()}-{id(folder) % 10_000}"
    upload_folder(s3_endpoint, folder, bucket, "raw")
    s3 = client(s3_endpoint)
    s3.create_bucket(Bucket=f"{bucket}-work", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return {"folder": folder, "bucket": bucket, "uri": f"s3://{bucket}/raw", "workspace": f"s3://{bucket}-work/etl"}


@pytest.fixture
def on_redshift(redshift_emulator, warehouse_dsn, aws_connection, source, monkeypatch):
    """Point the connection ``redshift`` at the emulator, with an IAM role and the workspace as extras."""
    database = warehouse_dsn.rsplit("/", 1)[1]
    extras = f"iam_role={quote(ROLE, safe='')}&workspace={quote(source['workspace'], safe='')}"
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", f"{redshift_emulator.uri(database)}?{extras}")
    return redshift_emulator


BAD_DAY = "log_data/2018/11/2018-11-02-events.json"


def upload_a_bad_session_id(source: dict, s3_endpoint: str, key: str = BAD_DAY) -> tuple[Path, list[str]]:
    """Give line 5 of the day file ``key`` (the 2nd's) a sessionId that is not a number; upload it. Returns the
    file, lines."""
    day_file = source["folder"] / key
    lines = day_file.read_text().splitlines(keepends=True)
    record = json.loads(lines[4])
    record["sessionId"] = "not-a-number"
    lines[4] = json.dumps(record) + "\n"
    day_file.write_text("".join(lines))
    client(s3_endpoint).upload_file(str(day_file), source["bucket"], "raw/" + key)
    return day_file, lines


def objects(s3_endpoint: str, bucket: str) -> dict[str, str]:
    s3 = client(s3_endpoint)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


@pytest.mark.usefixtures("airflow_db")
def test_the_dag_on_redshift_loads_what_the_json_says(dag, on_redshift, source, s3_endpoint, db) -> None:
    before = objects(s3_endpoint, source["bucket"])
    first_copy = len(on_redshift.copies)
    dag_run = dag_test(dag, start=START, end=END, source=source["uri"])

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert_star_schema_matches(db, source["folder"], START, END)
    copies = on_redshift.copies[first_copy:]
    assert all(str(c.source).startswith(source["workspace"]) for c in copies), "every COPY names its objects"
    day_files = [c for c in copies if any("/log_data/" in uri for uri in c.objects)]
    assert len(day_files) == 3, "one COPY per day file of the window"
    assert all(len(c.objects) == 1 for c in day_files), "a day file's COPY reads that file only"
    song_files = len(list((source["folder"] / "song_data").rglob("*.json")))
    assert sum(len(c.objects) for c in copies if c not in day_files) == song_files
    assert objects(s3_endpoint, source["bucket"]) == before, "nothing was written to the source bucket"
    assert objects(s3_endpoint, f"{source['bucket']}-work") == {}, "manifests are removed once loaded"
    ddl = [s for s in on_redshift.statement_texts() if "create table if not exists songplays" in s]
    assert ddl and "distkey (song_id)" in ddl[0] and "sortkey (start_time)" in ddl[0]


def test_reruns_and_hourly_runs_on_redshift_equal_one_run(dag, on_redshift, source, db) -> None:
    day = (dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 2, 6, tzinfo=UTC))
    results = run_window(dag, *day, source["uri"])
    whole = snapshot(db)
    again = run_window(dag, *day, source["uri"])
    assert snapshot(db) == whole, "a rerun changes nothing"
    assert again["stage_events"]["objects_staged"] == 0 and again["stage_songs"]["objects_staged"] == 0
    assert results["stage_events"]["objects_staged"] == 3  # the window's day, and the day before and after

    for table in ("songplays", "users", "time", "songs", "artists"):
        db.execute(f"delete from {table}")
    hour = dt.timedelta(hours=1)
    for start in [day[0] + n * hour for n in (3, 0, 5, 1, 4, 2)]:  # out of order on purpose
        run_window(dag, start, start + hour, source["uri"])
    assert snapshot(db) == whole, "six hourly runs in any order equal one run over the six hours"


def test_a_changed_object_replaces_its_rows_on_redshift(dag, on_redshift, source, s3_endpoint, db) -> None:
    window = (dt.datetime(2018, 11, 3, tzinfo=UTC), dt.datetime(2018, 11, 4, tzinfo=UTC))
    run_window(dag, *window, source["uri"])
    day_file = source["folder"] / "log_data" / "2018" / "11" / "2018-11-03-events.json"
    lines = day_file.read_text().splitlines(keepends=True)
    day_file.write_text("".join(lines[: len(lines) // 2]))  # a re-upload with half the events
    client(s3_endpoint).upload_file(str(day_file), source["bucket"], "raw/log_data/2018/11/2018-11-03-events.json")

    result = run_window(dag, *window, source["uri"])
    assert result["stage_events"]["objects_staged"] == 1 and result["stage_events"]["rows_replaced"] == len(lines)
    expected = oracle.songplays(oracle.events(source["folder"]), oracle.songs(source["folder"]), *window)
    assert rows(db, "select count(*) from songplays")[0][0] == len(expected)
    staged = "select count(*) from staging_events where _source_key = 'log_data/2018/11/2018-11-03-events.json'"
    assert rows(db, staged)[0][0] == len(lines) // 2


def test_a_rejected_record_is_named_from_stl_load_errors_and_fails_at_once(
    dag, on_redshift, source, s3_endpoint, db
) -> None:
    good = (dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 2, tzinfo=UTC))
    run_window(dag, *good, source["uri"])
    staged = rows(db, "select count(*) from staging_events")[0][0]

    upload_a_bad_session_id(source, s3_endpoint)

    stage = next(t for t in dag.tasks if t.task_id == "stage_events")
    with pytest.raises(AirflowFailException) as error:
        run_window(dag, good[1], good[1] + dt.timedelta(days=1), source["uri"], only=(stage.task_id,))
    message = str(error.value)
    assert "2018-11-02-events.json, line 5" in message
    assert "session_id" in message and "not-a-number" in message
    assert rows(db, "select count(*) from staging_events")[0][0] == staged, "what was loaded stays"
    with psycopg.connect(on_redshift.dsn(db.info.dbname)) as conn:
        logged = conn.execute("select count(*) from stl_load_errors where raw_field_value like 'not-a-number%'")
        assert logged.fetchone()[0] >= 1


def test_under_the_quarantine_policy_redshift_skips_bad_records_and_they_are_kept(
    dag, on_redshift, source, s3_endpoint, db
) -> None:
    key = "raw/" + BAD_DAY
    day_file, lines = upload_a_bad_session_id(source, s3_endpoint)

    copies_before = len(on_redshift.copies)
    run_window(dag, START, END, source["uri"], bad_records="quarantine")

    quarantined = rows(db, "select table_name, object_key, line_number, field, record from quarantined_records")
    assert len(quarantined) == 1
    table, object_key, line, field, raw = quarantined[0]
    # the object and line from stl_load_errors (COPY ... MAXERROR), the column it could not hold
    # keys as the ledger has them: relative to the source's prefix
    # the field as the PostgreSQL path names it: its JSONPath
    assert (table, object_key, line, field) == ("staging_events", key.removeprefix("raw/"), 5, "$['sessionId']")
    assert "not-a-number" in raw
    # the rest of the window loaded: everything the JSON says, less that one record
    del lines[4]
    day_file.write_text("".join(lines))
    assert_star_schema_matches(db, source["folder"], START, END)
    assert any("maxerror 100" in text.lower() for text in on_redshift.statement_texts())
    assert sum(c.rejected for c in on_redshift.copies[copies_before:]) == 1


def test_a_duplicate_key_redshift_lets_in_is_caught_by_the_uniqueness_check(dag, on_redshift, source, db) -> None:
    window = (dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 2, tzinfo=UTC))
    run_window(dag, *window, source["uri"])
    with psycopg.connect(on_redshift.dsn(db.info.dbname)) as conn:
        # primary keys are informational on Redshift: the second row with the same song_id goes in
        conn.execute("insert into songs select * from songs order by song_id limit 1")
        duplicated = conn.execute("select song_id from songs group by song_id having count(*) > 1").fetchall()
    assert len(duplicated) == 1

    with pytest.raises(AirflowFailException) as error:
        run_window(dag, *window, source["uri"], only=("run_quality_checks",))
    assert "songs" in str(error.value) and "song_id" in str(error.value)


@pytest.fixture
def on_serverless(postgres_server, s3_endpoint, warehouse_dsn, aws_connection, source, monkeypatch):
    """The connection ``redshift`` at an emulated Redshift Serverless workgroup: no STL tables there."""
    from urllib.parse import urlsplit

    from support.redshift_emulator import start_redshift_emulator

    server = urlsplit(postgres_server)
    database = warehouse_dsn.rsplit("/", 1)[1]
    ensure_role(s3_endpoint, REDSHIFT_ROLE_NAME)  # as the session's emulator does: the test may run alone
    extras = f"iam_role={quote(ROLE, safe='')}&workspace={quote(source['workspace'], safe='')}&redshift-serverless=true"
    with start_redshift_emulator(server.hostname, server.port, s3_endpoint, serverless=True) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", f"{emulator.uri(database)}?{extras}")
        yield emulator


def test_on_serverless_a_rejected_record_is_named_from_sys_load_error_detail(
    dag, on_serverless, source, s3_endpoint, db
) -> None:
    upload_a_bad_session_id(source, s3_endpoint)
    day = (dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC))
    with pytest.raises(AirflowFailException) as error:
        run_window(dag, *day, source["uri"], only=("create_tables", "stage_events"))
    message = str(error.value)
    assert "2018-11-02-events.json, line 5, field $['sessionId'] (column session_id" in message
    assert "not-a-number" in message  # in SYS_LOAD_ERROR_DETAIL's error_message
    with psycopg.connect(on_serverless.dsn(db.info.dbname)) as conn, pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute("select count(*) from stl_load_errors")


def test_on_serverless_quarantined_records_keep_object_line_and_text(
    dag, on_serverless, source, s3_endpoint, db
) -> None:
    _, lines = upload_a_bad_session_id(source, s3_endpoint)
    day = (dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC))
    run_window(dag, *day, source["uri"], only=("create_tables", "stage_events"), bad_records="quarantine")
    quarantined = rows(db, "select object_key, line_number, field, record from quarantined_records")
    # the record's text is read back from the object: SYS_LOAD_ERROR_DETAIL keeps no raw line
    assert quarantined == [(BAD_DAY, 5, "$['sessionId']", lines[4].rstrip("\n"))]


def test_on_serverless_each_unit_quarantines_only_its_own_records(dag, on_serverless, source, s3_endpoint, db) -> None:
    """Serverless's load errors are found by session and start time (second precision): two units copied
    within a second must not see each other's rejected records."""
    keys = tuple(f"log_data/2018/11/2018-11-0{day}-events.json" for day in (1, 2, 3))  # three units in a second or two
    texts = {key: upload_a_bad_session_id(source, s3_endpoint, key)[1][4].rstrip("\n") for key in keys}
    days = (dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 4, tzinfo=UTC))
    run_window(dag, *days, source["uri"], only=("create_tables", "stage_events"), bad_records="quarantine")
    quarantined = rows(db, "select object_key, line_number, record from quarantined_records order by object_key")
    assert quarantined == [(key, 5, texts[key]) for key in keys]


def test_a_record_that_is_not_json_is_named_without_an_empty_field(dag, on_redshift, source, s3_endpoint, db) -> None:
    day_file = source["folder"] / BAD_DAY
    lines = day_file.read_text().splitlines(keepends=True)
    lines[2] = '{"artist": "broken\n'  # line 3: not JSON, no column to blame
    day_file.write_text("".join(lines))
    client(s3_endpoint).upload_file(str(day_file), source["bucket"], "raw/" + BAD_DAY)
    day = (dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC))
    with pytest.raises(AirflowFailException) as error:
        run_window(dag, *day, source["uri"], only=("create_tables", "stage_events"))
    message = str(error.value)
    assert "2018-11-02-events.json, line 3: " in message
    assert "field" not in message.split("line 3", 1)[1].split(";", 1)[0]
    assert "()" not in message


def upload_records_the_models_cannot_use(source: dict, s3_endpoint: str) -> dict[str, object]:
    """Issue 18 on Redshift: a play without sessionId (line 3 of the 2nd's file), a play whose page is
    ``nextsong `` (line 4 as a play: normalised), and a song with a negative duration. Uploads them."""
    day_file = source["folder"] / BAD_DAY
    lines = day_file.read_text().splitlines(keepends=True)
    plays = [n for n, line in enumerate(lines) if json.loads(line)["page"] == "NextSong"]
    null_session, spelled = plays[0], plays[1]
    record = json.loads(lines[null_session])
    record["sessionId"] = None
    lines[null_session] = json.dumps(record) + "\n"
    record = json.loads(lines[spelled])
    record["page"] = "nextsong "
    lines[spelled] = json.dumps(record) + "\n"
    day_file.write_text("".join(lines))
    s3 = client(s3_endpoint)
    s3.upload_file(str(day_file), source["bucket"], "raw/" + BAD_DAY)
    song_file = sorted((source["folder"] / "song_data").rglob("*.json"))[0]
    song = json.loads(song_file.read_text())
    song["duration"] = -1.5
    song_file.write_text(json.dumps(song))
    s3.upload_file(str(song_file), source["bucket"], "raw/" + song_file.relative_to(source["folder"]).as_posix())
    return {"day_file": day_file, "null_session": null_session, "song_file": song_file, "song_id": song["song_id"]}


def test_on_redshift_the_staging_rules_run_on_the_copied_rows_before_they_are_staged(
    dag, on_redshift, source, s3_endpoint, db
) -> None:
    bad = upload_records_the_models_cannot_use(source, s3_endpoint)

    with pytest.raises(AirflowFailException) as error:  # the fail policy: the object and the value, no constraint
        run_window(dag, START, END, source["uri"])
    message = str(error.value)
    line = bad["null_session"] + 1  # read back from the object: a COPY'd row keeps no line
    assert f"{BAD_DAY}, line {line}, field $['sessionId'] (column session_id): null: a value is needed" in message
    assert "NotNullViolation" not in message

    db.execute("delete from staging_ledger")
    for table in ("staging_events", "staging_songs"):
        db.execute(f"delete from {table}")
    run_window(dag, START, END, source["uri"], bad_records="quarantine")
    quarantined = rows(db, "select object_key, line_number, field, reason from quarantined_records order by field")
    song_key = bad["song_file"].relative_to(source["folder"]).as_posix()
    # each named by its own object and line, the song by its song file though its COPY read a manifest
    assert [row[:3] for row in quarantined] == [(BAD_DAY, line, "$['sessionId']"), (song_key, 1, "duration")]
    assert quarantined[1][3].startswith("column duration: -1.5 is not > 0")
    # the rest loaded: what the JSON says without those two records, "nextsong " counted as a play
    lines = bad["day_file"].read_text().splitlines(keepends=True)
    del lines[bad["null_session"]]
    bad["day_file"].write_text("".join(lines))
    bad["song_file"].unlink()
    assert_star_schema_matches(db, source["folder"], START, END)


def test_when_the_objects_cannot_be_read_back_the_message_says_the_line_is_unknown(
    dag, on_redshift, source, s3_endpoint, db, monkeypatch
) -> None:
    """The line of a COPY'd row is found by reading its object back; if that fails, the message says so."""
    import sparkify.staging.load_errors as load_errors

    upload_records_the_models_cannot_use(source, s3_endpoint)  # the rules in SQL find a null sessionId

    def unreadable(*args, **kwargs):
        raise OSError("the object is gone")

    monkeypatch.setattr(load_errors, "broken_records", unreadable)
    day = (dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC))
    tasks = ("create_tables", "stage_events")
    with pytest.raises(AirflowFailException) as error:
        run_window(dag, *day, source["uri"], only=tasks)
    message = str(error.value)
    assert f"{BAD_DAY}, line unknown (" in message
    assert "field session_id: null: a value is needed" in message

    run_window(dag, *day, source["uri"], only=tasks, bad_records="quarantine")
    quarantined = rows(db, "select object_key, line_number, field, reason from quarantined_records")
    assert [row[:3] for row in quarantined] == [(BAD_DAY, None, "session_id")]
    assert quarantined[0][3].startswith("line unknown: column session_id: null: a value is needed")
