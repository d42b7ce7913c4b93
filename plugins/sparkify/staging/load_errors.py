"""What a Redshift COPY rejected, read back for :class:`~sparkify.staging.s3_copy.S3CopyStager`.

A provisioned cluster keeps load errors in ``STL_LOAD_ERRORS``; Redshift Serverless in
``SYS_LOAD_ERROR_DETAIL``. A failed unit's error names object, line, field and value from there; under the
quarantine policy, the records a COPY with MAXERROR skipped are written to the quarantine.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sparkify.staging.json_copy import JsonMapping, StagingDataError
from sparkify.staging.rule_lines import broken_records
from sparkify.staging.rules_sql import enforce_in_sql, record_text, unlocated

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from sparkify.sources import S3Source, SourceObject
    from sparkify.staging.json_copy import Column
    from sparkify.staging.quarantine import Quarantine
    from sparkify.staging.request import StageRequest
    from sparkify.warehouses.base import Warehouse

# What a COPY rejected, on a provisioned cluster: STL_LOAD_ERRORS, by the session's last COPY
_LOAD_ERRORS = (
    "select filename, line_number, colname, type, raw_field_value, err_reason"
    " from stl_load_errors where query = pg_last_copy_id() order by line_number limit 5"
)
# the records a COPY with MAXERROR skipped (the quarantine policy): every one of them
_SKIPPED_RECORDS = (
    "select filename, line_number, colname, err_reason, raw_line"
    " from stl_load_errors where query = pg_last_copy_id() order by filename, line_number"
)
# On Redshift Serverless the STL tables hold nothing: SYS_LOAD_ERROR_DETAIL is the view there. It has no
# raw_line nor raw_field_value (error_message carries the value), and its query_id is not assumed to be
# pg_last_copy_id(): rows are this session's (session_id is the backend's pid) since the COPY began,
# by the server's own clock (GETDATE() just before the COPY). Each unit has a session of its own.
_SERVERLESS_LOAD_ERRORS = (
    "select file_name, line_number, column_name, column_type, null, error_message from sys_load_error_detail"
    " where session_id = pg_backend_pid() and start_time >= %s order by line_number limit 5"
)
_SERVERLESS_SKIPPED_RECORDS = (
    "select file_name, line_number, column_name, error_message, null from sys_load_error_detail"
    " where session_id = pg_backend_pid() and start_time >= %s order by file_name, line_number"
)
_RECORD_CHARS = 4000


class LoadErrors:
    """The load-error reading of :class:`~sparkify.staging.s3_copy.S3CopyStager` (a mixin: the stager
    sets these attributes)."""

    warehouse: Warehouse
    request: StageRequest
    source: S3Source
    s3: S3Hook
    quarantine: Quarantine
    counts: dict[str, int]

    @property
    def serverless(self) -> bool:
        """Whether the warehouse is Redshift Serverless (no STL tables): the warehouse class says."""
        return bool(getattr(self.warehouse, "serverless", False))

    def _load_errors(self, cursor: Any, began: Any, *, skipped: bool) -> list[tuple]:
        """The load errors of the unit's COPY, from the system table the warehouse has."""
        if self.serverless:
            cursor.execute(_SERVERLESS_SKIPPED_RECORDS if skipped else _SERVERLESS_LOAD_ERRORS, (began,))
        else:
            cursor.execute(_SKIPPED_RECORDS if skipped else _LOAD_ERRORS)
        return cursor.fetchall()

    def _record_text(self, uri: str, line: int, texts: dict[str, list[str]]) -> str:
        """Line ``line`` of the object ``uri``, read from S3 (SYS_LOAD_ERROR_DETAIL keeps no raw line)."""
        if uri not in texts:
            parsed = urlparse(uri)
            try:
                body = self.s3.read_key(key=parsed.path.lstrip("/"), bucket_name=parsed.netloc)
            except Exception:  # the record's text is a help, never a reason to fail the load
                body = ""
            texts[uri] = body.splitlines()
        lines = texts[uri]
        return lines[line - 1][:_RECORD_CHARS] if 0 < line <= len(lines) else ""

    def _quarantine_skipped(self, cursor: Any, objects: list[SourceObject], began: Any) -> None:
        """Write the records the COPY just skipped to the quarantine, in the unit's transaction."""
        key_of = {self.source.locate(o.key): o.key for o in objects}
        texts: dict[str, list[str]] = {}
        for filename, line, column, reason, raw in self._load_errors(cursor, began, skipped=True):
            uri = str(filename).strip()
            key = key_of.get(uri, uri)
            reject = self.quarantine.rejecter(key, uri)
            assert reject is not None  # only called under the quarantine policy
            record = str(raw or "").strip() if raw is not None else self._record_text(uri, int(line), texts)
            reject(int(line), self._path_of(str(column or "").strip()) or None, str(reason).strip(), record)
        self.counts["records_quarantined"] += self.quarantine.write(cursor, list(self.quarantine.pending))

    # -- the staging rules on the COPY'd rows, named by object and line ------------------------------------

    def _mapping(self, columns: list[Column] | None = None) -> JsonMapping | None:
        """How records map onto the staging columns (the JSONPaths document, read once); None if unreadable."""
        mapping = getattr(self, "_json_mapping", None)
        if mapping is None and columns is not None:
            request = self.request
            try:
                document = None if request.auto_format else json.loads(self.source.read(request.json_format))
                mapping = JsonMapping(columns, request.json_format, document)
            except Exception:  # naming the field by its path is a help: the column's name says it too
                return None
            self._json_mapping = mapping
        return mapping

    def _path_of(self, column: str) -> str:
        """The JSONPath a staging column is read from (PostgreSQL's errors name it so), else the column."""
        mapping = self._mapping()
        if mapping is None or column not in (names := [c.name for c in mapping.columns]):
            return column
        return mapping.describe[names.index(column)]

    def _enforce_rules(
        self, cursor: Any, relation: str, unit: str, objects: list[SourceObject], columns: list[Column]
    ) -> None:
        """What the models need of each record (``sparkify.staging.rules``), on the unit's COPY'd rows in
        ``relation``: a broken one fails the unit, or goes to the quarantine, named by its own object and line."""
        rules = self.request.rules
        if rules is None:
            return
        found = enforce_in_sql(cursor, relation, [c.name for c in columns], rules.rules_of(objects[0].key))
        if not found:
            return
        mapping = self._mapping(columns)
        options = self.request.options
        try:
            located = (
                []
                if mapping is None
                else broken_records(
                    self.source, objects, mapping, rules, auto=self.request.auto_format, workers=options.max_workers
                )
            )
        except Exception:  # the objects cannot be read back: the error says the line is unknown
            located = []
        quarantines = self.quarantine.policy.quarantines
        if len(located) == len(found):
            if not quarantines:
                first = located[0]
                raise StagingDataError(
                    f"{self.source.locate(first.key)}, line {first.line}, field {first.path} (column {first.column}):"
                    f" {first.why}"
                )
            for broken in located:
                reject = self.quarantine.rejecter(broken.key, self.source.locate(broken.key))
                reject(broken.line, broken.path, broken.reason, broken.record)  # type: ignore[misc]
        else:
            where = self.source.locate(unit) if len(objects) == 1 else f"{unit} ({len(objects)} objects)"
            if not quarantines:
                raise StagingDataError(unlocated(where, found[0]))
            reject = self.quarantine.rejecter(objects[0].key if len(objects) == 1 else unit, where)
            for row in found:
                reason = f"line unknown: column {row.rule.column}: {row.why}"
                reject(None, row.rule.column, reason, record_text(row))  # type: ignore[misc, arg-type]
        self.counts["records_quarantined"] += self.quarantine.write(cursor, list(self.quarantine.pending))

    def _field(self, column: str | None, kind: str | None) -> str:
        """``, field $['path'] (column name, type)`` for a rejection Redshift tied to a column; nothing for a
        whole record's."""
        name, type_name = str(column or "").strip(), str(kind or "").strip()
        if not name:
            return ""
        path = self._path_of(name)
        column_text = ", ".join(t for t in (f"column {name}" if path != name else "", type_name) if t)
        return f", field {path} ({column_text})" if column_text else f", field {path}"


def _value(value: str | None) -> str:
    text = str(value or "").strip()
    return f" (value {text!r})" if text else ""
