"""Keep a staging table to a bounded horizon: delete the staged rows of old objects, through the ledger.

Decision 0014: staging_events keeps history only as far back as a rerun may need it. Once a day (the
``sparkify_audit`` DAG, off the hourly path) the rows of every object whose events all lie more than
``retention_days`` before the newest hour both staged and loaded are deleted, and the object's ledger row
is marked ``retired_at`` (kept: the unchanged object is not staged again; a changed one is, as new data).
A run whose own window's days were retired fails, saying how to stage them again (see
``StageToRedshiftOperator``), rather than replacing those hours' facts by nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.operators.base import WarehouseOperator
from sparkify.settings import from_variable
from sparkify.staging.ledger import StagingLedger

if TYPE_CHECKING:
    from sparkify.warehouses.base import Warehouse


class StagingRetentionOperator(WarehouseOperator):
    """Delete the staged rows of ``table``'s objects older than ``retention_days`` (see the module).

    :param table: the staging table (with a time column: day files).
    :param time_column: its time column.
    :param loaded_table: the table loaded from it; the horizon counts from the newest hour of both, so
        that rows not yet loaded are never deleted because a later day was staged ahead.
    :param loaded_time_column: that table's time column.
    :param retention_days: days kept before that newest hour; default: the Variable
        ``sparkify_staging_retention_days`` (35); 0 keeps everything.
    """

    ui_color = "#e8d5b7"

    def __init__(
        self,
        *,
        table: str = "staging_events",
        time_column: str = "ts",
        loaded_table: str = "songplays",
        loaded_time_column: str = "start_time",
        retention_days: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = check_identifier(table)
        self.time_column = check_identifier(time_column, "column")
        self.loaded_table = check_identifier(loaded_table)
        self.loaded_time_column = check_identifier(loaded_time_column, "column")
        if retention_days is not None and retention_days < 0:
            raise ValueError(f"{self.task_id}: retention_days must be 0 or more")
        self.retention_days = retention_days

    def run(self, warehouse: Warehouse, context: Any) -> dict[str, Any]:
        days = self.retention_days if self.retention_days is not None else from_variable("staging_retention_days")
        if days == 0:
            self.log.info("%s: retention 0 days: everything is kept", self.table)
            return {"objects_retired": 0, "rows_deleted": 0}
        with warehouse.transaction() as cursor:
            warehouse.lock(cursor, self.table)  # no stager replaces an object's rows meanwhile
            cursor.execute(f"select max({self.time_column}) from {self.table}")
            staged = cursor.fetchone()[0]
            cursor.execute(f"select max({self.loaded_time_column}) from {self.loaded_table}")
            loaded = cursor.fetchone()[0]
            if staged is None or loaded is None:
                self.log.info("%s: nothing staged or nothing loaded yet: nothing to retire", self.table)
                return {"objects_retired": 0, "rows_deleted": 0}
            newest = min(staged, loaded)
            cutoff = dt.datetime.combine(newest.date(), dt.time()) - dt.timedelta(days=days)
            units, rows = StagingLedger(warehouse, self.table).retire(cursor, self.time_column, cutoff)
        self.log.info(
            "%s: retired %d object(s), %d staged row(s) with %s before %s (%d days before %s)",
            self.table,
            units,
            rows,
            self.time_column,
            cutoff,
            days,
            newest,
        )
        if rows:
            warehouse.reclaim(self.table)
        return {"objects_retired": units, "rows_deleted": rows, "cutoff": cutoff.isoformat()}
