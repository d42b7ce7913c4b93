"""A recording stand-in for Amazon Redshift, for statement-text tests only.

It is the real :class:`~sparkify.warehouses.redshift.RedshiftWarehouse` with its sessions replaced:
it records every statement the operators send, answers the few queries they read back (the ledger,
column lists) with canned values, and can fail on demand. Tests then check the recorded statements:
exact COPY text, and that each statement parses with sqlglot's Redshift dialect. Tests of what the
Redshift path *does* run it for real against the emulator (``support/redshift_emulator``).
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any

from airflow.sdk.definitions.connection import Connection

from sparkify.warehouses.redshift import RedshiftWarehouse

STAGING_COLUMNS = {
    "staging_events": [
        "artist",
        "auth",
        "first_name",
        "gender",
        "item_in_session",
        "last_name",
        "length",
        "level",
        "location",
        "method",
        "page",
        "registration",
        "session_id",
        "song",
        "status",
        "ts",
        "user_agent",
        "user_id",
        "_source_key",
    ],
    "staging_songs": [
        "num_songs",
        "artist_id",
        "artist_latitude",
        "artist_longitude",
        "artist_location",
        "artist_name",
        "song_id",
        "title",
        "duration",
        "year",
        "_source_key",
    ],
}


class RecordingCursor:
    def __init__(self, redshift: FakeRedshift) -> None:
        self.redshift = redshift
        self.rowcount = 0
        self.description = None
        self._rows: list[tuple] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.redshift.statements.append((sql, params))
        if self.redshift.fail_on and re.search(self.redshift.fail_on, sql, re.IGNORECASE):
            raise RuntimeError(f"ERROR: simulated failure running: {sql}")
        self._rows, self.rowcount = [], 42
        if "information_schema.columns" in sql:
            # other tables (the ledger, whose added columns create_tables looks for) are up to date
            self._rows = [(c, "character varying", 256) for c in STAGING_COLUMNS.get(params[0], [])]
        elif sql.startswith("select * from") and "limit 0" in sql:
            # DB-API's seven fields per column, type codes as redshift_connector gives them (int4, varchar)
            self.description = [("user_id", 23, *[None] * 5), ("level", 1043, *[None] * 5)]
        elif sql.startswith("select coalesce(sum(case"):  # checks sharing a scan: one count each
            self._rows = [(0,) * sql.count(" then 1 else 0 end")]
        elif re.match(r"\s*select\s+max\(", sql, re.IGNORECASE):  # the newest of nothing: no timestamp
            self._rows = [(None,)]

    def executemany(self, sql: str, rows: list) -> None:
        for row in rows:
            self.execute(sql, row)

    def fetchall(self) -> list[tuple]:
        return self._rows

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else (0,)

    def __enter__(self) -> RecordingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeRedshift(RedshiftWarehouse):
    """Plays the warehouse of a Redshift connection: ``open_warehouse`` is patched to return it."""

    def __init__(self, iam_role: str | None = None) -> None:
        extra = {"iam_role": iam_role} if iam_role else {}
        connection = Connection(
            conn_id="redshift",
            conn_type="redshift",
            host="sparkify.abc123.us-west-2.redshift.amazonaws.com",
            extra=json.dumps(extra),
        )
        super().__init__("redshift", connection)
        self.statements: list[tuple[str, Any]] = []
        self.fail_on: str | None = None
        self.commits = 0

    def __call__(self, conn_id: str) -> FakeRedshift:  # used in place of open_warehouse
        self.conn_id = conn_id
        return self

    @contextmanager
    def transaction(self, *, on_error=None, own_session=False):
        cursor = RecordingCursor(self)
        for statement in self.session_settings():
            cursor.execute(statement)
        try:
            yield cursor
        except Exception as error:
            if on_error is not None:
                on_error(cursor, error)
            raise
        self.commits += 1

    def sql(self) -> list[str]:
        return [s for s, _ in self.statements]


def with_literals(sql: str, params: Any) -> str:
    """The statement as the server would see it, parameters inlined, for parsing."""

    def literal(value: Any) -> str:
        return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"

    if isinstance(params, dict):
        return re.sub(r"%\((\w+)\)s", lambda m: literal(params[m.group(1)]), sql)
    values = iter(params or ())
    return re.sub(r"%s", lambda _m: literal(next(values)), sql)
