"""Where a COPY'd record that breaks a staging rule came from, on Redshift: its object and line.

A row that Redshift's COPY put in a table keeps neither its object nor its line, and a manifest's rows
cannot be told apart by object at all. So when the rules in SQL (:mod:`sparkify.staging.rules_sql`) find
broken rows in a unit, the unit's objects are read back from S3 (only then: a unit whose rows all hold reads
nothing) and every record is checked again with the same rules in Python
(:class:`~sparkify.staging.rules.RecordRules`), as the PostgreSQL path checks them. Each broken record found
so carries its object, its line, its field (the JSONPath, as on PostgreSQL) and the same reason, so both
targets fail with the same message and quarantine the same rows.

The caller trusts what is found here only when it counts as many broken records as the SQL found; otherwise
(an object changed since the COPY, unreadable) it says that the line is unknown rather than guess.
"""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkify.staging.compression import GZIP, MAGIC_BYTES, compression_of
from sparkify.staging.json_copy import BOM, CopyOptions, _follow, iter_records
from sparkify.staging.row_encoder import RowEncoder
from sparkify.staging.rules import RuleViolation

if TYPE_CHECKING:
    from sparkify.sources import Source, SourceObject
    from sparkify.staging.json_copy import JsonMapping
    from sparkify.staging.rules import StagingRules


@dataclass(frozen=True)
class Broken:
    """A record breaking a staging rule: its object's key, line, field (JSONPath), column and why."""

    key: str
    line: int
    path: str
    column: str
    why: str  # the value and the rule: ``null: a value is needed (songplays.yml: not_null(songplay_id))``
    record: str

    @property
    def reason(self) -> str:
        """The quarantine's reason, as the PostgreSQL path writes it."""
        return f"column {self.column}: {self.why}"


def broken_records(
    source: Source,
    objects: list[SourceObject],
    mapping: JsonMapping,
    rules: StagingRules,
    *,
    auto: bool,
    workers: int = 4,
) -> list[Broken]:
    """Every record of ``objects`` that converts as COPY converts it but breaks one of ``rules``, in key and
    line order. Records that do not convert are not listed: COPY rejected them already. With a JSONPaths
    document (not ``auto``), COPY reads a record that is no object (``[1, 2]``) too, each path finding
    nothing: so is it read here."""

    def check(obj: SourceObject) -> list[Broken]:
        compiled = rules.for_object(obj.key, mapping.columns, mapping.describe)
        if compiled is None:
            return []
        body = source.read(obj.key)
        if compression_of(body[:MAGIC_BYTES], where=source.locate(obj.key)) == GZIP:  # as staging detects it
            body = gzip.decompress(body)
        # COPY rejected a BOM's line and bytes that are not UTF-8 already: the other records are what count
        text = body.decode("utf-8", errors="replace").removeprefix(BOM)
        encoder = RowEncoder(mapping, CopyOptions())
        found = []
        not_objects: list[tuple[int, Any]] = []

        def rejected(line: int, _path: str | None, reason: str, text: str) -> None:
            if not auto and reason.startswith("expected a JSON object"):
                not_objects.append((line, json.loads(text)))

        records = [*iter_records(text, source.locate(obj.key), reject=rejected)]
        for line, record in sorted([*records, *not_objects], key=lambda pair: pair[0]):
            if isinstance(record, dict):
                values = mapping.extract(record)
            else:
                values = [_follow(record, path) for path in mapping.paths]
            try:
                cells = [convert(value) for convert, value in zip(encoder.converters, values, strict=True)]
            except (TypeError, ValueError, OverflowError):
                continue
            try:
                compiled.apply(values, cells)
            except RuleViolation as violation:
                column = mapping.columns[violation.index].name
                text_of = json.dumps(record, ensure_ascii=False)
                found.append(Broken(obj.key, line, mapping.describe[violation.index], column, str(violation), text_of))
        return found

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="locate") as pool:
        return [broken for found in pool.map(check, objects) for broken in found]
