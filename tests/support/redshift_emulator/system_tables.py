"""Redshift's load-error system tables and COPY functions, as real objects of the upstream database.

``stl_load_errors`` and ``sys_load_error_detail`` carry the columns AWS documents for them (a
Serverless endpoint has no ``stl_load_errors``: STL tables hold nothing there); the
harness writes them on its own autocommit connection, so, as on Redshift, a row outlives the
transaction whose COPY failed. ``pg_last_copy_id()`` and ``pg_last_copy_count()`` read the last COPY
of the calling session (keyed by backend pid, which is Redshift's session id too) from a table the
harness keeps up to date, so they answer after a rollback as well.

Everything lives in the schema ``redshift_system``, which the harness appends to the database's
``search_path`` so that unqualified names resolve as they do on Redshift.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    import datetime as dt

    from .copy_from_s3 import RejectedRecord

SCHEMA = "redshift_system"

_DDL_TEMPLATE = f"""
create schema if not exists {SCHEMA};
create sequence if not exists {SCHEMA}.query_ids start with 1000;
{{stl}}create table if not exists {SCHEMA}.stl_load_errors (
    userid integer,
    slice integer,
    tbl integer,
    starttime timestamp,
    session integer,
    query integer,
    filename character(256),
    line_number bigint,
    colname character(127),
    type character(10),
    col_length character(10),
    position integer,
    raw_line character(1024),
    raw_field_value character(1024),
    err_code integer,
    err_reason character(100),
    is_partial integer,
    start_offset bigint,
    copy_job_id bigint
);{{end_stl}}
create table if not exists {SCHEMA}.sys_load_error_detail (
    user_id integer,
    query_id bigint,
    transaction_id bigint,
    session_id integer,
    database_name character(64),
    table_id integer,
    start_time timestamp,
    file_name character(256),
    line_number bigint,
    column_name character(127),
    column_type character(10),
    column_length character(10),
    position integer,
    error_code integer,
    error_message character(512)
);
create table if not exists {SCHEMA}.session_copies (
    pid integer primary key,
    backend_start timestamptz not null,
    query_id bigint not null,
    row_count bigint not null
);
create or replace function {SCHEMA}.this_session() returns setof {SCHEMA}.session_copies
language sql stable as $$
    -- a pid is reused by later sessions: the backend's start time tells this session's row apart
    select c.* from {SCHEMA}.session_copies as c
    join pg_stat_activity as a on a.pid = c.pid and a.backend_start = c.backend_start
    where c.pid = pg_backend_pid()
$$;
create or replace function {SCHEMA}.emulator_raise(message text, code text, parameters text[])
returns void language plpgsql as $$
begin
    -- a statement Redshift refuses, which still takes the parameters the client binds
    raise exception using message = message, errcode = code;
end
$$;
create or replace function {SCHEMA}.getdate() returns timestamp language sql volatile as $$
    -- Redshift's GETDATE(): the current UTC time, to the second
    select date_trunc('second', clock_timestamp() at time zone 'UTC')
$$;
create or replace function {SCHEMA}.pg_last_copy_id() returns integer language sql stable as $$
    select coalesce((select query_id::integer from {SCHEMA}.this_session()), -1)
$$;
create or replace function {SCHEMA}.pg_last_copy_count() returns bigint language sql stable as $$
    select coalesce((select row_count from {SCHEMA}.this_session()), 0)
$$;
"""


def _ddl(serverless: bool) -> str:
    """The objects to create: without the STL table on a Serverless endpoint."""
    text = _DDL_TEMPLATE
    if serverless:
        text = text[: text.index("{stl}")] + text[text.index("{end_stl}") + len("{end_stl}") :]
    return text.replace("{stl}", "").replace("{end_stl}", "")


class SystemTables:
    """The harness's own connections to each database it serves, one at a time per database."""

    def __init__(self, host: str, port: int, user: str, *, serverless: bool = False) -> None:
        self.host, self.port, self.user = host, port, user
        #: Redshift Serverless has no STL tables: neither is stl_load_errors created nor written
        self.serverless = serverless
        self._installed: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, database: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(database, threading.Lock())

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database, autocommit=True, connect_timeout=10
        )

    def install(self, database: str) -> None:
        """Create the objects once per database, before the first client session reaches it."""
        with self._lock(database):
            if database in self._installed:
                return
            with self.connect(database) as conn:
                conn.execute("select pg_advisory_lock(hashtext('redshift_emulator install'))")
                conn.execute(_ddl(self.serverless))
                path = conn.execute("select setting from pg_settings where name = 'search_path'").fetchone()[0]
                if SCHEMA not in path:
                    conn.execute(
                        sql.SQL("alter database {} set search_path = {}").format(
                            sql.Identifier(database), sql.SQL(f'"$user", public, {SCHEMA}')
                        )
                    )
                conn.execute("select pg_advisory_unlock(hashtext('redshift_emulator install'))")
            self._installed.add(database)

    def next_query_id(self, conn: psycopg.Connection) -> int:
        return conn.execute(f"select nextval('{SCHEMA}.query_ids')").fetchone()[0]

    def record_copy(
        self,
        conn: psycopg.Connection,
        *,
        pid: int,
        backend_start: dt.datetime | None,
        query_id: int,
        rows: int,
        database: str,
        table_oid: int | None,
        transaction_id: int | None,
        start_time: dt.datetime,
        rejected: list[RejectedRecord],
    ) -> None:
        """Remember the session's last COPY and write one row per rejected record to both tables."""
        conn.execute(
            f"insert into {SCHEMA}.session_copies (pid, backend_start, query_id, row_count)"
            " values (%s, coalesce(%s, now()), %s, %s) on conflict (pid) do update"
            " set backend_start = excluded.backend_start, query_id = excluded.query_id, row_count = excluded.row_count",
            (pid, backend_start, query_id, rows),
        )
        for reject in rejected:
            error, column = reject.error, reject.error.column
            length = str(column.char_length) if column is not None and column.char_length is not None else ""
            if not self.serverless:
                self._stl_row(conn, reject, pid=pid, query_id=query_id, table_oid=table_oid, start_time=start_time)
            conn.execute(
                f"insert into {SCHEMA}.sys_load_error_detail (user_id, query_id, transaction_id, session_id,"
                " database_name, table_id, start_time, file_name, line_number, column_name, column_type,"
                " column_length, position, error_code, error_message)"
                " values (100, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s)",
                (
                    query_id,
                    transaction_id,
                    pid,
                    database[:64],
                    table_oid,
                    start_time,
                    reject.file[:256],
                    reject.line_number,
                    column.name[:127] if column else "",
                    column.redshift_type if column else "",
                    length,
                    error.code,
                    _message(reject)[:512],
                ),
            )

    def _stl_row(
        self,
        conn: psycopg.Connection,
        reject: RejectedRecord,
        *,
        pid: int,
        query_id: int,
        table_oid: int | None,
        start_time: dt.datetime,
    ) -> None:
        error, column = reject.error, reject.error.column
        length = str(column.char_length) if column is not None and column.char_length is not None else ""
        # Redshift replaces each multi-byte character of raw_line with a period; so is a NUL here (binary
        # such as gzip bytes read without GZIP), which PostgreSQL's text cannot hold
        raw_line = "".join(c if 0 < ord(c) < 128 else "." for c in reject.raw_line)[:1024]
        conn.execute(
            f"insert into {SCHEMA}.stl_load_errors (userid, slice, tbl, starttime, session, query, filename,"
            " line_number, colname, type, col_length, position, raw_line, raw_field_value, err_code,"
            " err_reason, is_partial, start_offset, copy_job_id)"
            " values (100, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s, 0, 0, 0)",
            (
                table_oid,
                start_time,
                pid,
                query_id,
                reject.file[:256],
                reject.line_number,
                column.name[:127] if column else "",
                column.redshift_type if column else "",
                length,
                raw_line,
                error.raw_value[:1024],
                error.code,
                error.reason[:100],
            ),
        )


def _message(reject: RejectedRecord) -> str:
    """``error_message`` as Redshift words it: the reason, and the raw value where one exists."""
    error = reject.error
    if error.raw_value and error.raw_value not in error.reason:
        return f"{error.reason} (value '{error.raw_value[:200]}')"
    return error.reason
