"""Load a fact table for one window: delete the window's rows, insert the model's rows, one commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.models.catalogue import load_catalogue
from sparkify.operators.model_load import ModelLoadOperator
from sparkify.quality.gate import gate, key_enforced
from sparkify.staging.changes import reloaded

if TYPE_CHECKING:
    from sparkify.warehouses.base import Warehouse


class LoadFactOperator(ModelLoadOperator):
    """Replace the rows of ``table`` whose ``time_column`` falls in the run's window (a fact, or a dimension
    such as ``time`` whose rows belong to a window).

    The model (``sql/models/<table>.sql`` by default) is a ``select`` that takes ``%(window_start)s``
    and ``%(window_end)s`` and returns the window's rows. Deleting the window first makes a rerun
    idempotent; doing both in one transaction, under a table lock that serialises concurrent loads of
    overlapping windows, means a failure leaves no partial rows. The table's row-level checks run in the
    same transaction before it commits (``sparkify.quality.gate``): rows failing them are never published.

    :param table: the fact table.
    :param time_column: the column that places a row in a window.
    :param sql: the model (see :class:`~sparkify.operators.model_load.ModelLoadOperator`).
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#F98866"

    def __init__(self, *, time_column: str = "start_time", sql: str | None = None, **kwargs: Any) -> None:
        super().__init__(sql=sql, **kwargs)
        self.time_column = check_identifier(time_column, "column")
        catalogue = load_catalogue()
        spec = catalogue.spec(self.table)
        #: the staging tables a fact reads (catalogue ``depends_on``): whose stale hours its load reloads. A
        #: window dimension (time) loads before the fact: its success alone does not make an hour current
        inputs = spec.depends_on if spec is not None and spec.kind == "fact" else ()
        self.staged_inputs = tuple(t for t in inputs if t in catalogue.staging_tables)
        #: a model that does not read its own table may be split across sessions by a bulk load (decision
        #: 0020): they cannot see this load's delete. Only the catalogue's own model says what it reads
        self.splittable = sql is None and spec is not None and self.table not in spec.depends_on

    def run(self, warehouse: Warehouse, context: Any) -> dict[str, int]:
        window = self.window(context)
        with warehouse.transaction() as cursor:
            warehouse.lock(cursor, self.table)
            cursor.execute(
                f"delete from {self.table} where {self.time_column} >= %(window_start)s"
                f" and {self.time_column} < %(window_end)s",
                window.sql_params,
            )
            deleted = cursor.rowcount
            with warehouse.filling(cursor, self.table, self.sql, window.sql_params, deleted) as fill:
                if not self.splittable:
                    fill.sessions = 1
                inserted = warehouse.insert_window(cursor, self.table, self.sql, window.sql_params, fill)
            # checks on what this load publishes, before commit
            gate(cursor, self.table, window.sql_params, enforced_key=key_enforced(warehouse, cursor, self.table))
            # hours of this window that a changed source object had made stale are up to date again
            reloaded(cursor, self.staged_inputs, window.sql_params)
        if not fill.analyzed:
            with warehouse.transaction() as cursor:
                warehouse.refresh_statistics(cursor, self.table, deleted + inserted)
        self.log.info("%s %s: %d rows deleted, %d rows inserted", self.table, window, deleted, inserted)
        return {"rows_deleted": deleted, "rows_inserted": inserted}
