"""Data-quality checks declared as data: ``sql/models/<table>.yml`` beside the model they guard.

A file names its table, optionally the column that places a row in a run's window, and a list of
checks. Each check compiles to a query that returns one number (the *observed* value), compared with
an *expected* value; most also have a query for a few offending rows, shown when the check fails::

    table: songplays
    time_column: start_time
    checks:
      - row_count: {min: 1}
        severity: warn
      - not_null: [songplay_id, start_time]
      - unique: [songplay_id]
      - accepted_values: {column: level, values: [free, paid]}
      - relationships: {column: user_id, to: users.user_id}
      - range: {column: duration, greater_than: 0}
      - custom:
          name: loaded_equals_staged
          sql: select count(*) from songplays where {window}
          expect_sql: select count(*) from staging_events where page = 'NextSong' and {window:ts}
          compare: "="

``scope: window`` (or ``table``, the default) limits a check to the rows of the run's window.
``severity: warn`` reports a failure without failing the task. In custom SQL, ``{window}`` stands for
the window filter on the table's time column and ``{window:col}`` for the filter on another column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sparkify.identifiers import check_identifier
from sparkify.sql_files import sql_dir

if TYPE_CHECKING:
    from collections.abc import Sequence

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "between")
SEVERITIES = ("error", "warn")
SCOPES = ("table", "window")
_WINDOW_TOKEN = re.compile(r"\{window(?::([a-z_][a-z0-9_]*))?\}")


class CheckDefinitionError(ValueError):
    """A checks file is malformed; the message names the file and the check."""


@dataclass(frozen=True)
class Check:
    """One compiled check: a query for the observed value and how to judge it."""

    table: str
    name: str
    sql: str
    expected: Any = 0
    compare: str = "="
    tolerance: float = 0.0
    severity: str = "error"
    scope: str = "table"
    expected_sql: str | None = None
    sample_sql: str | None = None

    def passes(self, observed: Any, expected: Any) -> bool:
        """Judge ``observed`` against ``expected`` (a pair for ``between``); NULL never passes."""
        if observed is None:
            return False
        if self.compare == "between":
            low, high = expected
            return (low is None or observed >= low - self.tolerance) and (
                high is None or observed <= high + self.tolerance
            )
        if expected is None:
            return False
        if self.compare in ("=", "!="):
            if isinstance(observed, (int, float)) and isinstance(expected, (int, float)):
                equal = math.isclose(float(observed), float(expected), rel_tol=0, abs_tol=self.tolerance)
            else:
                equal = observed == expected
            return equal if self.compare == "=" else not equal
        return {
            "<": observed < expected + self.tolerance,
            "<=": observed <= expected + self.tolerance,
            ">": observed > expected - self.tolerance,
            ">=": observed >= expected - self.tolerance,
        }[self.compare]

    def describe_expected(self, expected: Any) -> str:
        if self.compare == "between":
            low, high = expected
            text = f">= {low}" if high is None else f"<= {high}" if low is None else f"between {low} and {high}"
        else:
            text = f"{self.compare} {expected}"
        return f"{text} ± {self.tolerance:g}" if self.tolerance else text


@dataclass
class TableChecks:
    """The checks of one table, as read from its YAML file."""

    table: str
    time_column: str | None
    checks: list[Check] = field(default_factory=list)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class _Compiler:
    """Builds checks for one table; ``where`` clauses add the window filter when scoped."""

    def __init__(self, table: str, time_column: str | None, origin: str) -> None:
        self.table = table
        self.time_column = time_column
        self.origin = origin

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

    def compile(self, spec: dict[str, Any]) -> list[Check]:  # noqa: C901 - one branch per check kind
        spec = dict(spec)
        custom_sql = " ".join(str(v) for v in (spec.get("custom") or {}).values())
        windowed = "{window" in custom_sql or "%(window_" in custom_sql
        common = {
            "severity": spec.pop("severity", "error"),
            "scope": spec.pop("scope", "window" if windowed else "table"),
        }
        name = spec.pop("name", None)
        if len(spec) != 1:
            raise CheckDefinitionError(f"{self.origin}: a check needs exactly one kind, got {sorted(spec)}")
        kind, arg = next(iter(spec.items()))
        if common["severity"] not in SEVERITIES:
            raise CheckDefinitionError(f"{self.origin}: {kind}: severity must be one of {SEVERITIES}")
        if common["scope"] not in SCOPES:
            raise CheckDefinitionError(f"{self.origin}: {kind}: scope must be one of {SCOPES}")
        scope = common["scope"]
        t = self.table

        if kind == "row_count":
            low, high = arg.get("min"), arg.get("max")
            return [
                Check(
                    t,
                    name or "row_count",
                    f"select count(*) from {t}{self.where(None, scope)}",
                    expected=(low, high),
                    compare="between",
                    **common,
                )
            ]
        if kind == "not_null":
            checks = []
            for column in _columns(arg, self.origin):
                condition = f"{column} is null"
                checks.append(
                    Check(
                        t,
                        name or f"not_null({column})",
                        f"select count(*) from {t}{self.where(condition, scope)}",
                        sample_sql=f"select * from {t}{self.where(condition, scope)} limit 5",
                        **common,
                    )
                )
            return checks
        if kind == "unique":
            columns = ", ".join(_columns(arg, self.origin))
            grouped = (
                f"select {columns}, count(*) as copies from {t}{self.where(None, scope)}"
                f" group by {columns} having count(*) > 1"
            )
            return [
                Check(
                    t,
                    name or f"unique({columns})",
                    f"select count(*) from ({grouped}) as duplicates",
                    sample_sql=f"{grouped} limit 5",
                    **common,
                )
            ]
        if kind == "accepted_values":
            column = check_identifier(arg["column"], "column")
            values = ", ".join(_literal(v) for v in arg["values"])
            condition = f"{column} is not null and {column} not in ({values})"
            return [
                Check(
                    t,
                    name or f"accepted_values({column})",
                    f"select count(*) from {t}{self.where(condition, scope)}",
                    sample_sql=f"select * from {t}{self.where(condition, scope)} limit 5",
                    **common,
                )
            ]
        if kind == "relationships":
            column = check_identifier(arg["column"], "column")
            parent, _, parent_column = str(arg["to"]).rpartition(".")
            check_identifier(parent)
            check_identifier(parent_column, "column")
            condition = (
                f"c.{column} is not null and not exists "
                f"(select 1 from {parent} as p where p.{parent_column} = c.{column})"
            )
            body = f"from {t} as c{self.where(condition, scope, alias='c')}"
            return [
                Check(
                    t,
                    name or f"relationships({column} -> {parent}.{parent_column})",
                    f"select count(*) {body}",
                    sample_sql=f"select c.* {body} limit 5",
                    **common,
                )
            ]
        if kind == "range":
            column = check_identifier(arg["column"], "column")
            bounds = {"min": "<", "max": ">", "greater_than": "<=", "less_than": ">="}
            outside = [f"{column} {bounds[k]} {_literal(v)}" for k, v in arg.items() if k in bounds]
            if not outside:
                raise CheckDefinitionError(
                    f"{self.origin}: range on {column} needs min, max, greater_than or less_than"
                )
            condition = f"({' or '.join(outside)})"
            described = ", ".join(f"{k} {v}" for k, v in arg.items() if k in bounds)
            return [
                Check(
                    t,
                    name or f"range({column}: {described})",
                    f"select count(*) from {t}{self.where(condition, scope)}",
                    sample_sql=f"select * from {t}{self.where(condition, scope)} limit 5",
                    **common,
                )
            ]
        if kind == "custom":
            if not name and not arg.get("name"):
                raise CheckDefinitionError(f"{self.origin}: a custom check needs a name")
            compare = arg.get("compare", "=")
            if compare not in COMPARISONS:
                raise CheckDefinitionError(f"{self.origin}: {arg.get('name')}: compare must be one of {COMPARISONS}")
            expected = arg.get("expect", 0)
            if compare == "between" and not (isinstance(expected, list) and len(expected) == 2):
                raise CheckDefinitionError(f"{self.origin}: {arg.get('name')}: between expects [low, high]")
            return [
                Check(
                    t,
                    name or arg["name"],
                    self.expand_window(arg["sql"]),
                    expected=tuple(expected) if compare == "between" else expected,
                    compare=compare,
                    tolerance=float(arg.get("tolerance", 0)),
                    expected_sql=self.expand_window(arg["expect_sql"]) if arg.get("expect_sql") else None,
                    sample_sql=self.expand_window(arg["sample_sql"]) if arg.get("sample_sql") else None,
                    **common,
                )
            ]
        raise CheckDefinitionError(f"{self.origin}: unknown check kind {kind!r}")


def _columns(arg: Any, origin: str) -> list[str]:
    columns = [arg] if isinstance(arg, str) else list(arg or [])
    if not columns:
        raise CheckDefinitionError(f"{origin}: the check names no column")
    return [check_identifier(c, "column") for c in columns]


def load_table_checks(path: str | Path) -> TableChecks:
    """Read and compile one checks file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CheckDefinitionError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or "table" not in document:
        raise CheckDefinitionError(f"{path}: expected a mapping with 'table' and 'checks'")
    table = check_identifier(document["table"])
    time_column = document.get("time_column")
    compiler = _Compiler(table, check_identifier(time_column, "column") if time_column else None, str(path))
    result = TableChecks(table, time_column)
    for number, spec in enumerate(document.get("checks") or [], start=1):
        if not isinstance(spec, dict):
            raise CheckDefinitionError(f"{path}: check {number} is not a mapping")
        result.checks.extend(compiler.compile(spec))
    return result


def load_checks(tables: Sequence[str], folder: str | Path | None = None) -> list[Check]:
    """Every check of ``tables``, from ``<folder>/<table>.yml`` (``sql/models`` by default)."""
    folder = Path(folder) if folder else sql_dir() / "models"
    checks: list[Check] = []
    for table in tables:
        path = folder / f"{check_identifier(table)}.yml"
        if not path.is_file():
            raise CheckDefinitionError(f"no checks file for table {table}: {path}")
        checks.extend(load_table_checks(path).checks)
    return checks
