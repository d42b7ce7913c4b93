"""What a Redshift COPY rejected, read back for :class:`~sparkify.staging.s3_copy.S3CopyStager`.

A provisioned cluster keeps load errors in ``STL_LOAD_ERRORS``; Redshift Serverless in
``SYS_LOAD_ERROR_DETAIL``. A failed unit's error names object, line, field and value from there; under the
quarantine policy, the records a COPY with MAXERROR skipped are written to the quarantine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from sparkify.sources import S3Source, SourceObject
    from sparkify.staging.quarantine import Quarantine
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
            reject(int(line), str(column or "").strip() or None, str(reason).strip(), record)
        self.counts["records_quarantined"] += self.quarantine.write(cursor, list(self.quarantine.pending))


def _field(column: str | None, kind: str | None) -> str:
    """``, field name (type)`` for a rejection Redshift tied to a column; nothing for a whole record's."""
    name, type_name = str(column or "").strip(), str(kind or "").strip()
    if not name:
        return ""
    return f", field {name} ({type_name})" if type_name else f", field {name}"


def _value(value: str | None) -> str:
    text = str(value or "").strip()
    return f" (value {text!r})" if text else ""
