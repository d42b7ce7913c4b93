"""The Redshift emulator, tested as a Redshift client sees it: psycopg through the proxy, as an IAM user.

Everything runs for real: the local PostgreSQL behind the proxy, moto's S3 server over HTTP. Expected
rows are computed here from the objects the test uploads, by the rules AWS documents, never by the
emulator's code.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import uuid
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest

ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"
LOAD_FAILED = "Load into table '{}' failed.  Check 'sys_load_error_detail' system table for details."

EVENTS = [
    {
        "artist": "Des'ree",
        "sessionId": 139,
        "ts": 1541105830796,
        "userId": "8",
        "length": 246.30812,
        "page": "NextSong",
    },
    {"artist": "", "sessionId": 139, "ts": 1541106106796, "userId": "8", "length": None, "page": "Home"},
    {"artist": "Mr Oizo", "sessionId": 9, "ts": 1541107053796, "userId": "26", "length": 144.03873, "page": "NextSong"},
    {
        "artist": "Tamba Trio",
        "sessionId": 169,
        "ts": 1541109015796,
        "userId": "",
        "length": 177.18812,
        "page": "NextSong",
    },
]
EVENTS_DDL = """
create table events (
    artist varchar(64) encode zstd,
    session_id integer not null,
    ts timestamp,
    user_id varchar(16),
    length double precision
)
diststyle even
sortkey (ts)
"""
EVENT_PATHS = {"jsonpaths": ["$['artist']", "$['sessionId']", "$['ts']", "$['userId']", "$['length']"]}


def expected_event(event: dict) -> tuple:
    """One event as Redshift loads it with TIMEFORMAT 'epochmillisecs' and EMPTYASNULL."""
    return (
        event["artist"] or None,
        event["sessionId"],
        dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=event["ts"]),
        event["userId"] or None,
        event["length"],
    )


@pytest.fixture
def database(warehouse_dsn: str) -> str:
    return urlsplit(warehouse_dsn).path.lstrip("/")


@pytest.fixture
def s3(s3_endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-west-2",
    )


@pytest.fixture
def bucket(s3) -> str:
    name = f"emulator-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


@pytest.fixture
def redshift(redshift_emulator, database: str):
    """A psycopg connection to the emulated Redshift, as an IAM user with temporary credentials."""
    with psycopg.connect(redshift_emulator.dsn(database, user="IAM:awsuser", password="temporary")) as conn:
        yield conn


def put_lines(s3, bucket: str, key: str, records: list) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(json.dumps(r) for r in records).encode())
    return f"s3://{bucket}/{key}"


def test_redshift_ddl_makes_real_tables(redshift, db):
    redshift.execute(EVENTS_DDL)
    redshift.execute("create table songs (song_id varchar(32) distkey sortkey, title varchar(max)) backup no")
    redshift.execute("create table plays (id int identity(0, 1), at timestamp) diststyle all interleaved sortkey (at)")
    redshift.commit()

    columns = db.execute(
        "select table_name, column_name, data_type, character_maximum_length, is_nullable"
        " from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position"
    ).fetchall()
    assert columns == [
        ("events", "artist", "character varying", 64, "YES"),
        ("events", "session_id", "integer", None, "NO"),
        ("events", "ts", "timestamp without time zone", None, "YES"),
        ("events", "user_id", "character varying", 16, "YES"),
        ("events", "length", "double precision", None, "YES"),
        ("plays", "id", "integer", None, "NO"),
        ("plays", "at", "timestamp without time zone", None, "YES"),
        ("songs", "song_id", "character varying", 32, "YES"),
        ("songs", "title", "character varying", 65535, "YES"),
    ]


def test_lock_takes_the_table_until_commit(redshift, db):
    redshift.execute("create table ledger (k varchar(8))")
    redshift.commit()
    redshift.execute("lock ledger")
    held = db.execute(
        "select mode from pg_locks where relation = 'ledger'::regclass and pid <> pg_backend_pid()"
    ).fetchall()
    redshift.commit()
    assert held == [("AccessExclusiveLock",)]
    assert db.execute("select count(*) from pg_locks where relation = 'ledger'::regclass").fetchone() == (0,)


def test_parameters_pass_through_untouched(redshift, redshift_emulator):
    marker = uuid.uuid4().hex
    row = redshift.execute("select %s::int + 1, %s::text, %s::text", (41, "it's", marker)).fetchone()
    assert row == (42, "it's", marker)
    sent = [s for s in redshift_emulator.statements if marker not in s.text and "$3::text" in s.text]
    assert [(s.protocol, s.text, s.translated) for s in sent][-1] == (
        "extended",
        "select $1::int + 1, $2::text, $3::text",
        False,
    )


def test_copy_with_a_jsonpaths_file_loads_every_object_under_the_prefix(redshift, redshift_emulator, s3, bucket):
    first = put_lines(s3, bucket, "log_data/2018/11/2018-11-01-events.json", EVENTS[:2])
    second = put_lines(s3, bucket, "log_data/2018/11/2018-11-02-events.json", EVENTS[2:])
    put_lines(s3, bucket, "log_data_old/2018-10-01-events.json", EVENTS)  # outside the prefix 'log_data/'
    s3.put_object(Bucket=bucket, Key="log_json_path.json", Body=json.dumps(EVENT_PATHS).encode())
    redshift.execute(EVENTS_DDL)

    with redshift.cursor() as cursor:
        cursor.execute(
            f"copy events (artist, session_id, ts, user_id, length)\nfrom 's3://{bucket}/log_data/'\n"
            f"iam_role '{ROLE}'\nformat as json 's3://{bucket}/log_json_path.json'\nregion 'us-west-2'\n"
            "timeformat 'epochmillisecs'\ntruncatecolumns\nblanksasnull\nemptyasnull\n"
            "compupdate off\nstatupdate off\nmaxerror 0"
        )
        assert cursor.rowcount == len(EVENTS)
    redshift.commit()

    rows = redshift.execute("select artist, session_id, ts, user_id, length from events order by ts").fetchall()
    assert rows == sorted((expected_event(e) for e in EVENTS), key=lambda r: r[2])
    assert redshift_emulator.copies[-1].objects == [first, second]
    assert redshift.execute("select pg_last_copy_count()").fetchone() == (len(EVENTS),)


def test_copy_auto_matches_keys_by_exact_name_and_ignorecase_by_any_case(redshift, s3, bucket):
    songs = [
        {"song_id": "S1", "title": "Intro", "Year": 2004, "duration": 99.5, "artist": {"id": "A1"}},
        {"song_id": "S2", "title": "Outro", "Year": 0, "duration": 120.0, "artist": ["A2", "A3"]},
    ]
    put_lines(s3, bucket, "song_data/A/songs.json", songs)
    redshift.execute(
        "create table songs (song_id varchar(8), title varchar(32), year int, duration float, artist varchar(64))"
    )
    redshift.execute("create table songs_ci (like songs)")

    redshift.execute(f"copy songs from 's3://{bucket}/song_data' iam_role '{ROLE}' format as json 'auto'")
    redshift.execute(f"copy songs_ci from 's3://{bucket}/song_data' iam_role '{ROLE}' format as json 'auto ignorecase'")

    # 'auto' matches "Year" to no column (names are case-sensitive); nested values load as their JSON text
    exact = redshift.execute("select * from songs order by song_id").fetchall()
    assert exact == [("S1", "Intro", None, 99.5, '{"id":"A1"}'), ("S2", "Outro", None, 120.0, '["A2","A3"]')]
    folded = redshift.execute("select song_id, year from songs_ci order by song_id").fetchall()
    assert folded == [("S1", 2004), ("S2", 0)]


def test_copy_with_a_manifest_reads_exactly_its_entries(redshift, redshift_emulator, s3, bucket):
    keep = [put_lines(s3, bucket, f"raw/part-{n}.json", [{"n": n}]) for n in range(3)]
    manifest = {
        "entries": [
            {"url": keep[0], "mandatory": True},
            {"url": keep[2], "mandatory": True},
            {"url": f"s3://{bucket}/raw/part-9.json", "mandatory": False},
        ]
    }
    s3.put_object(Bucket=bucket, Key="work/load.manifest", Body=json.dumps(manifest).encode())
    redshift.execute("create table parts (n int)")

    with redshift.cursor() as cursor:
        cursor.execute(
            f"copy parts from 's3://{bucket}/work/load.manifest' iam_role '{ROLE}' format as json 'auto' manifest"
        )
        assert cursor.rowcount == 2
    assert redshift.execute("select n from parts order by n").fetchall() == [(0,), (2,)]
    assert redshift_emulator.copies[-1].objects == [keep[0], keep[2]]

    manifest["entries"][2]["mandatory"] = True
    s3.put_object(Bucket=bucket, Key="work/load.manifest", Body=json.dumps(manifest).encode())
    with pytest.raises(psycopg.Error, match=r"part-9\.json"):
        redshift.execute(f"copy parts from 's3://{bucket}/work/load.manifest' iam_role '{ROLE}' json 'auto' manifest")


def test_a_bad_record_fails_the_copy_and_is_named_in_the_load_error_tables(redshift, db, s3, bucket):
    events = [dict(e) for e in EVENTS]
    events[2]["sessionId"] = "nine"  # line 3 of the object: not an integer
    source = put_lines(s3, bucket, "log_data/bad.json", events)
    s3.put_object(Bucket=bucket, Key="paths.json", Body=json.dumps(EVENT_PATHS).encode())
    redshift.execute(EVENTS_DDL)
    redshift.commit()

    with pytest.raises(psycopg.errors.InternalError_) as failure:
        redshift.execute(
            f"copy events from '{source}' iam_role '{ROLE}' format as json 's3://{bucket}/paths.json'"
            " timeformat 'epochmillisecs' maxerror 0"
        )
    assert failure.value.diag.message_primary == LOAD_FAILED.format("events")
    assert "code:      1207" in failure.value.diag.message_detail
    assert failure.value.diag.context is None  # no trace of how the emulator raised it
    redshift.rollback()

    # after the rollback, on the same connection, as the pipeline reads it on Redshift
    detail = redshift.execute(
        "select trim(file_name), line_number, trim(column_name), trim(column_type), error_code, trim(error_message)"
        " from sys_load_error_detail where query_id = pg_last_copy_id()"
    ).fetchall()
    assert detail == [
        (source, 3, "session_id", "int4", 1207, "Invalid digit, Value 'n', Pos 0, Type: Integer (value 'nine')")
    ]
    stl = db.execute(
        "select trim(filename), line_number, trim(colname), trim(raw_field_value), err_code, trim(raw_line)"
        " from redshift_system.stl_load_errors order by query desc limit 1"
    ).fetchone()
    assert stl == (source, 3, "session_id", "nine", 1207, json.dumps(events[2]))
    assert redshift.execute("select count(*) from events").fetchone() == (0,)
    assert redshift.execute("select pg_last_copy_count()").fetchone() == (0,)


def test_maxerror_skips_bad_records_up_to_its_limit(redshift, s3, bucket):
    lines = "\n".join(['{"n": 1}', '{"n": 99999999999}', "{not json", '{"n": "4"}', '{"n": 5}'])
    s3.put_object(Bucket=bucket, Key="nums/a.json", Body=lines.encode())
    redshift.execute("create table nums (n int)")

    with redshift.cursor() as cursor:
        cursor.execute(f"copy nums from 's3://{bucket}/nums/' iam_role '{ROLE}' json 'auto' maxerror 2")
        assert cursor.rowcount == 3
    assert redshift.execute("select n from nums order by n").fetchall() == [(1,), (4,), (5,)]
    errors = redshift.execute(
        "select line_number, error_code from sys_load_error_detail where query_id = pg_last_copy_id()"
        " order by line_number"
    ).fetchall()
    assert errors == [(2, 1204), (3, 1216)]

    with pytest.raises(psycopg.errors.InternalError_, match="Load into table 'nums' failed"):
        redshift.execute(f"copy nums from 's3://{bucket}/nums/' iam_role '{ROLE}' json 'auto' maxerror 1")


def test_character_columns_follow_length_and_null_options(redshift, s3, bucket):
    rows = [{"s": "é" * 3}, {"s": "   "}, {"s": ""}]  # 'é' is 2 bytes: Redshift counts bytes
    put_lines(s3, bucket, "chars.json", rows)
    redshift.execute("create table chars (s varchar(5))")
    redshift.commit()

    with pytest.raises(psycopg.errors.InternalError_):
        redshift.execute(f"copy chars from 's3://{bucket}/chars.json' iam_role '{ROLE}' json 'auto'")
    redshift.rollback()
    error = redshift.execute(
        "select error_code, line_number from sys_load_error_detail where query_id = pg_last_copy_id()"
    ).fetchall()
    assert error == [(1204, 1)]

    redshift.execute(
        f"copy chars from 's3://{bucket}/chars.json' iam_role '{ROLE}' json 'auto' truncatecolumns blanksasnull"
    )
    assert redshift.execute("select s from chars").fetchall() == [("éé",), (None,), ("",)]


def test_copy_with_access_keys_reads_as_those_keys_and_never_echoes_them(redshift, s3, bucket):
    put_lines(s3, bucket, "k/one.json", [{"n": 1}])
    redshift.execute("create table k (n int)")
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY"
    redshift.execute(
        f"copy k from 's3://{bucket}/k/' access_key_id 'AKIAEXAMPLE' secret_access_key '{secret}'"
        " session_token 'token' format as json 'auto' region 'us-west-2'"
    )
    redshift.execute(
        f"copy k from 's3://{bucket}/k/' credentials 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key={secret}'"
        " json 'auto'"
    )
    assert redshift.execute("select n from k").fetchall() == [(1,), (1,)]

    with pytest.raises(psycopg.Error) as failure:
        redshift.execute(
            f"copy k from 's3://{bucket}/nothing-here/' access_key_id 'AKIAEXAMPLE' secret_access_key '{secret}'"
            " json 'auto'"
        )
    assert "does not exist" in str(failure.value)
    assert secret not in str(failure.value) and secret not in (failure.value.diag.message_detail or "")


def test_a_temporary_table_of_the_session_is_a_copy_target(redshift, s3, bucket):
    """The pipeline copies into a temp table created in the same transaction, as Redshift allows."""
    put_lines(s3, bucket, "t/rows.json", [{"n": 1}, {"n": 2}])
    redshift.execute("create table target (n int, _source_key varchar(64))")
    redshift.execute("create temp table stage_unit (n int)")
    redshift.execute(f"copy stage_unit (n) from 's3://{bucket}/t/' iam_role '{ROLE}' json 'auto'")
    redshift.execute("insert into target select n, %s from stage_unit", ("t/rows.json",))
    redshift.commit()
    assert redshift.execute("select * from target order by n").fetchall() == [(1, "t/rows.json"), (2, "t/rows.json")]


def test_a_not_null_column_left_out_of_the_column_list_fails_every_record(redshift, s3, bucket):
    """CREATE TABLE ... (LIKE t) copies NOT NULL on Redshift: a COPY that leaves such a column out fails."""
    put_lines(s3, bucket, "nn/rows.json", [{"n": 1}])
    redshift.execute("create table target (n int, _source_key varchar(64) not null)")
    redshift.execute("create temp table stage_unit (like target)")
    with pytest.raises(psycopg.errors.InternalError_, match="Load into table 'stage_unit' failed"):
        redshift.execute(f"copy stage_unit (n) from 's3://{bucket}/nn/' iam_role '{ROLE}' json 'auto'")
    redshift.rollback()
    assert redshift.execute(
        "select trim(column_name), error_code from sys_load_error_detail where query_id = pg_last_copy_id()"
    ).fetchall() == [("_source_key", 1213)]


def test_eight_sessions_copy_and_query_at_once(redshift_emulator, database, s3, bucket):
    with psycopg.connect(redshift_emulator.dsn(database)) as conn:
        conn.execute("create table loads (worker int, n int)")
    for worker in range(8):
        put_lines(s3, bucket, f"w{worker}/rows.json", [{"worker": worker, "n": n} for n in range(worker + 1)])
    results: dict[int, tuple] = {}
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with psycopg.connect(redshift_emulator.dsn(database, user=f"IAMR:worker{worker}")) as conn:
                with conn.cursor() as cursor:
                    cursor.execute(f"copy loads from 's3://{bucket}/w{worker}/' iam_role '{ROLE}' json 'auto'")
                    copied = cursor.rowcount
                conn.commit()
                counted = conn.execute("select count(*) from loads where worker = %s", (worker,)).fetchone()[0]
                copy_id = conn.execute("select pg_last_copy_id()").fetchone()[0]
                results[worker] = (copied, counted, copy_id)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert {w: r[:2] for w, r in results.items()} == {w: (w + 1, w + 1) for w in range(8)}
    assert len({r[2] for r in results.values()}) == 8  # each session sees its own last COPY


def test_a_copy_run_again_and_again_reads_s3_each_time(redshift, redshift_emulator, s3, bucket):
    """psycopg prepares a statement run five times; the sixth and later runs must still read S3 anew."""
    redshift.execute("create table again (n int)")
    statement = f"copy again from 's3://{bucket}/again/' iam_role '{ROLE}' json 'auto'"
    counts = []
    for run in range(1, 9):
        put_lines(s3, bucket, "again/rows.json", [{"n": run}] * run)
        with redshift.cursor() as cursor:
            cursor.execute(statement)
            counts.append(cursor.rowcount)
    assert counts == list(range(1, 9))
    assert redshift.execute("select n, count(*) from again group by n order by n").fetchall() == [
        (run, run) for run in range(1, 9)
    ]
    assert len([c for c in redshift_emulator.copies if c.source == f"s3://{bucket}/again/"]) == 8


def test_maintenance_statements_run_outside_a_transaction_as_on_redshift(redshift_emulator, database):
    with psycopg.connect(redshift_emulator.dsn(database), autocommit=True) as conn:
        conn.execute("create table facts (a int) diststyle even sortkey (a)")
        conn.execute("vacuum sort only facts to 75 percent")
        assert conn.execute("analyze compression facts").fetchall() == []
        conn.execute("alter table facts alter diststyle all")
    with psycopg.connect(redshift_emulator.dsn(database)) as conn:
        conn.execute("select 1")  # psycopg has opened a transaction
        with pytest.raises(psycopg.errors.ActiveSqlTransaction):
            conn.execute("vacuum facts")


def test_copy_into_a_missing_table_or_column_fails_as_postgresql_would(redshift, s3, bucket):
    put_lines(s3, bucket, "m/rows.json", [{"n": 1}])
    with pytest.raises(psycopg.errors.UndefinedTable):
        redshift.execute(f"copy nowhere from 's3://{bucket}/m/' iam_role '{ROLE}' json 'auto'")
    redshift.rollback()
    redshift.execute("create table somewhere (n int)")
    with pytest.raises(psycopg.errors.UndefinedColumn):
        redshift.execute(f"copy somewhere (n, nope) from 's3://{bucket}/m/' iam_role '{ROLE}' json 'auto'")


def test_gzip_objects_are_read_when_the_copy_says_gzip(redshift, s3, bucket):
    import gzip

    body = gzip.compress("\n".join(json.dumps({"n": n}) for n in range(5)).encode())
    s3.put_object(Bucket=bucket, Key="z/rows.json.gz", Body=body)
    redshift.execute("create table zipped (n int)")
    redshift.execute(f"copy zipped from 's3://{bucket}/z/' iam_role '{ROLE}' json 'auto' gzip")
    assert redshift.execute("select sum(n) from zipped").fetchone() == (10,)


def test_a_client_in_another_process_talks_to_it_too(redshift_emulator, database):
    """psql in a subprocess, as Airflow's CLI and workers connect: several statements in one message."""
    result = subprocess.run(
        [
            "psql",
            redshift_emulator.dsn(database, user="IAM:awsuser", password="from-get-cluster-credentials"),
            "-tAc",
            "create table other (a int) diststyle all sortkey (a); insert into other values (7); select a from other",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout.split()[-1:]) == (0, ["7"]), result.stderr


def test_the_last_copy_belongs_to_its_session(redshift_emulator, database, s3, bucket):
    put_lines(s3, bucket, "own/rows.json", [{"n": 1}, {"n": 2}])
    with psycopg.connect(redshift_emulator.dsn(database), autocommit=True) as first:
        first.execute("create table own (n int)")
        first.execute(f"copy own from 's3://{bucket}/own/' iam_role '{ROLE}' json 'auto'")
        copied = first.execute("select pg_last_copy_id(), pg_last_copy_count()").fetchone()
        with psycopg.connect(redshift_emulator.dsn(database)) as second:
            assert second.execute("select pg_last_copy_id(), pg_last_copy_count()").fetchone() == (-1, 0)
    assert copied == (redshift_emulator.copies[-1].query_id, 2)
