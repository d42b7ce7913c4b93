"""The Redshift path of the staging rules (:mod:`sparkify.staging.rules`): the rules in SQL, on the rows a
COPY put in a temporary table. A broken rule fails the unit, or sends its rows to the quarantine, as the
local path does record by record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Found:
    """A COPY'd row breaking a rule: the rule, the row (column → value) and what is wrong with its value."""

    rule: Rule
    record: dict[str, Any]
    shown: str  # ``null: a value is needed`` or ``-1.5 is not > 0``

    @property
    def why(self) -> str:
        return f"{self.shown} ({self.rule.origin})"


def enforce_in_sql(cursor: Any, relation: str, columns: Sequence[str], rules: Sequence[Rule]) -> list[Found]:
    """Apply ``rules`` to the rows of ``relation`` (what one COPY loaded, before it is inserted into the
    staging table): normalise the vocabularies, then find and delete every row breaking a rule (each row
    counted once, under the first rule it breaks, as the record-by-record path does). The caller fails
    the unit or quarantines what was found: Redshift's COPY keeps no line numbers of the rows it loads,
    so it reads them back with :mod:`sparkify.staging.rule_lines`."""
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
    found: list[Found] = []
    listed = ", ".join(columns)
    for rule in rules:
        if rule.kind == "vocabulary" or rule.column not in known or any(c not in known for c, _ in rule.when):
            continue
        broken, params = _violation_sql(rule)
        cursor.execute(f"select {listed} from {relation} where {broken}", params)
        rows = cursor.fetchall()
        if not rows:
            continue
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            value = record[rule.column]
            shown = "null: a value is needed" if value is None else _broken_bound(rule, value)
            found.append(Found(rule, record, shown))
        cursor.execute(f"delete from {relation} where {broken}", params)
    return found


def unlocated(where: str, found: Found) -> str:
    """The error of a broken row whose line could not be read back: it says so rather than name none."""
    return (
        f"{where}, line unknown (Redshift keeps no line for a COPY'd row, and reading the objects back did not"
        f" find it), field {found.rule.column}: {found.why}; the row: {record_text(found)}"
    )


def record_text(found: Found) -> str:
    return json.dumps(found.record, default=str, ensure_ascii=False)


def _broken_bound(rule: Rule, value: Any) -> str:
    """``<value> is not <sign> <bound>`` for the first bound of ``rule`` that ``value`` breaks."""
    for name, bound in rule.bounds:
        test, sign = _BOUNDS[name]
        if not test(value, bound):
            return f"{_shown(value)} is not {sign} {_shown(bound)}"
    return f"{_shown(value)} breaks {rule.kind}"  # pragma: no cover - the SQL found it broken
