"""Load a fact table for one window: delete the window's rows, insert the model's rows, one commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify.identifiers import check_identifier
from sparkify.sql_files import render_sql
from sparkify.warehouse import Warehouse, lock_table
from sparkify.window import resolve_window

if TYPE_CHECKING:
    from collections.abc import Sequence


class LoadFactOperator(BaseOperator):
    """Replace the rows of ``table`` whose ``time_column`` falls in the run's window.

    The model ``sql/models/<table>.sql`` (or ``sql``) is a ``select`` that takes ``%(window_start)s``
    and ``%(window_end)s`` and returns the window's rows. Deleting the window first makes a rerun
    idempotent; doing both in one transaction, under a table lock that serialises concurrent loads of
    overlapping windows, means a failure leaves no partial rows.

    :param table: the fact table.
    :param redshift_conn_id: the warehouse connection.
    :param sql: the model file under ``sql/``; ``models/<table>.sql`` by default.
    :param time_column: the column that places a row in a window.
    :param window_start: explicit window start (templated); else the run params or data interval.
    :param window_end: explicit window end (templated).
    """

    template_fields: Sequence[str] = ("window_start", "window_end")
    ui_color = "#F98866"

    def __init__(
        self,
        *,
        table: str,
        redshift_conn_id: str = "redshift",
        sql: str | None = None,
        time_column: str = "start_time",
        window_start: str | None = None,
        window_end: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = check_identifier(table)
        self.redshift_conn_id = redshift_conn_id
        self.sql = sql or f"models/{self.table}.sql"
        self.time_column = check_identifier(time_column, "column")
        self.window_start = window_start
        self.window_end = window_end

    def execute(self, context: Any) -> dict[str, int]:
        window = resolve_window(context, self.window_start, self.window_end)
        warehouse = Warehouse(self.redshift_conn_id)
        model = render_sql(self.sql, warehouse.target)
        with warehouse.transaction() as cursor:
            cursor.execute(lock_table(warehouse.target, self.table))
            cursor.execute(
                f"delete from {self.table} where {self.time_column} >= %(window_start)s"
                f" and {self.time_column} < %(window_end)s",
                window.sql_params,
            )
            deleted = cursor.rowcount
            cursor.execute(f"insert into {self.table}\n{model}", window.sql_params)
            inserted = cursor.rowcount
        self.log.info("%s %s: %d rows deleted, %d rows inserted", self.table, window, deleted, inserted)
        return {"rows_deleted": deleted, "rows_inserted": inserted}
