"""Checks that gate what a load publishes: run inside the load's transaction, before its commit.

The quality task runs after the loads have committed, so a row that fails a check is already published
when the check fails, and a table-wide check then fails every later run too (issue 10, item 3). The
checks that concern only a table's own rows (``not_null``, ``unique``, ``accepted_values``, ``range``, of
severity ``error``) therefore also run inside the load's transaction, on exactly the rows the load is
about to publish (a fact load's window; a dimension's model output): if one fails, the load rolls back
and fails at once, naming the check and a few offending rows, and the table stays as it was. Rows
published before (or by hand) do not block a load: the quality task reports them. Checks across tables
(``relationships``, ``custom``) and counts (``row_count``) stay with the quality task, which runs once
every table is loaded.

A check that the engine itself enforces on the table is not run again: on an engine that enforces
primary keys (PostgreSQL), ``unique`` on the primary key and ``not_null`` on its columns cannot fail on
the table, and re-checking them costs a scan and a sort of every row published (a month's songplays:
0.7 s). On Redshift, where keys are declared but not enforced, they run.

Repair and rerun: fix the source object the offending rows come from (its new version is staged again)
and rerun the window; nothing of the refused load was published, so nothing needs cleaning up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.errors import FailNow
from sparkify.models.catalogue import load_catalogue
from sparkify.quality.compile import compile_check
from sparkify.quality.kinds import CheckContext
from sparkify.quality.observe import observe

if TYPE_CHECKING:
    from sparkify.quality.check import Check
    from sparkify.warehouses.base import Warehouse

#: check kinds that look only at the loaded table's own rows
GATING_KINDS = ("not_null", "unique", "accepted_values", "range")


def gating_checks(
    table: str, relation: str | None = None, *, window: bool = False, enforced_key: bool = False
) -> list[Check]:
    """The error-level row checks of ``table``'s catalogue entry (none without one), compiled against
    ``relation`` (default: the table), on the rows of the run's window when ``window``, else on all.
    ``enforced_key``: the engine enforces the table's primary key (:func:`key_enforced`), so the checks
    it implies are left out (not on ``relation``, a model's output, which has no key)."""
    spec = load_catalogue().spec(table)
    if spec is None:
        return []
    ctx = CheckContext(relation or table, spec.time_column, str(spec.path or table))
    skip_implied = enforced_key and relation in (None, table)
    checks: list[Check] = []
    for declared in spec.checks:
        kinds = set(declared) - {"severity", "scope", "name"}
        if declared.get("severity", "error") != "error" or not kinds <= set(GATING_KINDS):
            continue
        compiled = compile_check(
            ctx, {**declared, "scope": "window" if window else "table"}, primary_key=spec.primary_key
        )
        checks.extend(c for c in compiled if not (skip_implied and c.implied_by_key))
    return checks


def key_enforced(warehouse: Warehouse, cursor: Any, table: str) -> bool:
    """Whether ``warehouse`` enforces on ``table`` the primary key its catalogue entry declares."""
    spec = load_catalogue().spec(table)
    if spec is None or not spec.primary_key:
        return False
    return warehouse.enforced_primary_key(cursor, table) == frozenset(spec.primary_key)


def gate(
    cursor: Any,
    table: str,
    params: dict[str, Any] | None = None,
    *,
    relation: str | None = None,
    enforced_key: bool = False,
) -> int:
    """Run ``table``'s gating checks on ``cursor``, inside the load's transaction, on the rows about to be
    published: ``relation`` (a dimension's model output), else the table's rows of the window ``params``
    (a fact load); ``enforced_key`` as in :func:`gating_checks`. Raise :class:`~sparkify.errors.FailNow`
    listing every failure; return the checks run."""
    failures = []
    checks = gating_checks(table, relation, window=relation is None and params is not None, enforced_key=enforced_key)
    for check, observed in zip(checks, observe(cursor, checks, params), strict=True):
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
