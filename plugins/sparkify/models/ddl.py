"""The ``create … if not exists`` statements of the catalogue's tables, rendered for one dialect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkify.models.catalogue import load_catalogue
from sparkify.models.sql_files import render_sql, split_statements

if TYPE_CHECKING:
    from collections.abc import Sequence


def ddl_statements(dialect: str, tables: Sequence[str] | None = None) -> list[str]:
    """The statements of ``sql/ddl/<table>.sql`` for ``tables`` (every table by default), in order."""
    catalogue = load_catalogue()
    statements: list[str] = []
    for table in tables or catalogue.ddl_tables:
        statements.extend(split_statements(render_sql(f"ddl/{table}.sql", dialect, this=catalogue.spec(table))))
    return statements
