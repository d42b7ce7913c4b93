"""PostgreSQL as the warehouse: the embedded default, and any PostgreSQL server.

It cannot read S3 itself, so staging fetches the objects and streams them through ``COPY FROM STDIN``
after applying Redshift's COPY JSON rules (:mod:`sparkify.staging.stdin_copy`): both engines stage
identical rows.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sparkify.settings import from_extra, setting
from sparkify.warehouses import register
from sparkify.warehouses.base import Fill, Warehouse

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

log = logging.getLogger(__name__)

#: Session limits unless the connection's extra sets ``lock_timeout`` / ``statement_timeout``: a lock
#: left by a killed run fails the task with a clear error instead of hanging it (defaults: sparkify.settings)
DEFAULT_LOCK_TIMEOUT = setting("lock_timeout", "extra").default
DEFAULT_STATEMENT_TIMEOUT = setting("statement_timeout", "extra").default
#: share of a table's rows that must change before it is analysed again (autovacuum's default, 10 %)
ANALYZE_SHARE = 0.1
#: a load that adds at least this share of the rows a table keeps rebuilds its indexes (decision 0019): at
#: 10 M events a month into a month took 222 s with the indexes kept, a month into two months 199 s
REBUILD_SHARE = 0.25
#: memory for rebuilding a table's indexes after a bulk insert (one sort per index), for that transaction only
REBUILD_MAINTENANCE_WORK_MEM = "256MB"
#: a bulk load whose select reads at least this many rows splits its window across ``load_sessions`` sessions
#: (decision 0020): below it, the sessions' start-up and the copy of their rows cost more than they save
SPLIT_MIN_ROWS = 250_000
#: an index's DDL as macros/postgres.sql renders it: ``create index if not exists <name> on …``
_INDEX_DDL = re.compile(r"\s*create index if not exists (\w+) on ", re.IGNORECASE)


@register
class PostgresWarehouse(Warehouse):
    """A PostgreSQL server reached through a ``postgres`` connection."""

    name = "postgres"
    dialect = "postgres"
    staging_strategy = "stdin_copy"
    reclaim_sql = ("vacuum (analyze) {table}",)

    @classmethod
    def claims(cls, connection: Any) -> bool:
        host = (connection.host or "").lower()
        return connection.conn_type in ("postgres", "postgresql") and ".redshift" not in host

    def session_settings(self) -> list[str]:
        lock_timeout = str(from_extra("lock_timeout", self.extra))
        statement_timeout = str(from_extra("statement_timeout", self.extra))
        work_mem = str(from_extra("work_mem", self.extra))
        return [
            *super().session_settings(),
            f"set lock_timeout = '{_setting(lock_timeout)}'",
            f"set statement_timeout = '{_setting(statement_timeout)}'",
            *([f"set work_mem = '{_setting(work_mem)}'"] if work_mem else []),
        ]

    def lock(self, cursor: Any, table: str) -> None:
        # An advisory lock named after the table, not LOCK TABLE: it serialises the pipeline's writers of the
        # table all the same, and does not conflict with autovacuum. SHARE ROW EXCLUSIVE does: every hourly
        # load after a bulk load waited deadlock_timeout (1 s) for autovacuum to be cancelled, so the vacuum
        # of a big table never finished. Readers and autovacuum go on; a stuck holder still meets lock_timeout.
        cursor.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"sparkify.writers.{table}",))

    def create_tables(self, cursor: Any, tables: Sequence[str] | None = None) -> int:
        # concurrent runs' "create ... if not exists" can race in PostgreSQL's catalog
        cursor.execute("select pg_advisory_xact_lock(hashtext('sparkify.create_tables'))")
        return super().create_tables(cursor, tables)

    def missing(self, cursor: Any, statements: Sequence[str]) -> list[str]:
        """Leave out ``create index if not exists`` for an index that exists: PostgreSQL takes the table's
        SHARE lock before it looks at the name, and waits for autovacuum to be cancelled (1 s) to do nothing."""
        needed = []
        for statement in statements:
            index = _INDEX_DDL.match(statement)
            if index:
                cursor.execute("select to_regclass(%s) is not null", (index.group(1),))
                if cursor.fetchone()[0]:
                    continue
            needed.append(statement)
        return needed

    def enforced_primary_key(self, cursor: Any, table: str) -> frozenset[str] | None:
        """Read from the catalog, not assumed: a key dropped by hand is not enforced."""
        cursor.execute(
            "select a.attname from pg_constraint as c"
            " join pg_attribute as a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)"
            " where c.conrelid = to_regclass(%s) and c.contype = 'p' and c.convalidated",
            (table,),
        )
        columns = frozenset(row[0] for row in cursor.fetchall())
        return columns or None

    @contextmanager
    def filling(self, cursor: Any, table: str, select: str, params: Any, deleted: int = 0) -> Iterator[Fill]:
        """When the insert of ``select`` adds at least :data:`REBUILD_SHARE` of the rows ``table`` keeps (a
        first load, a reload of all it held, a month backfilled into a few months), drop the table's indexes
        and key constraints before it and build them again after it, in the same transaction, as
        PostgreSQL's "Populating a Database" advises: building an index over all the rows is one sort, where
        inserting them one by one into a random-keyed index (songplays' md5 key) touches a page per row
        (decision 0019). A duplicate key still fails the load, when the key's index is built. Readers of the
        table wait until the load commits. An hour's load into history keeps the indexes: rebuilding would
        sort all of history for an hour's rows. A bulk load ends with ``ANALYZE``, in its transaction: the
        gate that follows it and the checks plan on the rows just loaded (an empty table's statistics
        size a month's window at 0.5 %: bitmap scans of the whole table, 2.4 s instead of 0.8 s at 10 M)."""
        bulk = self._bulk(cursor, table, select, params, deleted)
        if bulk is None:
            yield Fill()
            return
        rows, empty = bulk
        cursor.execute(
            "select c.conname, pg_get_constraintdef(c.oid) from pg_constraint as c"
            " where c.conrelid = to_regclass(%s) and c.contype in ('p', 'u') order by c.conname",
            (table,),
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index as i"
            " where i.indrelid = to_regclass(%s)"
            " and not exists (select from pg_constraint as c where c.conindid = i.indexrelid)"
            " order by 1",
            (table,),
        )
        indexes = cursor.fetchall()
        if empty and deleted == 0 and not self._referenced(cursor, table):
            # no rows to lose and none deleted by this transaction (TRUNCATE is not MVCC-safe for rows that a
            # reader's older snapshot still sees): the table's files become new to this transaction, so with
            # wal_level=minimal (the embedded server, scripts/pg.sh) its rows and indexes are written without
            # WAL and synced at commit; a month at 10 M events wrote 2.9 GiB of WAL for songplays and time
            cursor.execute(f"truncate {table}")
        for name, _ in constraints:
            cursor.execute(f'alter table {table} drop constraint "{name}"')
        for name, _ in indexes:
            cursor.execute(f"drop index {name}")
        sessions = int(from_extra("load_sessions", self.extra)) if rows >= SPLIT_MIN_ROWS else 1
        fill = Fill(sessions=sessions)
        yield fill
        cursor.execute(f"set local maintenance_work_mem = '{REBUILD_MAINTENANCE_WORK_MEM}'")
        for name, definition in constraints:
            cursor.execute(f'alter table {table} add constraint "{name}" {definition}')
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"analyze {table}")
        fill.analyzed = True

    @staticmethod
    def _bulk(cursor: Any, table: str, select: str, params: Any, deleted: int) -> tuple[float, bool] | None:
        """The rows ``select`` reads and whether ``table`` is empty (once ``deleted`` went), when it brings at
        least :data:`REBUILD_SHARE` of the rows the table keeps; ``None`` otherwise. The rows kept come from
        the table's statistics (exactly 0 when it is empty); the rows coming from the largest row estimate in
        the select's plan: its scan of the staged window, which statistics make accurate (the estimate of a
        deduplicated output, filtered on a row number, is always low)."""
        cursor.execute(f"explain (format json) {select}", params)
        coming = _largest_estimate(cursor.fetchone()[0][0]["Plan"])  # json: both drivers decode it
        cursor.execute(f"select exists (select from {table})")
        if not cursor.fetchone()[0]:
            return coming, True
        cursor.execute("select reltuples from pg_class where oid = to_regclass(%s)", (table,))
        kept = max(cursor.fetchone()[0], 0) - deleted
        return (coming, False) if coming >= max(REBUILD_SHARE * kept, 1) else None

    @staticmethod
    def _referenced(cursor: Any, table: str) -> bool:
        """A foreign key points to ``table`` (TRUNCATE would refuse, or cascade)."""
        cursor.execute(
            "select exists (select from pg_constraint where contype = 'f' and confrelid = to_regclass(%s))",
            (table,),
        )
        return bool(cursor.fetchone()[0])

    def insert_window(self, cursor: Any, table: str, select: str, params: dict[str, Any], fill: Fill) -> int:
        """A bulk load of a large window splits it into ``fill.sessions`` equal spans of time, selected all at
        once: the first by this transaction into ``table``, each other by a session of its own into an
        unlogged table, whose rows this transaction then inserts (decision 0020). One ``insert … select``
        runs on one core: a month at 10 M events spent 48 s in it. The model must give a window the rows of
        its spans together, as the hourly schedule already needs (24 hours are the day), and must not read
        the table it loads: the other sessions do not see this transaction's delete."""
        spans = _spans(params, fill.sessions)
        if len(spans) < 2:
            return super().insert_window(cursor, table, select, params, fill)
        parts = [f"{table.replace('.', '_')}__load_{i}" for i in range(1, len(spans))]
        # the table's columns from the catalog: "like <table>" would wait for this transaction's lock on it
        cursor.execute(
            "select string_agg(format('%%I %%s%%s', a.attname, format_type(a.atttypid, a.atttypmod),"
            " case when a.attnotnull then ' not null' else '' end), ', ' order by a.attnum)"
            " from pg_attribute as a where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped",
            (table,),
        )
        columns = cursor.fetchone()[0]
        sessions: list[Any] = []
        try:
            for _ in parts:  # opened here, not in threads: Airflow's connection lookup belongs to the task
                sessions.append(self._connect())
                self._open.add(sessions[-1])  # cancel_running() reaches them
            with ThreadPoolExecutor(len(parts)) as pool:
                done = [
                    pool.submit(_select_into, session, part, columns, select, span)
                    for session, part, span in zip(sessions, parts, spans[1:], strict=True)
                ]
                cursor.execute(f"insert into {table}\n{select}", spans[0])  # the first span, meanwhile
                inserted = cursor.rowcount
            for future in done:
                future.result()  # the first failure, once every session has ended
        except BaseException:
            with contextlib.suppress(Exception), self.transaction(own_session=True) as cleanup:
                cleanup.execute(f"drop table if exists {', '.join(parts)}")
            raise
        finally:
            for session in sessions:
                self._open.discard(session)
                with contextlib.suppress(Exception):
                    session.close()
        for part in parts:  # in span order: a table loaded in time order keeps it
            cursor.execute(f"insert into {table} select * from {part}")
            inserted += cursor.rowcount
        cursor.execute(f"drop table {', '.join(parts)}")
        log.info("%s: window split across %d sessions, %d rows", table, len(spans), inserted)
        return inserted

    def refresh_statistics(self, cursor: Any, table: str, changed_rows: int | None = None) -> None:
        # A freshly bulk-loaded table has no statistics until autovacuum comes by (up to a minute): the
        # fact load planned in between took a nested loop, 680 s instead of 2 s on a month, and so did
        # the checks on the loaded fact. Autovacuum's own rule decides when it pays: a table never
        # analysed, or one whose rows changed by more than ANALYZE_SHARE, so that an hour's few hundred
        # rows do not re-analyse a table of millions every hour.
        if changed_rows is not None:
            cursor.execute("select reltuples from pg_class where oid = to_regclass(%s)", (table,))
            row = cursor.fetchone()
            tuples = row[0] if row else -1
            if tuples >= 0 and changed_rows <= ANALYZE_SHARE * tuples:
                return
        cursor.execute(f"analyze {table}")


def _select_into(session: Any, part: str, columns: str, select: str, params: dict[str, Any]) -> None:
    """One span's rows into ``part``, an unlogged table of ``columns`` (a leftover of a failed run replaced),
    committed. The insert is the one the load would run: the same casts, the same errors."""
    try:
        with session.cursor() as cursor:
            cursor.execute(f"drop table if exists {part}")
            cursor.execute(f"create unlogged table {part} ({columns})")
            cursor.execute(f"insert into {part}\n{select}", params)
        session.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            session.rollback()
        raise


def _spans(params: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The window of ``params`` cut into ``count`` equal spans of time (none when it is not a window)."""
    start, end = params.get("window_start"), params.get("window_end")
    if count < 2 or start is None or end is None:
        return []
    step = (end - start) / count
    bounds = [start + step * i for i in range(count)] + [end]
    return [{**params, "window_start": a, "window_end": b} for a, b in itertools.pairwise(bounds)]


def _largest_estimate(node: dict[str, Any]) -> float:
    return max([node.get("Plan Rows", 0), *(_largest_estimate(child) for child in node.get("Plans", []))])


def _setting(value: str) -> str:
    """A timeout setting such as ``2min`` or ``30000``: digits, letters and spaces only."""
    if not value.replace(" ", "").isalnum():
        raise ValueError(f"timeout {value!r} is not a PostgreSQL duration such as '2min' or '30000'")
    return value
