"""Create the warehouse's tables if they are missing, with the DDL rendered for its engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify.identifiers import check_identifier
from sparkify.sql_files import render_sql, split_statements
from sparkify.warehouse import Warehouse

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Every table of the project, in creation order.
ALL_TABLES: tuple[str, ...] = (
    "staging_ledger",
    "staging_events",
    "staging_songs",
    "songplays",
    "users",
    "songs",
    "artists",
    "time",
    "quality_results",
)


def ddl_statements(target: str, tables: Sequence[str] = ALL_TABLES) -> list[str]:
    """The ``create ... if not exists`` statements of ``tables`` for ``target``, in order."""
    statements: list[str] = []
    for table in tables:
        statements.extend(split_statements(render_sql(f"ddl/{table}.sql", target)))
    return statements


class CreateTablesOperator(BaseOperator):
    """Run ``sql/ddl/<table>.sql`` for each table, in one transaction; existing tables are kept.

    :param redshift_conn_id: the warehouse connection (PostgreSQL or Redshift).
    :param tables: which tables to create, in order; all of the project's by default.
    """

    ui_color = "#c9daf8"

    def __init__(
        self,
        *,
        redshift_conn_id: str = "redshift",
        tables: Sequence[str] = ALL_TABLES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.redshift_conn_id = redshift_conn_id
        self.tables = [check_identifier(t) for t in tables]

    def execute(self, context: Any) -> None:
        warehouse = Warehouse(self.redshift_conn_id)
        statements = ddl_statements(warehouse.target, self.tables)
        with warehouse.transaction() as cursor:
            if warehouse.target == "postgres":
                # concurrent runs' "create ... if not exists" can race in PostgreSQL's catalog
                cursor.execute("select pg_advisory_xact_lock(hashtext('sparkify.create_tables'))")
            for statement in statements:
                cursor.execute(statement)
        self.log.info("Ensured %d tables on %s (%s)", len(self.tables), self.redshift_conn_id, warehouse.target)
