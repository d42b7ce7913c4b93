"""Load a dimension table from its model, by truncate-insert, append or upsert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.operators.model_load import ModelLoadOperator
from sparkify.quality.gate import gate, key_enforced
from sparkify.sql_literals import with_literals

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sparkify.warehouses.base import Warehouse

MODES = ("truncate-insert", "append", "upsert")
#: the column types (PostgreSQL type OIDs, which Redshift shares for these) whose values compare with
#: ``=``: boolean, integers, text and character types, floats, numeric, dates, times, intervals, uuid. An
#: upsert skips its unchanged rows only when every column of the table is one of them; a column of
#: another type (json, Redshift's SUPER) has no ``=`` (or not one meaning "the same"), so it rewrites.
COMPARABLE_TYPES = frozenset(
    {16, 18, 19, 20, 21, 23, 25, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184, 1186, 1266, 1700, 2950}
)


class LoadDimensionOperator(ModelLoadOperator):
    """Fill ``table`` from its model (a ``select``), in one transaction.

    Modes:

    * ``truncate-insert``: delete every row, then insert the model's rows (``delete`` rather than
      ``truncate``, which commits on Redshift and would break the atomicity);
    * ``append``: insert the model's rows;
    * ``upsert``: replace the rows whose ``primary_key`` the model returns, insert the others. Where
      the model returns every column of the table and each has an equality (:data:`COMPARABLE_TYPES`),
      a row equal to the table's (NULL matching NULL) is left as it is: the counts are of rows
      written, and an unchanged dimension costs no writes.

    The model may use ``%(window_start)s`` and ``%(window_end)s``; the window then comes from the
    operator's arguments, the run params or the data interval, as for the fact load.

    :param table: the dimension table.
    :param mode: one of ``truncate-insert``, ``append``, ``upsert``.
    :param primary_key: the key column(s) for ``upsert``.
    :param sql: the model (see :class:`~sparkify.operators.model_load.ModelLoadOperator`).
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#80BD9E"

    def __init__(
        self,
        *,
        mode: str = "truncate-insert",
        primary_key: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"{self.task_id}: mode {mode!r} is not one of {', '.join(MODES)}")
        keys = [primary_key] if isinstance(primary_key, str) else list(primary_key or [])
        if mode == "upsert" and not keys:
            raise ValueError(f"{self.task_id}: upsert mode needs primary_key")
        self.mode = mode
        self.primary_key = [check_identifier(k, "column") for k in keys]

    def run(self, warehouse: Warehouse, context: Any) -> dict[str, int]:
        params = None
        if self.windowed:
            window = self.window(context)
            params = window.sql_params
            self.log.info("%s: window %s", self.table, window)
        deleted = 0
        with warehouse.transaction() as cursor:
            warehouse.lock(cursor, self.table)
            if self.mode == "truncate-insert":
                cursor.execute(f"delete from {self.table}")
                deleted = cursor.rowcount
            if self.mode == "upsert":
                deleted, inserted = self._upsert(cursor, params)
            else:
                cursor.execute(f"insert into {self.table}\n{self.sql}", params)
                inserted = cursor.rowcount
                if self.mode == "truncate-insert":  # the table is exactly what this load publishes
                    gate(
                        cursor,
                        self.table,
                        relation=self.table,
                        enforced_key=key_enforced(warehouse, cursor, self.table),
                    )
        with warehouse.transaction() as cursor:
            warehouse.refresh_statistics(cursor, self.table, deleted + inserted)
        self.log.info("%s (%s): %d rows deleted, %d rows inserted", self.table, self.mode, deleted, inserted)
        return {"rows_deleted": deleted, "rows_inserted": inserted}

    def _upsert(self, cursor: Any, params: dict | None) -> tuple[int, int]:
        staged = f"{self.table.replace('.', '_')}_upsert"
        # Redshift takes no server-side parameters in CREATE TABLE AS: the window goes in as literals
        cursor.execute(f"create temp table {staged} as\n{with_literals(self.sql, params)}")
        gate(cursor, self.table, relation=staged)  # the rows this load publishes, checked before commit
        names = list(_column_types(cursor, staged))
        columns = ", ".join(names)
        held = _column_types(cursor, self.table)
        if set(held) <= set(names) and all(code in COMPARABLE_TYPES for code in held.values()):
            # A row the table already holds as is needs no rewrite: an hour that restages no song writes
            # no song, so the dimension's hourly cost follows its changes, not its size. (A model that
            # leaves out a column rewrites its rows, as replacing them resets that column; so does a table
            # with a column that has no equality, such as json.)
            unchanged = [f"{staged}.{k} = t.{k}" for k in self.primary_key] + [
                f"({staged}.{c} = t.{c} or ({staged}.{c} is null and t.{c} is null))"  # NULL matches NULL
                for c in names
                if c not in self.primary_key
            ]
            cursor.execute(f"delete from {staged} using {self.table} as t where {' and '.join(unchanged)}")
        match = " and ".join(f"{self.table}.{k} = s.{k}" for k in self.primary_key)
        cursor.execute(f"delete from {self.table} using {staged} as s where {match}")
        deleted = cursor.rowcount
        cursor.execute(f"insert into {self.table} ({columns}) select {columns} from {staged}")
        inserted = cursor.rowcount
        cursor.execute(f"drop table {staged}")
        return deleted, inserted


def _column_types(cursor: Any, relation: str) -> dict[str, Any]:
    """``relation``'s columns in order, each with its type code (DB-API ``description``)."""
    cursor.execute(f"select * from {relation} limit 0")
    return {d[0]: d[1] for d in cursor.description}
