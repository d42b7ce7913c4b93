"""The Redshift path of the staging rules (:mod:`sparkify.staging.rules`): the rules in SQL, on the rows a
COPY put in a temporary table. A broken rule fails the unit, or sends its rows to the quarantine, as the
local path does record by record.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.staging.rules import _BOUNDS, Rule, _shown

if TYPE_CHECKING:
    from collections.abc import Sequence


_SQL_BOUNDS = {"min": "<", "max": ">", "greater_than": "<=", "less_than": ">="}


def _violation_sql(rule: Rule) -> tuple[str, list[Any]]:
    """A condition true for the rows breaking ``rule``, and its parameters."""
    column = check_identifier(rule.column, "column")
    params: list[Any] = []
    if rule.kind == "not_null":
        broken = f"{column} is null"
    else:
        outside = []
        for name, bound in rule.bounds:
            outside.append(f"{column} {_SQL_BOUNDS[name]} %s")
            params.append(bound)
        broken = f"({column} is not null and ({' or '.join(outside)}))"
        if rule.kind == "window":
            broken = f"({column} is null or {broken})"
    for when_column, values in rule.when:
        name = check_identifier(when_column, "column")
        if values == (None,):
            broken += f" and {name} is not null"
        else:
            broken += f" and {name} in ({', '.join(['%s'] * len(values))})"
            params.extend(values)
    return broken, params


def enforce_in_sql(
    cursor: Any,
    relation: str,
    columns: Sequence[str],
    rules: Sequence[Rule],
    where: str,
    reject: Any = None,
) -> int:
    """Apply ``rules`` to the rows of ``relation`` (what one COPY loaded, before it is inserted into the
    staging table): normalise the vocabularies, then fail on the first row breaking a rule (``reject``
    None), or hand each such row to ``reject`` and delete it. Redshift's COPY keeps no line numbers of
    the rows it loads, so the errors name the unit (``where``), the field and the value, not the line.
    Returns the rows left out."""
    known = set(columns)
    for rule in rules:
        if rule.kind != "vocabulary" or rule.column not in known:
            continue
        column = check_identifier(rule.column, "column")
        cases = " ".join(["when upper(btrim(" + column + ")) = upper(%s) then %s"] * len(rule.values))
        params = [v for value in rule.values for v in (value, value)]
        cursor.execute(
            f"update {relation} set {column} = case {cases} else btrim({column}) end"
            f" where {column} is not null and {column} not in ({', '.join(['%s'] * len(rule.values))})",
            (*params, *rule.values),
        )
    left_out = 0
    listed = ", ".join(columns)
    for rule in rules:
        if rule.kind == "vocabulary" or rule.column not in known or any(c not in known for c, _ in rule.when):
            continue
        broken, params = _violation_sql(rule)
        cursor.execute(f"select {listed} from {relation} where {broken}", params)
        found = cursor.fetchall()
        if not found:
            continue
        for row in found:
            record = dict(zip(columns, row, strict=True))
            value = record[rule.column]
            shown = "null: a value is needed" if value is None else _broken_bound(rule, value)
            reason = f"column {rule.column}: {shown} ({rule.origin})"
            if reject is None:
                raise _staging_error(f"{where}, field {rule.column}: {shown} ({rule.origin})")
            reject(None, rule.column, reason, json.dumps(record, default=str, ensure_ascii=False))
        cursor.execute(f"delete from {relation} where {broken}", params)
        left_out += len(found)
    return left_out


def _broken_bound(rule: Rule, value: Any) -> str:
    """``<value> is not <sign> <bound>`` for the first bound of ``rule`` that ``value`` breaks."""
    for name, bound in rule.bounds:
        test, sign = _BOUNDS[name]
        if not test(value, bound):
            return f"{_shown(value)} is not {sign} {_shown(bound)}"
    return f"{_shown(value)} breaks {rule.kind}"  # pragma: no cover - the SQL found it broken


def _staging_error(message: str) -> Exception:
    from sparkify.staging.json_copy import StagingDataError  # json_copy imports this module

    return StagingDataError(message)
