"""The reference COPY JSON encoder: :class:`RowEncoder`, a record at a time, with Python's ``json``.

It applies the rules stated in :mod:`sparkify.staging.json_copy` value by value (about 45 µs a row) and
raises the exact ``StagingDataError`` naming object, line and field; ``json_stream.StreamEncoder`` gives
the same rows and errors faster, and hands it every piece it cannot prove it would encode the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping, StagingDataError, iter_records
from sparkify.staging.rules import RuleViolation

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sparkify.staging.json_copy import Reject, Truncated
    from sparkify.staging.rules import RecordRules

_EPOCH = dt.datetime(1970, 1, 1)
_MIN_MILLIS = (dt.datetime.min - _EPOCH) // dt.timedelta(milliseconds=1)
_MAX_MILLIS = (dt.datetime.max - _EPOCH) // dt.timedelta(milliseconds=1)
_INT_RANGES = {"smallint": 2**15, "integer": 2**31, "bigint": 2**63}
_FLOAT_TYPES = {"double precision", "real", "numeric"}
_TEXT_TYPES = {"character varying", "text", "character"}


class RowEncoder:
    """Turns mapped JSON values into lines of PostgreSQL's COPY text format."""

    def __init__(self, mapping: JsonMapping, options: CopyOptions) -> None:
        self.mapping = mapping
        self.options = options
        self.converters = [self._converter(c) for c in mapping.columns]
        self._truncated: Truncated | None = None
        self._line = 0

    def encode(self, text: str, where: str, extra: Sequence[str] = ()) -> tuple[list[str], int]:
        """Encode every record of one object; returns (COPY lines, record count)."""
        lines = self.encode_records(iter_records(text, where), where, copy_suffix(extra))
        return lines, len(lines)

    def encode_records(
        self,
        records: Iterable[tuple[int, dict]],
        where: str,
        suffix: str,
        reject: Reject | None = None,
        rules: RecordRules | None = None,
        truncated: Truncated | None = None,
    ) -> list[str]:
        """Encode ``(line, object)`` pairs into COPY lines, each ending in ``suffix``. A record with a value
        its column cannot hold, or that breaks one of ``rules`` (what the models need of it, see
        ``sparkify.staging.rules``), fails naming object, line, field and value, or, with ``reject``, is
        handed to it and left out. ``truncated`` is told of each value cut to its column's length."""
        converters = self.converters
        extract = self.mapping.extract
        lines = []
        self._truncated = truncated
        for line_no, record in records:
            values = extract(record)
            self._line = line_no
            try:
                cells = [convert(value) for convert, value in zip(converters, values, strict=True)]
                if rules is not None:
                    cells = rules.apply(values, cells)
            except RuleViolation as violation:
                path, column = self.mapping.describe[violation.index], self.mapping.columns[violation.index].name
                if reject is None:
                    raise StagingDataError(
                        f"{where}, line {line_no}, field {path} (column {column}): {violation}"
                    ) from None
                reject(line_no, path, f"column {column}: {violation}", json.dumps(record, ensure_ascii=False))
                continue
            except (TypeError, ValueError, OverflowError):
                self._truncated = None  # converting again to find the field: no truncation counted twice
                path, column, error = self._failing_field(values)
                self._truncated = truncated
                if reject is None:
                    raise StagingDataError(
                        f"{where}, line {line_no}, field {path} (column {column}): {error}"
                    ) from None
                reject(line_no, path, f"column {column}: {error}", json.dumps(record, ensure_ascii=False))
                continue
            lines.append("\t".join(cells) + suffix)
        return lines

    def _failing_field(self, values: list[Any]) -> tuple[str, str, Exception]:
        """The value that failed to convert: its path, column and error (the fast path does not track it)."""
        for value, convert, column, path in zip(
            values, self.converters, self.mapping.columns, self.mapping.describe, strict=True
        ):
            try:
                convert(value)
            except (TypeError, ValueError, OverflowError) as error:
                return path, column.name, error
        raise AssertionError("a conversion failed, then succeeded")  # pragma: no cover

    def _converter(self, column: Column):  # noqa: C901 - one branch per column type reads best
        options = self.options
        data_type = column.data_type
        limit = _INT_RANGES.get(data_type, 2**63)

        def text_value(value: Any) -> str:
            if type(value) is not str:  # the common case, a JSON string, skips these checks
                if value is None:
                    return r"\N"
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif isinstance(value, (dict, list)):
                    value = json.dumps(value, ensure_ascii=False)
                else:
                    value = json.dumps(value)
            if (not value or value[0].isspace() or value[-1].isspace()) and (
                (value == "" and options.empty_as_null) or (options.blanks_as_null and value and not value.strip())
            ):
                return r"\N"
            if column.max_length and len(value) > column.max_length:
                if not options.truncate_columns:
                    raise ValueError(f"{len(value)} characters do not fit varchar({column.max_length})")
                if self._truncated is not None:
                    self._truncated(self._line, column.name, len(value), value)
                value = value[: column.max_length]
            return _escape(value) if _NEEDS_ESCAPE(value) else value

        def integer_value(value: Any) -> str:
            if type(value) is int and -limit <= value < limit:
                return str(value)
            if value is None or (value == "" and options.empty_as_null):
                return r"\N"
            if isinstance(value, bool):
                raise TypeError(f"expected an integer, got {json.dumps(value)}")
            if (isinstance(value, float) and value.is_integer()) or (
                isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value)
            ):
                value = int(value)
            if not isinstance(value, int):
                raise TypeError(f"expected an integer, got {json.dumps(value, ensure_ascii=False)}")
            if not -limit <= value < limit:
                raise ValueError(f"{value} is out of range for {data_type}")
            return str(value)

        def float_value(value: Any) -> str:
            if type(value) is float:
                return repr(value)
            if value is None or (value == "" and options.empty_as_null):
                return r"\N"
            if isinstance(value, bool):
                raise TypeError(f"expected a number, got {json.dumps(value)}")
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise TypeError(f"expected a number, got {json.dumps(value, ensure_ascii=False)}") from None
            if not isinstance(value, (int, float)):
                raise TypeError(f"expected a number, got {json.dumps(value, ensure_ascii=False)}")
            return repr(value) if isinstance(value, float) else str(value)

        def timestamp_value(value: Any) -> str:
            if value is None or (value == "" and options.empty_as_null):
                return r"\N"
            try:
                millis = integer_value(value) if not isinstance(value, float) else value
                moment = _EPOCH + dt.timedelta(milliseconds=float(millis))
            except (TypeError, ValueError):
                raise TypeError(f"expected epoch milliseconds, got {json.dumps(value, ensure_ascii=False)}") from None
            except OverflowError:
                # timedelta's and datetime's own texts ("days=...; must have magnitude <= 999999999") say nothing
                raise ValueError(
                    f"{json.dumps(value, ensure_ascii=False)} epoch milliseconds is out of range for a timestamp"
                    f" ({_MIN_MILLIS} to {_MAX_MILLIS}, years 1 to 9999)"
                ) from None
            return moment.isoformat(sep=" ")

        def boolean_value(value: Any) -> str:
            if value is None:
                return r"\N"
            if not isinstance(value, bool):
                raise TypeError(f"expected true or false, got {json.dumps(value, ensure_ascii=False)}")
            return "t" if value else "f"

        if data_type in _INT_RANGES:
            return integer_value
        if data_type in _FLOAT_TYPES:
            return float_value
        if data_type.startswith("timestamp"):
            return timestamp_value
        if data_type == "boolean":
            return boolean_value
        if data_type in _TEXT_TYPES:
            return text_value
        raise ValueError(f"column {column.name}: type {data_type} is not supported by the JSON load")


def copy_suffix(extra: Sequence[str]) -> str:
    """The end of every COPY line of an object: its constant ``extra`` cells, then the newline."""
    return "".join("\t" + _escape(v) for v in extra) + "\n"


_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r\x00]").search


def _escape(value: str) -> str:
    """Escape a value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace("\x00", "")
    )
