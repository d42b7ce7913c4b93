"""The rules that the catalogue's models (``sql/models/*.yml``) put on the rows of a staging table:
``not_null``, ``range`` and ``accepted_values`` of model columns computed from one staging column, and the
``staging_rules:`` of the models, limited to the rows a model ``reads`` (see :mod:`sparkify.staging.rules`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.models.catalogue import load_catalogue

if TYPE_CHECKING:
    from sparkify.models.catalogue import Catalogue, TableSpec


from sparkify.staging.rules import _BOUNDS, Rule


def _condition(path: str, reads: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not reads:
        return ()
    if not isinstance(reads, dict):
        raise ValueError(f"{path}: reads: expected a mapping of column to value(s)")
    out = []
    for column, value in sorted(reads.items()):
        if isinstance(value, dict) and value.get("not_null"):
            values: tuple[Any, ...] = (None,)
        else:
            values = tuple(value) if isinstance(value, list) else (value,)
        out.append((check_identifier(str(column), "column"), values))
    return tuple(out)


def _single_source(spec: TableSpec, column: str, table: str, *, as_is: bool = False) -> list[str]:
    """The columns of staging ``table`` that ``spec``'s ``column`` is computed from (``as_is``: only when the
    column holds their value, not a function of it: ``computed: true`` in the catalogue)."""
    for entry in spec.columns:
        if entry.name == column:
            if as_is and entry.computed:
                return []
            return [s.rpartition(".")[2] for s in entry.sources if s.rpartition(".")[0] == table]
    return []


def table_rules(table: str, catalogue: Catalogue | None = None) -> list[Rule]:
    """Every rule the catalogue's models put on the rows of staging ``table`` (deduplicated, in order)."""
    catalogue = catalogue or load_catalogue()
    rules: dict[tuple, Rule] = {}

    def add(rule: Rule) -> None:
        rules.setdefault(rule.identity, rule)

    for spec in catalogue.star:
        origin = f"{spec.name}.yml"
        when = _condition(origin, (spec.reads or {}).get(table)) if table in spec.depends_on else ()
        if table in spec.depends_on:
            for check in spec.checks:
                _derive(spec, table, check, when, add)
        for entry in spec.staging_rules:
            kind, arg = next((k, v) for k, v in entry.items() if k in ("range", "vocabulary"))
            target, _, column = str(arg["column"]).rpartition(".")
            if target != table:
                continue
            if kind == "range":
                bounds = tuple((k, arg[k]) for k in _BOUNDS if k in arg)
                add(Rule(column, "range", f"{origin}: staging_rules range({column})", bounds=bounds, when=when))
            else:
                values = tuple(str(v) for v in arg["values"])
                add(Rule(column, "vocabulary", f"{origin}: staging_rules vocabulary({column})", values=values))
    return list(rules.values())


def _derive(spec: TableSpec, table: str, check: dict, when: tuple, add: Any) -> None:
    origin = f"{spec.name}.yml"
    if "not_null" in check:
        columns = check["not_null"]
        for column in [columns] if isinstance(columns, str) else columns:
            for source in _single_source(spec, column, table):
                if (source, (None,)) in when:
                    continue  # the model reads only rows where it has a value
                add(Rule(source, "not_null", f"{origin}: not_null({column})", when=when))
    elif "range" in check:
        arg = check["range"]
        sources = _single_source(spec, arg["column"], table, as_is=True)
        if len(sources) == 1:
            bounds = tuple((k, arg[k]) for k in _BOUNDS if k in arg)
            add(Rule(sources[0], "range", f"{origin}: range({arg['column']})", bounds=bounds, when=when))
    elif "accepted_values" in check:
        arg = check["accepted_values"]
        sources = _single_source(spec, arg["column"], table, as_is=True)
        if len(sources) == 1:
            values = tuple(str(v) for v in arg["values"])
            add(Rule(sources[0], "vocabulary", f"{origin}: accepted_values({arg['column']})", values=values))
