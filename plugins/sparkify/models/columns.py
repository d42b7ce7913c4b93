"""A table's columns as the warehouse describes them (``information_schema.columns``).

Both engines answer the same query, so this sits below staging and the warehouse targets: the stagers
read it to map records onto the staging table, and nothing here knows which engine it talks to.
"""

from __future__ import annotations

from typing import Any


def column_names(cursor: Any, table: str) -> list[tuple[str, str, int | None]]:
    """``(name, data_type, character_maximum_length)`` of ``table``'s columns, in order, from the
    schema on the search path (or the one that qualifies the name)."""
    schema, _, name = table.rpartition(".")
    cursor.execute(
        "select column_name, data_type, character_maximum_length from information_schema.columns"
        " where table_name = %s and table_schema = coalesce(nullif(%s, ''), current_schema())"
        " order by ordinal_position",
        (name, schema),
    )
    return [tuple(row) for row in cursor.fetchall()]
