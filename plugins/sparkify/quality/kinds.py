"""The check vocabulary: one small builder per kind, in a registry (kind → builder).

A builder takes the table's :class:`CheckContext`, the kind's argument from YAML, the check's name (or
``None``) and the common settings (severity, scope), and returns compiled :class:`Check` objects. Most
kinds count *offending rows* and show a few when they fail (:func:`offending_rows`). Adding a kind
means writing one decorated function here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkify.identifiers import check_identifier
from sparkify.quality.check import COMPARISONS, Check, CheckDefinitionError

_WINDOW_TOKEN = re.compile(r"\{window(?::([a-z_][a-z0-9_]*))?\}")

Builder = Callable[["CheckContext", Any, "str | None", dict[str, Any]], list[Check]]
KINDS: dict[str, Builder] = {}


def kind(name: str) -> Callable[[Builder], Builder]:
    """Register a builder for the check kind ``name``."""

    def register(builder: Builder) -> Builder:
        KINDS[name] = builder
        return builder

    return register


@dataclass(frozen=True)
class CheckContext:
    """The table a file's checks guard; ``where`` adds the window filter to window-scoped checks."""

    table: str
    time_column: str | None
    origin: str

    def window_filter(self, column: str | None = None, alias: str | None = None) -> str:
        column = column or self.time_column
        if not column:
            raise CheckDefinitionError(f"{self.origin}: a window-scoped check needs time_column")
        qualified = f"{alias}.{column}" if alias else column
        return f"{qualified} >= %(window_start)s and {qualified} < %(window_end)s"

    def where(self, condition: str | None, scope: str, alias: str | None = None) -> str:
        parts = [p for p in (condition, self.window_filter(alias=alias) if scope == "window" else None) if p]
        return f" where {' and '.join(parts)}" if parts else ""

    def expand_window(self, sql: str) -> str:
        return _WINDOW_TOKEN.sub(lambda m: self.window_filter(m.group(1)), sql)


def offending_rows(
    ctx: CheckContext,
    name: str,
    condition: str,
    common: dict[str, Any],
    alias: str | None = None,
    column: str | None = None,
) -> Check:
    """A check that passes when no row of the table (of the window, if scoped) meets ``condition``."""
    source = f"{ctx.table} as {alias}" if alias else ctx.table
    body = f"from {source}{ctx.where(condition, common['scope'], alias=alias)}"
    return Check(
        ctx.table,
        name,
        f"select count(*) {body}",
        sample_sql=f"select {alias + '.' if alias else ''}* {body} limit 5",
        column=column,
        # a condition on the row alone can share its scan with the table's other such checks; one with a
        # subquery (relationships) stays a query of its own, where the planner can make it an anti-join
        scan=None if alias else f"from {source}{ctx.where(None, common['scope'])}",
        condition=None if alias else condition,
        **common,
    )


def columns_of(arg: Any, origin: str) -> list[str]:
    columns = [arg] if isinstance(arg, str) else list(arg or [])
    if not columns:
        raise CheckDefinitionError(f"{origin}: the check names no column")
    return [check_identifier(c, "column") for c in columns]


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@kind("row_count")
def row_count(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    bounds = (arg.get("min"), arg.get("max"))
    sql = f"select count(*) from {ctx.table}{ctx.where(None, common['scope'])}"
    return [Check(ctx.table, name or "row_count", sql, expected=bounds, compare="between", **common)]


@kind("not_null")
def not_null(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    return [
        offending_rows(ctx, name or f"not_null({column})", f"{column} is null", common, column=column)
        for column in columns_of(arg, ctx.origin)
    ]


@kind("unique")
def unique(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    listed = columns_of(arg, ctx.origin)
    columns = ", ".join(listed)
    grouped = (
        f"select {columns}, count(*) as copies from {ctx.table}{ctx.where(None, common['scope'])}"
        f" group by {columns} having count(*) > 1"
    )
    sql = f"select count(*) from ({grouped}) as duplicates"
    column = listed[0] if len(listed) == 1 else None
    return [
        Check(ctx.table, name or f"unique({columns})", sql, sample_sql=f"{grouped} limit 5", column=column, **common)
    ]


@kind("accepted_values")
def accepted_values(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    column = check_identifier(arg["column"], "column")
    values = ", ".join(literal(v) for v in arg["values"])
    condition = f"{column} is not null and {column} not in ({values})"
    return [offending_rows(ctx, name or f"accepted_values({column})", condition, common, column=column)]


@kind("relationships")
def relationships(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    column = check_identifier(arg["column"], "column")
    parent, _, parent_column = str(arg["to"]).rpartition(".")
    check_identifier(parent)
    check_identifier(parent_column, "column")
    condition = (
        f"c.{column} is not null and not exists (select 1 from {parent} as p where p.{parent_column} = c.{column})"
    )
    label = name or f"relationships({column} -> {parent}.{parent_column})"
    return [offending_rows(ctx, label, condition, common, alias="c", column=column)]


_RANGE_BOUNDS = {"min": "<", "max": ">", "greater_than": "<=", "less_than": ">="}


@kind("range")
def value_range(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    column = check_identifier(arg["column"], "column")
    outside = [f"{column} {_RANGE_BOUNDS[k]} {literal(v)}" for k, v in arg.items() if k in _RANGE_BOUNDS]
    if not outside:
        raise CheckDefinitionError(f"{ctx.origin}: range on {column} needs min, max, greater_than or less_than")
    described = ", ".join(f"{k} {v}" for k, v in arg.items() if k in _RANGE_BOUNDS)
    label = name or f"range({column}: {described})"
    return [offending_rows(ctx, label, f"({' or '.join(outside)})", common, column=column)]


@kind("custom")
def custom(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    label = name or arg.get("name")
    if not label:
        raise CheckDefinitionError(f"{ctx.origin}: a custom check needs a name")
    compare = arg.get("compare", "=")
    if compare not in COMPARISONS:
        raise CheckDefinitionError(f"{ctx.origin}: {label}: compare must be one of {COMPARISONS}")
    expected = arg.get("expect", 0)
    if compare == "between" and not (isinstance(expected, list) and len(expected) == 2):
        raise CheckDefinitionError(f"{ctx.origin}: {label}: between expects [low, high]")

    def optional(key: str) -> str | None:
        return ctx.expand_window(arg[key]) if arg.get(key) else None

    return [
        Check(
            ctx.table,
            label,
            ctx.expand_window(arg["sql"]),
            expected=tuple(expected) if compare == "between" else expected,
            compare=compare,
            tolerance=float(arg.get("tolerance", 0)),
            expected_sql=optional("expect_sql"),
            sample_sql=optional("sample_sql"),
            **common,
        )
    ]


# the health kinds (freshness, volume, quarantined) register themselves on import
from sparkify.quality import health  # noqa: E402, F401
