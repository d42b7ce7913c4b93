"""Create the warehouse's tables if they are missing, with the DDL rendered for its engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.operators.base import WarehouseOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sparkify.warehouses.base import Warehouse


class CreateTablesOperator(WarehouseOperator):
    """Run ``sql/ddl/<table>.sql`` for each table, in one transaction; existing tables are kept.

    :param tables: which tables to create, in order; every table of the catalogue by default.
    :param redshift_conn_id: the warehouse connection.
    """

    ui_color = "#c9daf8"

    def __init__(self, *, tables: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tables = [check_identifier(t) for t in tables] if tables is not None else None

    def run(self, warehouse: Warehouse, context: Any) -> None:
        with warehouse.transaction() as cursor:
            statements = warehouse.create_tables(cursor, self.tables)
        self.log.info("Ensured the tables on %s (%s): %d statements", self.redshift_conn_id, warehouse.name, statements)
