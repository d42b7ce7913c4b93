"""Which failures are retried: configuration and data errors fail at once, connection losses retry.

The errors are real where they can be made here: PostgreSQL's own (bad data, a unique violation, a
refused connection, a session killed by the server), the S3 API's through moto's server, the source
opener's. S3 throttling cannot be provoked from moto, so that one is botocore's exception as S3 sends it.
"""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError
from support.net import free_port
from support.postgres import SERVER

from sparkify.errors import FAIL, RETRY, FailNow, Retryable, SourceConfigError, SourceNotFound, classify, fail_fast
from sparkify.sources import S3Source, open_source
from sparkify.staging.redshift_copy import Credentials, copy_statement, redact

pytestmark = pytest.mark.usefixtures("postgres_server")  # raised() connects to the project's server


def raised(statement: str, dsn: str = f"{SERVER}/postgres") -> BaseException:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute(statement)
    except Exception as error:
        return error
    raise AssertionError(f"{statement!r} did not fail")


@pytest.mark.parametrize(
    ("statement", "verdict"),
    [
        ("select 'abc'::integer", FAIL),  # data
        ("select 99999999999::integer", FAIL),  # data: out of range
        ("create temp table t (k int primary key); insert into t values (1), (1)", FAIL),  # integrity
        ("select * from no_such_table", FAIL),  # configuration: the table is not there
        ("select 1/0", FAIL),
    ],
)
def test_postgresql_data_and_schema_errors_fail_now(statement, verdict) -> None:
    assert classify(raised(statement)) == verdict


def test_a_refused_connection_is_retried() -> None:
    error = raised("select 1", f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    assert isinstance(error, psycopg.OperationalError)
    assert classify(error) == RETRY


def test_a_session_the_server_terminates_is_retried() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as victim:
        pid = victim.info.backend_pid

        def terminate() -> None:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                admin.execute(f"select pg_sleep(0.5), pg_terminate_backend({pid})")

        killer = threading.Thread(target=terminate, daemon=True)
        killer.start()
        with pytest.raises(psycopg.Error) as error:
            victim.execute("select pg_sleep(30)")
        killer.join()
    assert error.value.sqlstate == "57P01"  # admin_shutdown: what a failover or restart looks like
    assert classify(error.value) == RETRY


@pytest.mark.parametrize(
    ("code", "status", "verdict"),
    [
        ("SlowDown", 503, RETRY),
        ("ThrottlingException", 400, RETRY),
        ("InternalError", 500, RETRY),
        ("NoSuchKey", 404, FAIL),
        ("NoSuchBucket", 404, FAIL),
        ("AccessDenied", 403, FAIL),
        ("SomethingNew", 400, FAIL),
        ("SomethingNew", 502, RETRY),
    ],
)
def test_s3_error_codes(code, status, verdict) -> None:
    response = {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}}
    assert classify(ClientError(response, "GetObject")) == verdict


@pytest.mark.parametrize(
    ("uri", "kind", "message"),
    [
        ("", SourceConfigError, "no source configured"),
        ("s3://", SourceConfigError, "names no bucket"),
        ("ftp://host/x", SourceConfigError, "unsupported scheme"),
        ("/no/such/folder/anywhere", SourceNotFound, "source folder not found: /no/such/folder/anywhere"),
    ],
)
def test_a_source_that_names_nothing_fails_now(uri, kind, message) -> None:
    with pytest.raises(kind, match=message) as error:
        open_source(uri, "aws_default")
    assert isinstance(error.value, AirflowFailException)  # Airflow does not retry it
    assert classify(error.value) == FAIL


@pytest.mark.usefixtures("aws_connection")
def test_a_missing_bucket_or_key_fails_now_naming_it(demo_bucket) -> None:
    missing_bucket = S3Source("s3://no-such-bucket-7f3a/raw", "aws_default")
    with pytest.raises(SourceNotFound, match=r"s3://no-such-bucket-7f3a/raw/log_data/: cannot list: .*NoSuchBucket"):
        list(missing_bucket.list("log_data/"))

    bucket = S3Source(demo_bucket, "aws_default")
    with pytest.raises(SourceNotFound, match=r"s3://sparkify-demo/raw/log_data/2018/11/missing.json: cannot read"):
        bucket.read("log_data/2018/11/missing.json")


def test_an_unreachable_s3_endpoint_is_retried_naming_the_object(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": f"http://127.0.0.1:{free_port()}",
                    "region_name": "us-west-2",
                    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
                },
            }
        ),
    )
    source = S3Source("s3://sparkify-demo/raw", "aws_default")
    with pytest.raises(Retryable, match=r"s3://sparkify-demo/raw/log_data/: cannot list: Could not connect"):
        list(source.list("log_data/"))


def test_fail_fast_fails_data_errors_and_lets_connection_losses_retry() -> None:
    with pytest.raises(FailNow, match="staging_events: 17 paths for 18 columns"), fail_fast("staging_events"):
        raise ValueError("17 paths for 18 columns")
    with pytest.raises(ConnectionResetError), fail_fast("staging_events"):
        raise ConnectionResetError("connection reset by peer")
    with pytest.raises(psycopg.OperationalError), fail_fast("songplays"):
        raise raised("select 1", f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")


# -- a real PostgreSQL error that quotes a COPY statement with its credentials -------------------------

ACCESS_KEY = "AKIAPLANTEDKEY4821"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzPLANTED"
KEYS = Credentials(access_key=ACCESS_KEY, secret_key=SECRET_KEY, session_token="FwoGZXIvYXdzEJrPLANTEDTOKEN")


def keyed_copy() -> str:
    return copy_statement(
        table="staging_events",
        columns=["artist", "ts"],
        s3_uri="s3://bucket/log_data/2018/11/2018-11-01-events.json",
        credentials=KEYS,
        json_format="s3://bucket/log_json_path.json",
        region="us-west-2",
    )


def leaked(text: str, secrets: list[str], length: int) -> list[str]:
    pieces = {s[i : i + length] for s in secrets for i in range(len(s) - length + 1)}
    return sorted(p for p in pieces if p in text)


def test_a_real_postgresql_error_about_the_statement_is_masked() -> None:
    """PostgreSQL cannot run Redshift's COPY: its syntax error quotes the line, cut mid-secret."""
    with psycopg.connect(f"{SERVER}/postgres") as conn, pytest.raises(psycopg.Error) as error:
        conn.execute(
            copy_statement(
                table="staging_events",
                columns=["artist", "ts"],
                s3_uri="s3://bucket/k.json",
                credentials=KEYS,
                json_format="auto",
                region="us-west-2",
            )
        )
    message = str(error.value)
    assert ACCESS_KEY in message, "the error quotes the statement, or this test proves nothing"
    assert SECRET_KEY[:6] in message and SECRET_KEY not in message, "the quoted line is cut mid-secret"
    assert leaked(redact(message, KEYS.secrets), KEYS.secrets, 6) == []
    assert leaked(redact(message), KEYS.secrets, 6) == []


def test_a_module_that_is_not_installed_fails_now_naming_the_package() -> None:
    try:
        __import__("yaml_not_installed_here")
    except ImportError as error:
        missing = error
    assert classify(missing) == FAIL
    expected = r"staging_events: No module named 'yaml_not_installed_here': the package"
    with pytest.raises(FailNow, match=expected), fail_fast("staging_events"):
        raise missing
    # the distribution's name where it differs from the module's: pip install PyYAML, not yaml
    with pytest.raises(FailNow, match=r"the package 'PyYAML' is not installed"), fail_fast("songs"):
        raise ModuleNotFoundError("No module named 'yaml'", name="yaml")
