"""Load a dimension table from its model, by truncate-insert, append or upsert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify.identifiers import check_identifier
from sparkify.sql_files import render_sql
from sparkify.warehouse import Warehouse, lock_table
from sparkify.window import resolve_window

if TYPE_CHECKING:
    from collections.abc import Sequence

MODES = ("truncate-insert", "append", "upsert")


class LoadDimensionOperator(BaseOperator):
    """Fill ``table`` from the model ``sql/models/<table>.sql`` (a ``select``), in one transaction.

    Modes:

    * ``truncate-insert``: delete every row, then insert the model's rows (``delete`` rather than
      ``truncate``, which commits on Redshift and would break the atomicity);
    * ``append``: insert the model's rows;
    * ``upsert``: replace the rows whose ``primary_key`` the model returns, insert the others.

    The model may use ``%(window_start)s`` and ``%(window_end)s``; the window then comes from the
    operator's arguments, the run params or the data interval, as for the fact load.

    :param table: the dimension table.
    :param mode: one of ``truncate-insert``, ``append``, ``upsert``.
    :param primary_key: the key column(s) for ``upsert``.
    :param redshift_conn_id: the warehouse connection.
    :param sql: the model file under ``sql/``; ``models/<table>.sql`` by default.
    :param window_start: explicit window start (templated).
    :param window_end: explicit window end (templated).
    """

    template_fields: Sequence[str] = ("window_start", "window_end")
    ui_color = "#80BD9E"

    def __init__(
        self,
        *,
        table: str,
        mode: str = "truncate-insert",
        primary_key: str | Sequence[str] | None = None,
        redshift_conn_id: str = "redshift",
        sql: str | None = None,
        window_start: str | None = None,
        window_end: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"{self.task_id}: mode {mode!r} is not one of {', '.join(MODES)}")
        keys = [primary_key] if isinstance(primary_key, str) else list(primary_key or [])
        if mode == "upsert" and not keys:
            raise ValueError(f"{self.task_id}: upsert mode needs primary_key")
        self.table = check_identifier(table)
        self.mode = mode
        self.primary_key = [check_identifier(k, "column") for k in keys]
        self.redshift_conn_id = redshift_conn_id
        self.sql = sql or f"models/{self.table}.sql"
        self.window_start = window_start
        self.window_end = window_end

    def execute(self, context: Any) -> dict[str, int]:
        warehouse = Warehouse(self.redshift_conn_id)
        model = render_sql(self.sql, warehouse.target)
        params = {}
        if "%(window_" in model:
            window = resolve_window(context, self.window_start, self.window_end)
            params = window.sql_params
            self.log.info("%s: window %s", self.table, window)
        deleted = 0
        with warehouse.transaction() as cursor:
            cursor.execute(lock_table(warehouse.target, self.table))
            if self.mode == "truncate-insert":
                cursor.execute(f"delete from {self.table}")
                deleted = cursor.rowcount
            if self.mode == "upsert":
                staged = f"{self.table.replace('.', '_')}_upsert"
                cursor.execute(f"create temp table {staged} as\n{model}", params or None)
                cursor.execute(f"select * from {staged} limit 0")
                columns = ", ".join(d[0] for d in cursor.description)
                match = " and ".join(f"{self.table}.{k} = s.{k}" for k in self.primary_key)
                cursor.execute(f"delete from {self.table} using {staged} as s where {match}")
                deleted = cursor.rowcount
                cursor.execute(f"insert into {self.table} ({columns}) select {columns} from {staged}")
                inserted = cursor.rowcount
                cursor.execute(f"drop table {staged}")
            else:
                cursor.execute(f"insert into {self.table}\n{model}", params or None)
                inserted = cursor.rowcount
        self.log.info("%s (%s): %d rows deleted, %d rows inserted", self.table, self.mode, deleted, inserted)
        return {"rows_deleted": deleted, "rows_inserted": inserted}
