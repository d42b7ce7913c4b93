"""What every warehouse target provides, behind one small interface.

A target is a class: :class:`~sparkify.warehouses.postgres.PostgresWarehouse` and
:class:`~sparkify.warehouses.redshift.RedshiftWarehouse` today. Each owns its connection (built from
the Airflow connection, with the project's own extras kept away from the driver), its session
settings and locking, its DDL dialect (the name of its macros in ``sql/macros/``), its staging
strategy and how it reports load errors. Operators see only this interface.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.postgres.hooks.postgres import PostgresHook

from sparkify.models.ddl import ddl_statements, missing_columns

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

#: Connection extras that this project reads itself; the driver would reject them as unknown options.
PROJECT_EXTRAS = frozenset(
    {
        "target",
        "iam_role",
        "workspace",
        "region",
        "region_name",
        "lock_timeout",
        "statement_timeout",
        "work_mem",
        "load_sessions",
    }
)


class WarehouseHook(PostgresHook):
    """``PostgresHook`` that keeps the project's connection extras (``iam_role``, ``target`` …) away from
    the driver, and asks Redshift (not RDS) for temporary credentials when a Redshift connection sets
    ``iam``. Both engines speak the PostgreSQL protocol, so one hook reaches both."""

    ignored_extra_options = PostgresHook.ignored_extra_options | PROJECT_EXTRAS

    def __init__(self, *args: Any, redshift: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redshift = redshift

    def get_iam_token(self, conn: Any) -> tuple[str, str, int]:
        extra = conn.extra_dejson
        if self._redshift and not (extra.get("redshift") or extra.get("redshift-serverless")):
            conn = copy.deepcopy(conn)
            conn.extra = json.dumps({**extra, "redshift": True})
        return super().get_iam_token(conn)


@dataclass
class Fill:
    """What :meth:`Warehouse.filling` did around an insert."""

    #: the table's statistics were refreshed in the load's transaction, after its rows: nothing left to do
    analyzed: bool = False
    #: sessions :meth:`Warehouse.insert_window` may split the window across (1: one ``insert … select``)
    sessions: int = 1


class Warehouse(ABC):
    """A warehouse reached through one Airflow connection. Built by :func:`open_warehouse` in ``execute()``.

    Subclasses set :attr:`name` (what the connection's extra ``target`` says), :attr:`dialect` (the
    macros of ``sql/macros/<dialect>.sql``), :attr:`staging_strategy` (the stager that loads it), say
    which connections they :meth:`claim`, and implement :meth:`lock` and :meth:`refresh_statistics`.
    """

    name: ClassVar[str]
    dialect: ClassVar[str]
    #: how rows get into this engine: the name of a stager in :data:`sparkify.staging.STAGERS`
    #: (staging picks the class; a warehouse never imports staging)
    staging_strategy: ClassVar[str]

    def __init__(self, conn_id: str, connection: Any) -> None:
        self.conn_id = conn_id
        self.connection = connection
        #: the connection's extra, as a dict
        self.extra: dict[str, Any] = connection.extra_dejson or {}
        self.hook = WarehouseHook(postgres_conn_id=conn_id, redshift=self.name == "redshift")
        self._open: set[Any] = set()  # sessions of open transactions, for cancel_running()
        # inside session(): the one session its transactions share, and who is using it now
        self._shared: Any = None
        self._sharing = False
        self._shared_busy = threading.Lock()

    @classmethod
    @abstractmethod
    def claims(cls, connection: Any) -> bool:
        """Whether a connection without an explicit ``target`` extra is this engine."""

    # -- sessions --------------------------------------------------------------------------------------

    def session_settings(self) -> list[str]:
        """Statements run at the start of every transaction (time zone, timeouts)."""
        return ["set timezone to 'UTC'"]

    @contextmanager
    def session(self) -> Iterator[None]:
        """Let the transactions inside share one database session, opened (with its settings) at the first
        and closed at the end: an hourly run's task opens one session instead of one per transaction (a
        connection costs a server process, and on Redshift an IAM credentials call). A transaction that
        fails closes it; the next one opens another. Temporary tables live as long as the session: the
        transaction that creates one drops it (decision 0018)."""
        self._sharing = True
        try:
            yield
        finally:
            self._sharing = False
            shared, self._shared = self._shared, None
            if shared is not None:
                with contextlib.suppress(Exception):
                    shared.close()

    def _connect(self) -> Any:
        """A new session with :meth:`session_settings` applied (psycopg 3 or psycopg2 alike)."""
        conn: Any = self.hook.get_conn()
        try:
            conn.autocommit = True  # session-wide: kept by every later transaction, a rolled back one too
            with conn.cursor() as cursor:
                for statement in self.session_settings():
                    cursor.execute(statement)
            conn.autocommit = False
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def transaction(
        self, *, on_error: Callable[[Any, Exception], None] | None = None, own_session: bool = False
    ) -> Iterator[Any]:
        """A cursor in one transaction: committed on success, rolled back on any error.

        ``on_error(cursor, error)`` runs after the rollback, in the same session, and may raise a
        clearer error (Redshift's load errors are read that way). Inside :meth:`session` the transaction
        uses the shared session unless another transaction holds it or ``own_session`` asks for a new one
        (what the server records per session must then be this transaction's alone).
        """
        shared = self._sharing and not own_session and self._shared_busy.acquire(blocking=False)
        conn: Any = None
        failed = False
        try:
            if shared and self._shared is not None:
                conn = self._shared
            else:
                conn = self._connect()
                if shared:
                    self._shared = conn
            self._open.add(conn)
            with conn.cursor() as cursor:
                try:
                    yield cursor
                except Exception as error:
                    if on_error is None:
                        raise
                    conn.rollback()
                    on_error(cursor, error)
                    raise
            conn.commit()
        except BaseException:
            failed = True
            with contextlib.suppress(Exception):  # a session cut mid-statement cannot roll back: closing it does
                conn.rollback()
            raise
        finally:
            self._open.discard(conn)
            if conn is not None and (failed or not shared):
                if shared:
                    self._shared = None
                with contextlib.suppress(Exception):
                    conn.close()
            if shared:
                self._shared_busy.release()

    def cancel_running(self) -> None:
        """Ask the server to cancel what this warehouse's open sessions are running (from a signal
        handler or another thread: the drivers' ``cancel`` is safe there)."""
        for conn in list(self._open):
            with contextlib.suppress(Exception):
                conn.cancel()

    @abstractmethod
    def lock(self, cursor: Any, table: str) -> None:
        """Serialise writers of ``table`` until the transaction ends (readers may go on)."""

    # -- DDL -------------------------------------------------------------------------------------------

    def create_tables(self, cursor: Any, tables: Sequence[str] | None = None) -> int:
        """Create the missing tables, and add the columns added since, in this transaction; returns how many
        statements ran."""
        statements = self.missing(cursor, ddl_statements(self.dialect, tables))
        for statement in statements:
            cursor.execute(statement)
        added = missing_columns(cursor, tables)
        for statement in added:
            cursor.execute(statement)
        return len(statements) + len(added)

    def missing(self, cursor: Any, statements: Sequence[str]) -> list[str]:
        """The DDL ``statements`` (each ``… if not exists``) worth running: all of them, unless the engine
        says cheaply which objects exist already."""
        return list(statements)

    # -- staging ---------------------------------------------------------------------------------------

    #: statements, outside any transaction, that reclaim the space of rows deleted from ``{table}``
    reclaim_sql: ClassVar[tuple[str, ...]] = ()

    def reclaim(self, table: str) -> None:
        """After a large delete (staging retention): give the space back and refresh the statistics."""
        if not self.reclaim_sql:
            return
        conn: Any = self.hook.get_conn()
        try:
            conn.autocommit = True  # VACUUM runs outside a transaction block on both engines
            with conn.cursor() as cursor:
                for statement in self.reclaim_sql:
                    cursor.execute(statement.format(table=table))
        finally:
            conn.close()

    @contextmanager
    def filling(self, cursor: Any, table: str, select: str, params: Any, deleted: int = 0) -> Iterator[Fill]:
        """Around the ``insert`` of ``select`` (run with ``params``) into ``table``, after ``deleted`` rows
        went in the same transaction: let the engine load it the way its documentation prescribes for bulk
        loads. The default does nothing (Redshift has no indexes to maintain)."""
        yield Fill()

    def insert_window(self, cursor: Any, table: str, select: str, params: dict[str, Any], fill: Fill) -> int:
        """Insert the rows ``select`` returns for the window ``params`` into ``table``, in the cursor's
        transaction, inside :meth:`filling`; the rows inserted. The default is one ``insert … select``
        (Redshift spreads it over its slices itself)."""
        cursor.execute(f"insert into {table}\n{select}", params)
        return cursor.rowcount

    @abstractmethod
    def refresh_statistics(self, cursor: Any, table: str, changed_rows: int | None = None) -> None:
        """Give the planner what it needs about ``table`` after ``changed_rows`` rows were loaded into it
        (``None``: unknown, always refresh); see docs/benchmarks.md for why."""

    # -- lineage ---------------------------------------------------------------------------------------

    #: the port OpenLineage names when the connection gives none
    default_port: ClassVar[int] = 5432

    def enforced_primary_key(self, cursor: Any, table: str) -> frozenset[str] | None:
        """The columns of ``table``'s primary key if the engine enforces it (uniqueness and NOT NULL), else
        ``None``. Redshift declares keys to the planner but enforces none: the default."""
        return None

    def lineage_namespace(self) -> str:
        """This warehouse's OpenLineage dataset namespace, as the naming spec gives it for PostgreSQL:
        ``postgres://{host}:{port}``. Targets of other engines override it."""
        return f"postgres://{(self.connection.host or 'localhost').lower()}:{self.connection.port or self.default_port}"

    def lineage_database(self) -> str:
        """The database that OpenLineage dataset names start with (``{database}.{schema}.{table}``)."""
        return self.connection.schema or ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.conn_id!r})"


def describe_connection(connection: Any) -> str:
    """A connection's type and host, for messages (never its login or password)."""
    return f"{connection.conn_id!r} (type {connection.conn_type!r}, host {connection.host!r})"
