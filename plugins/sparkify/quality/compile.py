"""Compile the checks declared in ``sql/models/<table>.yml`` into :class:`~sparkify.quality.check.Check`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sparkify.models.catalogue import CatalogueError, load_catalogue, read_table_spec
from sparkify.quality.check import CADENCES, SCOPES, SEVERITIES, Check, CheckDefinitionError
from sparkify.quality.kinds import KINDS, CheckContext, columns_of

WARN_BY_DEFAULT = ("freshness", "volume", "quarantined")

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from sparkify.models.catalogue import TableSpec


def compile_check(
    ctx: CheckContext, spec: dict[str, Any], default_scope: str = "table", primary_key: Sequence[str] = ()
) -> list[Check]:
    """Compile one check of a file: its kind's builder with the common settings.

    A check's scope is its own ``scope``, else ``window`` for custom SQL that uses the window, else the
    file's ``check_scope`` (``table`` by default). Checks that the table's ``primary_key`` implies
    (``unique`` on it, ``not_null`` on one of its columns) are marked :attr:`Check.implied_by_key`.
    """
    spec = dict(spec)
    custom_sql = " ".join(str(v) for v in (spec.get("custom") or {}).values())
    windowed = "{window" in custom_sql or "%(window_" in custom_sql
    # health checks (volume, quarantine, freshness: sparkify.quality.health) warn unless told otherwise
    default_severity = "warn" if set(spec) & set(WARN_BY_DEFAULT) else "error"
    common = {
        "severity": spec.pop("severity", default_severity),
        "scope": spec.pop("scope", "window" if windowed else default_scope),
    }
    cadence = spec.pop("cadence", "hourly")
    name = spec.pop("name", None)
    if len(spec) != 1:
        raise CheckDefinitionError(f"{ctx.origin}: a check needs exactly one kind, got {sorted(spec)}")
    kind, arg = next(iter(spec.items()))
    if kind not in KINDS:
        raise CheckDefinitionError(f"{ctx.origin}: unknown check kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    if common["severity"] not in SEVERITIES:
        raise CheckDefinitionError(f"{ctx.origin}: {kind}: severity must be one of {SEVERITIES}")
    if common["scope"] not in SCOPES:
        raise CheckDefinitionError(f"{ctx.origin}: {kind}: scope must be one of {SCOPES}")
    if cadence not in CADENCES:
        raise CheckDefinitionError(f"{ctx.origin}: {kind}: cadence must be one of {CADENCES}")
    return [
        replace(check, kind=kind, cadence=cadence, implied_by_key=_implied_by_key(kind, arg, check, primary_key, ctx))
        for check in KINDS[kind](ctx, arg, name, common)
    ]


def _implied_by_key(kind: str, arg: Any, check: Check, primary_key: Sequence[str], ctx: CheckContext) -> bool:
    if not primary_key:
        return False
    if kind == "unique":
        return set(columns_of(arg, ctx.origin)) == set(primary_key)
    return kind == "not_null" and check.column in primary_key


def compile_table_checks(table: TableSpec) -> list[Check]:
    """Every check declared for one catalogued table."""
    ctx = CheckContext(table.name, table.time_column, str(table.path or table.name))
    checks: list[Check] = []
    for number, spec in enumerate(table.checks, start=1):
        if not isinstance(spec, dict):
            raise CheckDefinitionError(f"{ctx.origin}: check {number} is not a mapping")
        checks.extend(compile_check(ctx, spec, table.check_scope, table.primary_key))
    return checks + vocabulary_checks(table)


def vocabulary_checks(table: TableSpec) -> list[Check]:
    """A warn-level check per ``staging_rules`` vocabulary of ``table``: the staged values outside it.

    Staging normalises such a column (``sparkify.staging.rules``) and keeps a value it does not know,
    so that nothing is dropped without a word: this check counts those values (in the run's window when
    the entry names the staging table's time column as ``window``) and shows a few."""
    checks = []
    for entry in table.staging_rules:
        arg = entry.get("vocabulary")
        if not arg:
            continue
        staged, _, column = str(arg["column"]).rpartition(".")
        window = arg.get("window")
        ctx = CheckContext(staged, window, str(table.path or table.name))
        common = {"severity": "warn", "scope": "window" if window else "table"}
        name = f"staged_vocabulary({staged}.{column})"
        for check in KINDS["accepted_values"](ctx, {"column": column, "values": arg["values"]}, name, common):
            # reported with the model that relies on the vocabulary (its lineage, its asset's summary)
            checks.append(replace(check, table=table.name, kind="accepted_values", column=None))
    return checks


def load_table_checks(path: str | Path) -> list[Check]:
    """Read and compile one ``<table>.yml``."""
    try:
        return compile_table_checks(read_table_spec(path))
    except CatalogueError as error:
        raise CheckDefinitionError(str(error)) from None


def load_checks(tables: Iterable[str] | None = None) -> list[Check]:
    """Every check of ``tables`` (all star tables by default), from the catalogue."""
    catalogue = load_catalogue()
    names: Sequence[str] = list(tables) if tables is not None else catalogue.star_names
    checks: list[Check] = []
    for name in names:
        spec = catalogue.spec(name)
        if spec is None:
            raise CheckDefinitionError(f"no checks file for table {name}: sql/models/{name}.yml")
        checks.extend(compile_table_checks(spec))
    return checks
