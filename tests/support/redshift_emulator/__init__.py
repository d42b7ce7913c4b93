"""Amazon Redshift, emulated on the real local PostgreSQL for tests.

A wire-protocol proxy: any client (psycopg in-process, ``airflow dags test`` in a subprocess, Celery
workers) that connects to ``redshift://<any user>:<any password>@127.0.0.1:<port>/<database>`` talks
to the upstream PostgreSQL as Redshift, through its SQL: Redshift-only DDL is translated with sqlglot,
``COPY ... FROM 's3://...'`` loads from the S3 emulator with Redshift's JSON rules, load errors land in
``stl_load_errors`` and ``sys_load_error_detail`` (the latter only, on a Serverless endpoint), and
``pg_last_copy_id()`` names the last COPY. Statements Redshift would refuse fail as there (README.md).

    with start_redshift_emulator("127.0.0.1", 55432, "http://127.0.0.1:5000") as redshift:
        uri = redshift.uri("sparkify_test_1")  # redshift://IAM%3Aawsuser:emulated@127.0.0.1:PORT/...
        ...
        redshift.statement_texts()  # every statement received, as sent
        redshift.copies  # one CopyRecord per COPY from S3: objects read, rows, rejects

README.md, next to this file, says what it checks and what it cannot prove.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .proxy import CopyRecord, Emulator, ReceivedStatement

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["CopyRecord", "Emulator", "ReceivedStatement", "start_redshift_emulator"]


@contextlib.contextmanager
def start_redshift_emulator(
    upstream_host: str,
    upstream_port: int,
    s3_endpoint: str,
    *,
    upstream_user: str = "postgres",
    aws_keys: tuple[str, str] = ("testing", "testing"),
    require_password: bool = True,
    work_dir: Path | None = None,
    region: str = "us-west-2",
    serverless: bool = False,
) -> Iterator[Emulator]:
    """Start the emulator in front of a PostgreSQL that trusts ``upstream_user``; stop it on exit.

    :param s3_endpoint: the S3 emulator's URL (moto server), where COPY reads its objects.
    :param aws_keys: the keys COPY uses when the statement names an IAM role rather than keys.
    :param require_password: ask every client for a password, as Redshift does (any is accepted).
    :param work_dir: where COPY writes the CSV files PostgreSQL reads (a temporary directory by default);
        it must be readable by the server's operating-system user.
    :param region: the cluster's region: a COPY without ``REGION`` reads buckets there, and every bucket a
        COPY reads must be in its region.
    :param serverless: play a Redshift Serverless workgroup: no STL tables (``stl_load_errors``), load
        errors in ``sys_load_error_detail`` only.
    """
    emulator = Emulator(
        upstream_host=upstream_host,
        upstream_port=int(upstream_port),
        s3_endpoint=s3_endpoint,
        upstream_user=upstream_user,
        aws_keys=aws_keys,
        require_password=require_password,
        work_dir=work_dir,
        region=region,
        serverless=serverless,
    ).start()
    try:
        yield emulator
    finally:
        emulator.stop()
