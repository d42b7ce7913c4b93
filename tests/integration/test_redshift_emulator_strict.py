"""What the Redshift emulator refuses, as Redshift refuses it: one test per rule.

Every statement goes through psycopg to the proxy, as a Redshift client's would; moto's S3 and IAM
serve the COPYs. The expected errors and rows are written from AWS's documentation of Redshift, not
from the emulator's code (see tests/support/redshift_emulator/README.md for the wording assumed).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest

ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"
LOAD_FAILED = "Load into table 'words' failed.  Check 'sys_load_error_detail' system table for details."


@pytest.fixture
def database(warehouse_dsn: str) -> str:
    return urlsplit(warehouse_dsn).path.lstrip("/")


def s3_in(endpoint: str, region: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )


@pytest.fixture
def s3(s3_endpoint: str):
    return s3_in(s3_endpoint, "us-west-2")


@pytest.fixture
def bucket(s3) -> str:
    """A bucket in us-west-2, the emulated cluster's region."""
    name = f"strict-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


@pytest.fixture
def redshift(redshift_emulator, database: str):
    with psycopg.connect(redshift_emulator.dsn(database)) as conn:
        yield conn


def refused(conn: psycopg.Connection, sql: str, params=None) -> psycopg.Error:
    """The error ``sql`` fails with; the connection is rolled back for the next statement."""
    with pytest.raises(psycopg.Error) as failure:
        conn.execute(sql, params)
    conn.rollback()
    return failure.value


# -- PostgreSQL-only SQL ----------------------------------------------------------------------------


def test_insert_on_conflict_is_a_syntax_error(redshift):
    redshift.execute("create table keyed (k int primary key)")
    error = refused(redshift, "insert into keyed values (1) on conflict (k) do nothing")
    assert (error.sqlstate, error.diag.message_primary) == ("42601", 'syntax error at or near "ON"')
    assert error.diag.context is None  # no trace of how the emulator raised it


def test_string_agg_does_not_exist(redshift):
    redshift.execute("create table words (w varchar(8))")
    error = refused(redshift, "select string_agg(w, ',') from words")
    assert (error.sqlstate, error.diag.message_primary) == ("42883", "function string_agg does not exist")


def test_an_aggregate_filter_clause_is_a_syntax_error(redshift):
    redshift.execute("create table plays (n int)")
    error = refused(redshift, "select count(*) filter (where n > 1) from plays")
    assert (error.sqlstate, error.diag.message_primary) == ("42601", 'syntax error at or near "FILTER"')


def test_generate_series_runs_alone_but_not_with_a_table(redshift):
    assert redshift.execute("select generate_series(1, 3)").fetchall() == [(1,), (2,), (3,)]
    redshift.execute("create table hours (h int)")
    error = refused(redshift, "select * from generate_series(1, 3) as g(n) join hours on hours.h = g.n")
    assert error.sqlstate == "0A000"
    assert error.diag.message_primary == (
        "Specified types or functions (one per INFO message) not supported on Redshift tables."
    )


# -- DDL --------------------------------------------------------------------------------------------


def test_distkey_or_sortkey_naming_a_missing_column_is_refused(redshift):
    error = refused(redshift, "create table t1 (a int, b int) distkey (c)")
    assert (error.sqlstate, error.diag.message_primary) == ("42703", 'column "c" named in DISTKEY does not exist')
    error = refused(redshift, "create table t2 (a int, b int) compound sortkey (b, ts)")
    assert (error.sqlstate, error.diag.message_primary) == ("42703", 'column "ts" named in SORTKEY does not exist')
    redshift.execute("create table t3 (a int distkey, b int) sortkey (b, a)")  # both name real columns


def test_primary_and_unique_keys_are_informational_not_enforced(redshift):
    redshift.execute("create table users (user_id int primary key, email varchar(64) unique, level varchar(4))")
    redshift.execute("insert into users values (1, 'a@x', 'free'), (1, 'a@x', 'paid')")  # no error on Redshift
    assert redshift.execute("select count(*) from users where user_id = 1").fetchone() == (2,)
    # the primary key's column is still NOT NULL, as Redshift keeps it
    error = refused(redshift, "insert into users values (null, 'b@x', 'free')")
    assert error.sqlstate == "23502"


# -- server-side parameters -------------------------------------------------------------------------


def test_only_statements_redshift_can_prepare_take_server_side_parameters(redshift):
    redshift.execute("create table events (n int)")
    redshift.execute("insert into events (n) values (%s), (%s)", (1, 2))  # INSERT: prepared, fine
    redshift.commit()
    assert redshift.execute("select count(*) from events where n >= %s", (1,)).fetchone() == (2,)
    error = refused(redshift, "create temp table picked as select n from events where n = %s", (1,))
    assert error.sqlstate == "0A000"
    assert "prepares only SELECT, INSERT, UPDATE and DELETE" in error.diag.message_primary
    # the same statement with its value written in is fine
    redshift.execute("create temp table picked as select n from events where n = 1")


# -- COPY -------------------------------------------------------------------------------------------


def test_a_copy_option_given_twice_is_refused(redshift, s3, bucket):
    s3.put_object(Bucket=bucket, Key="n/a.json", Body=b'{"n": 1}')
    redshift.execute("create table nums (n int)")
    redshift.commit()
    error = refused(redshift, f"copy nums from 's3://{bucket}/n/' iam_role '{ROLE}' json 'auto' maxerror 0 maxerror 5")
    assert "conflicting or redundant options" in error.diag.message_primary
    assert redshift.execute("select count(*) from nums").fetchone() == (0,)


def test_invalid_utf8_fails_its_record_unless_acceptinvchars(redshift, db, s3, bucket):
    body = b'{"w": "ok"}\n{"w": "caf\xe9"}\n{"w": "end"}\n'  # line 2: Latin-1, not UTF-8
    s3.put_object(Bucket=bucket, Key="w/a.json", Body=body)
    redshift.execute("create table words (w varchar(8))")
    redshift.commit()

    error = refused(redshift, f"copy words from 's3://{bucket}/w/' iam_role '{ROLE}' json 'auto'")
    assert (
        error.diag.message_primary
        == "Load into table 'words' failed.  Check 'sys_load_error_detail' system table for details."
    )
    row = db.execute(
        "select line_number, err_code from redshift_system.stl_load_errors order by query desc limit 1"
    ).fetchone()
    assert row == (2, 1220)

    with redshift.cursor() as cursor:  # MAXERROR counts it as one bad record
        cursor.execute(f"copy words from 's3://{bucket}/w/' iam_role '{ROLE}' json 'auto' maxerror 1")
        assert cursor.rowcount == 2
    redshift.execute("delete from words")
    redshift.execute(f"copy words from 's3://{bucket}/w/' iam_role '{ROLE}' json 'auto' acceptinvchars")
    assert redshift.execute("select w from words order by w").fetchall() == [("caf?",), ("end",), ("ok",)]
    redshift.execute("delete from words")
    redshift.execute(f"copy words from 's3://{bucket}/w/' iam_role '{ROLE}' json 'auto' acceptinvchars as '^'")
    assert ("caf^",) in redshift.execute("select w from words").fetchall()


def test_copy_region_must_be_the_buckets_region(redshift, s3_endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="n/a.json", Body=b'{"n": 1}')
    far = f"strict-eu-{uuid.uuid4().hex[:10]}"
    s3_in(s3_endpoint, "eu-west-1").create_bucket(
        Bucket=far, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3_in(s3_endpoint, "eu-west-1").put_object(Bucket=far, Key="n/a.json", Body=b'{"n": 2}')
    redshift.execute("create table nums (n int)")
    redshift.commit()

    # a us-west-2 bucket read with REGION 'eu-west-1'
    error = refused(redshift, f"copy nums from 's3://{bucket}/n/' iam_role '{ROLE}' json 'auto' region 'eu-west-1'")
    assert "Status 301,Error PermanentRedirect" in error.diag.message_primary
    # an eu-west-1 bucket read without REGION: the cluster's own region (us-west-2) is assumed
    error = refused(redshift, f"copy nums from 's3://{far}/n/' iam_role '{ROLE}' json 'auto'")
    assert "Status 301,Error PermanentRedirect" in error.diag.message_primary
    # each with its own region loads
    redshift.execute(f"copy nums from 's3://{far}/n/' iam_role '{ROLE}' json 'auto' region 'eu-west-1'")
    redshift.execute(f"copy nums from 's3://{bucket}/n/' iam_role '{ROLE}' json 'auto' region 'us-west-2'")
    assert redshift.execute("select n from nums order by n").fetchall() == [(1,), (2,)]


def test_the_iam_role_must_exist(redshift, s3, bucket):
    s3.put_object(Bucket=bucket, Key="n/a.json", Body=b'{"n": 1}')
    redshift.execute("create table nums (n int)")
    redshift.commit()
    missing = "arn:aws:iam::123456789012:role/no-such-role"
    error = refused(redshift, f"copy nums from 's3://{bucket}/n/' iam_role '{missing}' json 'auto'")
    assert "is not authorized to assume IAM Role " + missing in error.diag.message_primary
    redshift.execute(f"copy nums from 's3://{bucket}/n/' iam_role '{ROLE}' json 'auto'")
    assert redshift.execute("select count(*) from nums").fetchone() == (1,)


# -- Serverless -------------------------------------------------------------------------------------


def test_a_serverless_endpoint_has_no_stl_tables(postgres_server, s3_endpoint, database, s3, bucket):
    from support.redshift_emulator import start_redshift_emulator

    s3.put_object(Bucket=bucket, Key="n/a.json", Body=b'{"n": 1}\n{"n": "x"}\n')
    server = urlsplit(postgres_server)
    with (
        start_redshift_emulator(server.hostname, server.port, s3_endpoint, serverless=True) as serverless,
        psycopg.connect(serverless.dsn(database)) as conn,
    ):
        conn.execute("create table nums (n int)")
        conn.commit()
        refused(conn, f"copy nums from 's3://{bucket}/n/' iam_role '{ROLE}' json 'auto'")
        assert refused(conn, "select * from stl_load_errors").sqlstate == "42P01"  # undefined table
        detail = conn.execute(
            "select trim(file_name), line_number, trim(column_name), error_code from sys_load_error_detail"
        ).fetchall()
    assert detail == [(f"s3://{bucket}/n/a.json", 2, "n", 1207)]
