"""Reading the test warehouse back, for assertions."""

from __future__ import annotations

from typing import Any

from sparkify.models.catalogue import load_catalogue

STAR_TABLES = load_catalogue().star_names


def rows(db: Any, sql: str, params: Any = None) -> list[tuple]:
    return db.execute(sql, params).fetchall()


def snapshot(db: Any) -> dict[str, list[tuple]]:
    """Every row of every star table, sorted: two equal snapshots mean equal tables."""
    return {t: rows(db, f"select * from {t} order by 1") for t in STAR_TABLES}


def keyed(db: Any, table: str, key: str) -> dict[Any, tuple]:
    """``{key: (other columns…)}`` for a table."""
    cursor = db.execute(f"select * from {table}")
    names = [d.name for d in cursor.description]
    index = names.index(key)
    return {row[index]: tuple(v for i, v in enumerate(row) if i != index) for row in cursor.fetchall()}


def recreate_tables(db: Any) -> None:
    """Drop and recreate every table, ledger included (what ``make reset`` does)."""
    from sparkify.models.ddl import ddl_statements

    for table in load_catalogue().ddl_tables:
        db.execute(f"drop table if exists {table}")
    for statement in ddl_statements("postgres"):
        db.execute(statement)
