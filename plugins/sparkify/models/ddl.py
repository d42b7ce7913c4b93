"""The ``create … if not exists`` statements of the catalogue's tables, rendered for one dialect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.models.catalogue import load_catalogue
from sparkify.models.columns import column_names
from sparkify.models.sql_files import render_sql, split_statements

if TYPE_CHECKING:
    from collections.abc import Sequence


#: columns added to a table after it was first released: ``(table, column, type)``. ``create table if not
#: exists`` leaves an existing table as it was, and Redshift has no ``add column if not exists``, so
#: :func:`missing_columns` says which to add, from ``information_schema.columns``, on either engine.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("staging_ledger", "object_fingerprint", "varchar(128)"),
    ("staging_ledger", "retired_at", "timestamp"),
    ("staging_ledger", "audited_margin_seconds", "bigint"),
    ("quality_results", "observed_value", "double precision"),
)


def missing_columns(cursor: Any, tables: Sequence[str] | None = None) -> list[str]:
    """The ``alter table … add column`` statements that bring existing tables up to their DDL."""
    statements = []
    for table, column, kind in ADDED_COLUMNS:
        if tables is not None and table not in tables:
            continue
        present = {name for name, _, _ in column_names(cursor, table)}
        if present and column not in present:
            statements.append(f"alter table {table} add column {column} {kind}")
    return statements


def ddl_statements(dialect: str, tables: Sequence[str] | None = None) -> list[str]:
    """The statements of ``sql/ddl/<table>.sql`` for ``tables`` (every table by default), in order."""
    catalogue = load_catalogue()
    statements: list[str] = []
    for table in tables or catalogue.ddl_tables:
        statements.extend(split_statements(render_sql(f"ddl/{table}.sql", dialect, this=catalogue.spec(table))))
    return statements
