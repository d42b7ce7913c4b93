"""Checks that gate what a load publishes: run inside the load's transaction, before its commit.

The quality task runs after the loads have committed, so a row that fails a check is already published
when the check fails, and a table-wide check then fails every later run too (issue 10, item 3). The
checks that concern only the rows of the table being loaded (``not_null``, ``unique``,
``accepted_values``, ``range``, of severity ``error``) therefore also run inside the load's transaction,
on what the load is about to publish: if one fails, the load rolls back and fails at once, naming the
check and a few offending rows, and the table stays as it was. Checks across tables (``relationships``,
``custom``) and counts (``row_count``) stay with the quality task, which runs once every table is loaded.

Repair and rerun: fix the source object the offending rows come from (its new version is staged again)
and rerun the window; nothing of the refused load was published, so nothing needs cleaning up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.catalogue import load_catalogue
from sparkify.errors import FailNow
from sparkify.quality.compile import compile_table_checks

if TYPE_CHECKING:
    from sparkify.quality.check import Check

#: check kinds that look only at the loaded table's own rows
GATING_KINDS = ("not_null", "unique", "accepted_values", "range")


def gating_checks(table: str) -> list[Check]:
    """The error-level checks of ``table``'s catalogue entry that gate its loads (none if it has no entry)."""
    spec = load_catalogue().spec(table)
    if spec is None:
        return []
    return [c for c in compile_table_checks(spec) if c.severity == "error" and c.name.split("(", 1)[0] in GATING_KINDS]


def gate(cursor: Any, table: str, params: dict[str, Any] | None) -> int:
    """Run ``table``'s gating checks on ``cursor`` (inside the load's transaction); raise
    :class:`~sparkify.errors.FailNow` listing every failure. Returns the number of checks run."""
    failures = []
    checks = gating_checks(table)
    for check in checks:
        if check.uses_window and params is None:
            continue  # a window-scoped check of a load without window: the quality task runs it
        cursor.execute(check.sql, params if "%(" in check.sql else None)
        row = cursor.fetchone()
        observed = row[0] if row else None
        if check.passes(observed, check.expected):
            continue
        text = f"{check.name}: observed {observed}, expected {check.describe_expected(check.expected)}"
        if check.sample_sql:
            cursor.execute(check.sample_sql, params if "%(" in check.sample_sql else None)
            text += "; e.g. " + "; ".join(str(r) for r in cursor.fetchall())
        failures.append(text)
    if failures:
        raise FailNow(
            f"{table}: not published: {len(failures)} check(s) failed on the rows this load would publish, "
            "so it was rolled back and the table is as it was:\n- " + "\n- ".join(failures) + "\nRepair: fix the "
            "source objects of these rows and rerun the window"
        )
    return len(checks)
