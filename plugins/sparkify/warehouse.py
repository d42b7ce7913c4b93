"""The warehouse connection: which engine it is, and the few statements that differ by engine.

One Airflow connection (``redshift`` by default) points at either Amazon Redshift or PostgreSQL.
Both speak the PostgreSQL wire protocol, so both are reached through ``PostgresHook`` (the Redshift
connector cannot talk to PostgreSQL, and psycopg2 talks to both). The engine is read from the
connection: conn_type ``redshift``, a ``*.redshift.amazonaws.com``/``*.redshift-serverless`` host, or
an explicit extra ``{"target": "redshift"}``.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

POSTGRES = "postgres"
REDSHIFT = "redshift"
TARGETS = (POSTGRES, REDSHIFT)


def detect_target(conn: Any) -> str:
    """Tell Redshift from PostgreSQL by an Airflow ``Connection``'s type, host or extra."""
    extra = conn.extra_dejson or {}
    explicit = str(extra.get("target", "")).lower()
    if explicit:
        if explicit not in TARGETS:
            raise ValueError(f"connection {conn.conn_id!r}: extra target must be one of {TARGETS}")
        return explicit
    host = (conn.host or "").lower()
    if conn.conn_type == "redshift" or ".redshift." in host or ".redshift-serverless." in host:
        return REDSHIFT
    return POSTGRES


def lock_table(target: str, table: str) -> str:
    """A lock that serialises writers of ``table`` until commit while PostgreSQL readers carry on."""
    if target == REDSHIFT:
        return f"lock {table}"
    return f"lock table {table} in share row exclusive mode"


class Warehouse:
    """A warehouse reached through an Airflow connection id. Build it in ``execute()``."""

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        self.conn_id = conn_id
        self.hook = PostgresHook(postgres_conn_id=conn_id)
        conn = self.hook.get_connection(conn_id)
        self.target = detect_target(conn)
        #: the connection's extra: ``iam_role`` is the role Redshift assumes to read S3 in COPY
        self.extra = conn.extra_dejson or {}

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in one transaction: committed on success, rolled back on any error."""
        conn = self.hook.get_conn()
        try:
            conn.autocommit = False
            with conn.cursor() as cursor:
                cursor.execute("set timezone to 'UTC'")
                yield cursor
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()


def copy_lines(cursor: Any, statement: str, lines: Iterable[str]) -> None:
    """Stream COPY text-format ``lines`` into ``COPY ... FROM STDIN`` with psycopg 3 or psycopg2.

    The PostgreSQL provider hands out psycopg 3 connections where it is installed (with SQLAlchemy 2)
    and psycopg2 ones otherwise; their COPY APIs differ.
    """
    if hasattr(cursor, "copy"):  # psycopg 3
        with cursor.copy(statement) as copy:
            chunk: list[str] = []
            size = 0
            for line in lines:  # a write per ~256 KiB, not per line: each write is a round of the driver
                chunk.append(line)
                size += len(line)
                if size >= 262_144:
                    copy.write("".join(chunk))
                    chunk, size = [], 0
            if chunk:
                copy.write("".join(chunk))
    else:  # psycopg2
        cursor.copy_expert(statement, _LinesReader(lines))


def placeholders(values: Iterable[Any]) -> str:
    """``%s, %s, …`` for an ``in (…)`` list: psycopg 3 adapts no tuples, and Redshift has no ``any(array)``."""
    return ", ".join("%s" for _ in values)


class _LinesReader(io.TextIOBase):
    """A file-like view of an iterator of text lines, for psycopg2's ``copy_expert``."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        size = -1 if size is None else size
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._lines, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
