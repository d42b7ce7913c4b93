"""The one catalogue of the warehouse's tables, read from the files under ``sql/``.

* Every file ``sql/ddl/<table>.sql`` is a table the project creates (staging, star, bookkeeping).
* Every file ``sql/models/<table>.yml`` declares a star table next to its model ``<table>.sql``: its
  kind (fact or dimension), grain, primary key, load mode, time column, the tables it is built from,
  a description per column and the ``table.column`` values it is computed from (``from:``, which the
  loads report as OpenLineage column lineage), and the checks that guard it (see :mod:`sparkify.quality`).

The DAG, ``create_tables``, the report and the tests all read this catalogue, so adding a dimension
means adding its three files (DDL, model, YAML), never editing a list in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sparkify.identifiers import check_identifier
from sparkify.models.sql_files import sql_dir

KINDS = ("fact", "dimension")
LOADS = ("window", "upsert", "truncate-insert", "append")


class CatalogueError(ValueError):
    """A catalogue file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a star table; ``sources`` are the ``table.column`` its values are computed from
    (the YAML's ``from:``), which the loads report as OpenLineage column lineage."""

    name: str
    description: str = ""
    sources: tuple[str, ...] = ()
    #: a function of its sources (``extract(hour from ts)``), not their value: its range checks do not
    #: apply to the staged column (``sparkify.staging.catalogue_rules``)
    computed: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One star table as its ``sql/models/<table>.yml`` declares it."""

    name: str
    kind: str
    grain: str
    primary_key: tuple[str, ...]
    load: str
    depends_on: tuple[str, ...]
    description: str = ""
    time_column: str | None = None
    columns: tuple[ColumnSpec, ...] = ()
    checks: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    #: the scope of checks that name none: ``window`` keeps an hourly run's checks to its own rows
    check_scope: str = "table"
    #: the staged rows the model reads, per staging table (``{column: value}``): its staging rules apply
    #: to those rows only (see :mod:`sparkify.staging.rules`)
    reads: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: requirements on staged columns that no model column shows (``range``, ``vocabulary``)
    staging_rules: tuple[dict[str, Any], ...] = field(default=(), compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)

    @property
    def model(self) -> str:
        """The model's path under ``sql/``."""
        return f"models/{self.name}.sql"


def read_table_spec(path: str | Path) -> TableSpec:
    """Read one ``sql/models/<table>.yml``; raise :class:`CatalogueError` naming the file and key."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CatalogueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise CatalogueError(f"{path}: expected a mapping with table, kind, grain, primary_key, load")

    def required(key: str) -> Any:
        if document.get(key) in (None, "", []):
            raise CatalogueError(f"{path}: missing {key!r}")
        return document[key]

    def identifiers(key: str, what: str) -> tuple[str, ...]:
        value = document.get(key) or []
        values = [value] if isinstance(value, str) else list(value)
        try:
            return tuple(check_identifier(v, what) for v in values)
        except ValueError as error:
            raise CatalogueError(f"{path}: {key}: {error}") from None

    name = required("table")
    kind, load = required("kind"), required("load")
    time_column = document.get("time_column")
    primary_key = identifiers("primary_key", "column")
    depends_on = identifiers("depends_on", "table")
    checks = document.get("checks") or []
    _validate(path, name=name, kind=kind, load=load, time_column=time_column, primary_key=primary_key, checks=checks)
    return TableSpec(
        name=check_identifier(name),
        kind=kind,
        grain=str(required("grain")),
        primary_key=primary_key,
        load=load,
        depends_on=depends_on,
        description=str(document.get("description") or ""),
        time_column=check_identifier(time_column, "column") if time_column else None,
        columns=tuple(_column(path, c, depends_on) for c in document.get("columns") or []),
        checks=tuple(checks),
        check_scope=str(document.get("check_scope") or "table"),
        reads=_reads(path, document.get("reads"), depends_on),
        staging_rules=_staging_rules(path, document.get("staging_rules"), depends_on),
        path=path,
    )


def _reads(path: Path, reads: Any, depends_on: tuple[str, ...]) -> dict[str, Any]:
    """``reads:``: per table the model depends on, the ``{column: value}`` its rows must match."""
    if not reads:
        return {}
    if not isinstance(reads, dict) or not all(isinstance(v, dict) for v in reads.values()):
        raise CatalogueError(f"{path}: reads: expected {{table: {{column: value}}}}")
    for table in reads:
        if table not in depends_on:
            raise CatalogueError(f"{path}: reads: {table!r} is not one of depends_on ({', '.join(depends_on)})")
    return dict(reads)


def _staging_rules(path: Path, entries: Any, depends_on: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """``staging_rules:``: ``range`` or ``vocabulary`` entries on ``table.column`` of a table depended on."""
    if not entries:
        return ()
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: staging_rules must be a list")
    for entry in entries:
        kinds = [k for k in (entry if isinstance(entry, dict) else {}) if k in ("range", "vocabulary")]
        if len(kinds) != 1 or not isinstance(entry[kinds[0]], dict):
            raise CatalogueError(f"{path}: staging_rules: each entry is one of range, vocabulary, got {entry!r}")
        arg = entry[kinds[0]]
        table, _, column = str(arg.get("column", "")).rpartition(".")
        if table not in depends_on or not column:
            raise CatalogueError(f"{path}: staging_rules: {arg.get('column')!r} is not table.column of depends_on")
        if kinds[0] == "vocabulary" and not arg.get("values"):
            raise CatalogueError(f"{path}: staging_rules: vocabulary({column}) needs values")
    return tuple(entries)


def _column(path: Path, entry: Any, depends_on: tuple[str, ...]) -> ColumnSpec:
    """One ``columns:`` entry; ``from`` names ``table.column`` of tables the model depends on."""
    if not isinstance(entry, dict) or not entry.get("name"):
        raise CatalogueError(f"{path}: columns: each entry needs a name")
    name = str(entry["name"])
    sources = entry.get("from") or []
    sources = [sources] if isinstance(sources, str) else list(sources)
    for source in sources:
        table, _, column = str(source).rpartition(".")
        if table not in depends_on:
            raise CatalogueError(f"{path}: column {name}: from {source!r} is not a column of {', '.join(depends_on)}")
        try:
            check_identifier(column, "column")
        except ValueError as error:
            raise CatalogueError(f"{path}: column {name}: from: {error}") from None
    computed = entry.get("computed", False)
    if not isinstance(computed, bool):
        raise CatalogueError(f"{path}: column {name}: computed: expected true or false")
    return ColumnSpec(name, str(entry.get("description") or ""), tuple(str(s) for s in sources), computed)


def _validate(
    path: Path, *, name: str, kind: str, load: str, time_column: Any, primary_key: tuple, checks: Any
) -> None:
    if name != path.stem:
        raise CatalogueError(f"{path}: table {name!r} must match the file name {path.stem!r}")
    if kind not in KINDS:
        raise CatalogueError(f"{path}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if load not in LOADS:
        raise CatalogueError(f"{path}: load {load!r} is not one of {', '.join(LOADS)}")
    if load == "window" and not time_column:
        raise CatalogueError(f"{path}: load 'window' needs time_column")
    if not primary_key:
        raise CatalogueError(f"{path}: missing 'primary_key'")
    if not isinstance(checks, list):
        raise CatalogueError(f"{path}: checks must be a list")


@dataclass(frozen=True)
class Catalogue:
    """Every table of the project: those with DDL, and the star tables with their declarations."""

    ddl_tables: tuple[str, ...]
    star: tuple[TableSpec, ...]

    def __getitem__(self, name: str) -> TableSpec:
        for spec in self.star:
            if spec.name == name:
                return spec
        raise KeyError(f"{name!r} is not a star table of the catalogue ({', '.join(self.star_names)})")

    @property
    def star_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.star)

    @property
    def staging_tables(self) -> tuple[str, ...]:
        return tuple(t for t in self.ddl_tables if t.startswith("staging_") and t != "staging_ledger")

    def spec(self, name: str) -> TableSpec | None:
        """The star table ``name``, or ``None`` for a table that has DDL only."""
        return next((s for s in self.star if s.name == name), None)


def _build_order(specs: list[TableSpec], known: set[str]) -> tuple[TableSpec, ...]:
    """The star tables with each after the star tables it depends on (facts before dimensions on ties)."""
    by_name = {s.name: s for s in specs}
    for spec in specs:
        for dependency in spec.depends_on:
            if dependency not in known:
                raise CatalogueError(f"{spec.path}: depends_on names {dependency!r}, which has no sql/ddl file")
    ordered: list[TableSpec] = []
    visiting: set[str] = set()

    def visit(spec: TableSpec) -> None:
        if spec in ordered:
            return
        if spec.name in visiting:
            raise CatalogueError(f"{spec.path}: depends_on forms a cycle through {spec.name!r}")
        visiting.add(spec.name)
        for dependency in spec.depends_on:
            if dependency in by_name:
                visit(by_name[dependency])
        visiting.discard(spec.name)
        ordered.append(spec)

    for spec in sorted(specs, key=lambda s: (KINDS.index(s.kind), s.name)):
        visit(spec)
    return tuple(ordered)


@lru_cache(maxsize=4)
def _load(root: str) -> Catalogue:
    folder = Path(root)
    ddl_tables = tuple(sorted(p.stem for p in (folder / "ddl").glob("*.sql")))
    specs = [read_table_spec(p) for p in sorted((folder / "models").glob("*.yml"))]
    for spec in specs:
        if spec.name not in ddl_tables:
            raise CatalogueError(f"{spec.path}: table {spec.name!r} has no sql/ddl/{spec.name}.sql")
        if not (folder / spec.model).is_file():
            raise CatalogueError(f"{spec.path}: table {spec.name!r} has no sql/{spec.model}")
    return Catalogue(ddl_tables=ddl_tables, star=_build_order(specs, set(ddl_tables)))


def load_catalogue(root: str | Path | None = None) -> Catalogue:
    """The catalogue of ``root`` (the project's ``sql/`` folder by default); read once per process."""
    return _load(str(Path(root) if root else sql_dir()))
