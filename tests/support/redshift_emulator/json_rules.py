"""Redshift's COPY ... FORMAT AS JSON rules, in a small implementation of the emulator's own.

Written from AWS's documentation ("COPY from JSON format", "JSONPaths", "Data conversion parameters",
"Load error reference"), independently of the pipeline's own ``sparkify.staging.json_copy``, so that the two
can check each other. What it implements:

* records: a stream of JSON objects (or arrays, for JSONPaths) separated by white space, one or many
  per line or spread over lines; a record's line number is the LAST line of the record, as
  ``stl_load_errors.line_number`` documents for JSON;
* ``'auto'``: a column takes the value of the top-level key of the same name (case-sensitive, and
  Redshift's column names are lower case); ``'auto ignorecase'``: the key matched case-insensitively;
* JSONPaths: one expression per column, in order (``$['a']['b']``, ``$.a.b``, ``$.a[0]``); a path
  that leads nowhere loads NULL; a count that differs from the column count fails the whole COPY;
* conversions per column type, with the options EMPTYASNULL, BLANKSASNULL, TRUNCATECOLUMNS,
  TIMEFORMAT (``'epochmillisecs'``, ``'epochsecs'``, ``'auto'`` or the default format), DATEFORMAT;
  a nested object or array loaded into a character column is its JSON text.

A value that does not fit fails its record with a :class:`LoadError` carrying Redshift's error code
(1204 range/length, 1205 date, 1206 timestamp, 1207 digits, 1208 float, 1209 decimal, 1210 boolean,
1213 NOT NULL, 1216 invalid input line).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

MISSING = object()

_INT_RANGES = {
    "int2": (-(2**15), 2**15 - 1, "Short"),
    "int4": (-(2**31), 2**31 - 1, "Integer"),
    "int8": (-(2**63), 2**63 - 1, "Long"),
}
_TRUE = {"t", "true", "1", "y", "yes"}
_FALSE = {"f", "false", "0", "n", "no"}
_EPOCH = dt.datetime(1970, 1, 1)  # Redshift's TIMESTAMP has no time zone


class JsonNumber(str):
    """A JSON number kept as the text the file holds, as Redshift loads a number into a VARCHAR."""

    __slots__ = ()


def _is_string(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, JsonNumber)


class LoadError(Exception):
    """One record that cannot be loaded, described as ``stl_load_errors`` describes it."""

    def __init__(self, code: int, reason: str, column: Column | None = None, raw_value: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.column = column
        self.raw_value = raw_value


class CopyError(Exception):
    """The whole COPY fails before any record (bad JSONPaths file, missing object, ...)."""


@dataclass(frozen=True)
class Column:
    """A target column as the catalog describes it."""

    name: str
    type_name: str  # pg_type.typname: int4, varchar, timestamp, ...
    type_mod: int = -1  # pg_attribute.atttypmod
    not_null: bool = False
    has_default: bool = False

    @property
    def char_length(self) -> int | None:
        if self.type_name in ("varchar", "bpchar") and self.type_mod >= 4:
            return self.type_mod - 4
        return None

    @property
    def numeric_scale(self) -> tuple[int, int] | None:
        if self.type_name == "numeric" and self.type_mod >= 4:
            mod = self.type_mod - 4
            return (mod >> 16) & 0xFFFF, mod & 0xFFFF
        return None

    @property
    def redshift_type(self) -> str:
        """The type's name as ``stl_load_errors.type`` spells it (at most 10 characters)."""
        names = {
            "int2": "int2",
            "int4": "int4",
            "int8": "int8",
            "float4": "float4",
            "float8": "float8",
            "numeric": "numeric",
            "bool": "bool",
            "varchar": "varchar",
            "bpchar": "char",
            "text": "varchar",
            "timestamp": "timestamp",
            "timestamptz": "timestamptz",
            "date": "date",
        }
        return names.get(self.type_name, self.type_name)[:10]


@dataclass(frozen=True)
class Options:
    """The data conversion options of one COPY."""

    json_format: str = "auto"  # 'auto', 'auto ignorecase', or the JSONPaths document's paths
    jsonpaths: tuple[str, ...] | None = None
    timeformat: str | None = None
    dateformat: str | None = None
    truncate_columns: bool = False
    blanks_as_null: bool = False
    empty_as_null: bool = False


@dataclass
class Record:
    """One JSON record of a file: its value (or the reason it is not valid JSON) and where it ends."""

    line_number: int
    raw_line: str
    value: Any = None
    invalid: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def records(text: str) -> Iterator[Record]:
    """The top-level JSON values of ``text``, each with the number of the line it ends on.

    After a syntax error, reading resumes on the next line, so one bad line costs one record. ``NaN`` and
    ``Infinity`` are not JSON (Python's parser accepts them, Redshift's does not), and a byte order mark is
    not white space: the record it opens is invalid JSON, as the project's local load rules say
    (``sparkify.staging.json_copy``).
    """
    decoder = json.JSONDecoder(parse_int=JsonNumber, parse_float=JsonNumber, parse_constant=_not_json)
    position, length = 0, len(text)
    line_starts = _line_starts(text)
    while True:
        while position < length and text[position] in " \t\r\n":
            position += 1
        if position >= length:
            return
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            line = _line_of(line_starts, position)
            end_of_line = text.find("\n", position)
            end_of_line = length if end_of_line < 0 else end_of_line
            yield Record(line, text[line_starts[line - 1] : end_of_line], invalid=f"Invalid JSON: {error.msg}")
            position = end_of_line + 1
            continue
        last = _line_of(line_starts, end - 1)
        first_line_start = line_starts[_line_of(line_starts, position) - 1]
        end_of_line = text.find("\n", end)
        yield Record(last, text[first_line_start : length if end_of_line < 0 else end_of_line], value=value)
        position = end


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a JSON value", name, 0)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index >= 0:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def _line_of(line_starts: list[int], offset: int) -> int:
    """1-based line number of ``offset`` (binary search over the line starts)."""
    low, high = 0, len(line_starts) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if line_starts[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low + 1


def parse_jsonpath(expression: str) -> tuple[str | int, ...]:
    """``$['a']["b"].c[0]`` as the steps ``('a', 'b', 'c', 0)``; wildcards and filters are refused."""
    text = expression.strip()
    if not text.startswith("$"):
        raise CopyError(f"Invalid JSONPath format: {expression!r} does not start with '$'")
    steps: list[str | int] = []
    index = 1
    while index < len(text):
        char = text[index]
        if char == ".":
            end = index + 1
            while end < len(text) and text[end] not in ".[":
                end += 1
            name = text[index + 1 : end]
            if not name or name == "*":
                raise CopyError(f"Invalid JSONPath format: {expression!r}")
            steps.append(name)
            index = end
        elif char == "[":
            close = _closing_bracket(text, index, expression)
            inner = text[index + 1 : close].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(inner[1:-1])
            elif inner.isdigit():
                steps.append(int(inner))
            else:
                raise CopyError(f"Invalid JSONPath format: {expression!r}")
            index = close + 1
        else:
            raise CopyError(f"Invalid JSONPath format: {expression!r}")
    return tuple(steps)


def _closing_bracket(text: str, start: int, expression: str) -> int:
    index = start + 1
    quote = None
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return index
        index += 1
    raise CopyError(f"Invalid JSONPath format: {expression!r} has an unclosed '['")


def jsonpaths_from_document(document: str, column_count: int) -> tuple[str, ...]:
    """The paths of a JSONPaths file; their number must equal the number of columns loaded."""
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError as error:
        raise CopyError(f"Invalid JSONPaths file: {error.msg}") from None
    paths = parsed.get("jsonpaths") if isinstance(parsed, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise CopyError("Invalid JSONPaths file: it must be an object whose 'jsonpaths' is a list of strings")
    if len(paths) != column_count:
        raise CopyError(
            f"Number of jsonpaths and the number of columns should match. JSONPath size: {len(paths)},"
            f" Number of columns in table or column list: {column_count}"
        )
    for path in paths:
        parse_jsonpath(path)
    return tuple(paths)


def extract(value: Any, columns: Sequence[Column], options: Options) -> list[Any]:
    """The raw JSON value for each column (``MISSING`` where the record has none)."""
    if options.jsonpaths is not None:
        return [_follow(value, parse_jsonpath(path)) for path in options.jsonpaths]
    if not isinstance(value, dict):
        raise LoadError(1216, "Invalid JSON object: 'auto' needs a JSON object", raw_value=_text(value))
    if options.json_format.lower().split() == ["auto", "ignorecase"]:
        folded: dict[str, Any] = {}
        for key, item in value.items():
            folded.setdefault(key.lower(), item)
        return [folded.get(column.name.lower(), MISSING) for column in columns]
    return [value.get(column.name, MISSING) for column in columns]


def _follow(value: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        in_list = isinstance(step, int) and isinstance(value, list) and step < len(value)
        in_object = isinstance(step, str) and isinstance(value, dict) and step in value
        if not (in_list or in_object):
            return MISSING
        value = value[step]
    return value


def convert_row(raw: Sequence[Any], columns: Sequence[Column], options: Options) -> list[str | None]:
    """One record's values as text PostgreSQL reads unchanged, or a :class:`LoadError`."""
    return [convert(value, column, options) for value, column in zip(raw, columns, strict=True)]


def convert(value: Any, column: Column, options: Options) -> str | None:
    if value is MISSING or value is None:
        return _null(column, "")
    kind = column.type_name
    if kind in ("varchar", "bpchar", "text"):
        return _character(value, column, options)
    # COPY loads an empty field of a non-character type as NULL; a blank one too with BLANKSASNULL
    if _is_string(value) and (value == "" or (options.blanks_as_null and value.strip() == "")):
        return _null(column, value)
    if kind in _INT_RANGES:
        return _integer(value, column)
    if kind in ("float4", "float8"):
        return _float(value, column)
    if kind == "numeric":
        return _numeric(value, column)
    if kind == "bool":
        return _boolean(value, column)
    if kind in ("timestamp", "timestamptz"):
        return _timestamp(value, column, options)
    if kind == "date":
        return _date(value, column, options)
    return _text(value)


def _null(column: Column, raw: str) -> None:
    if column.not_null:
        raise LoadError(1213, "Missing data for not-null field", column, raw)
    return None


def _text(value: Any) -> str:
    """A value as text: a string as itself, a number as written in the file, nested values as JSON."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if _is_string(value) else _text(value)


def _character(value: Any, column: Column, options: Options) -> str | None:
    text = _text(value)
    if options.empty_as_null and text == "":
        return _null(column, text)
    if options.blanks_as_null and text != "" and text.strip(" \t\r\n") == "":
        return _null(column, text)
    if "\x00" in text:
        raise LoadError(1220, "String contains invalid or unsupported UTF8 codepoints", column, text)
    limit = column.char_length
    # Redshift measures CHAR/VARCHAR in bytes of UTF-8, not in characters
    if limit is not None and len(text.encode()) > limit:
        if not options.truncate_columns:
            raise LoadError(1204, "String length exceeds DDL length", column, text)
        text = text.encode()[:limit].decode(errors="ignore")
    return text


def _integer(value: Any, column: Column) -> str:
    low, high, name = _INT_RANGES[column.type_name]
    raw = _text(value)
    if isinstance(value, bool | dict | list):
        raise LoadError(1207, f"Invalid digit, Value '{_first_bad_digit(raw)}', Pos 0, Type: {name}", column, raw)
    text = raw.strip() if _is_string(value) else raw
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        raise LoadError(1207, f"Invalid digit, Value '{_first_bad_digit(text)}', Pos 0, Type: {name}", column, raw)
    number = int(text)
    if not low <= number <= high:
        raise LoadError(1204, f"Overflow ({name} valid range {low} to {high})", column, raw)
    return str(number)


def _first_bad_digit(text: str) -> str:
    for char in text.lstrip("+-"):
        if not ("0" <= char <= "9"):
            return char
    return text[:1]


def _float(value: Any, column: Column) -> str:
    raw = _text(value)
    if isinstance(value, bool | dict | list):
        raise LoadError(1208, "Invalid float value", column, raw)
    try:
        number = float(raw)
    except ValueError:
        raise LoadError(1208, "Invalid float value", column, raw) from None
    if math.isinf(number) and not raw.strip().lower().lstrip("+-").startswith("inf"):
        raise LoadError(1204, "Overflow for float value", column, raw)
    return repr(number)


def _numeric(value: Any, column: Column) -> str:
    raw = _text(value)
    try:
        number = decimal.Decimal(raw.strip())
    except decimal.InvalidOperation:
        raise LoadError(1209, "Invalid decimal value", column, raw) from None
    if not number.is_finite():
        raise LoadError(1209, "Invalid decimal value", column, raw)
    scale_info = column.numeric_scale
    if scale_info:
        precision, scale = scale_info
        # without ROUNDEC, COPY truncates extra fractional digits
        number = number.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_DOWN)
        if len(number.as_tuple().digits) - max(0, -number.as_tuple().exponent) > precision - scale:
            raise LoadError(1204, "Numeric data overflow", column, raw)
    return str(number)


def _boolean(value: Any, column: Column) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    raw = _text(value).strip().lower()
    if raw in _TRUE:
        return "true"
    if raw in _FALSE:
        return "false"
    raise LoadError(1210, "Invalid boolean value", column, _text(value))


def _timestamp(value: Any, column: Column, options: Options) -> str:
    raw = _text(value)
    fmt = (options.timeformat or "").lower()
    if fmt in ("epochmillisecs", "epochsecs"):
        if isinstance(value, bool | dict | list):
            raise LoadError(1206, "Invalid timestamp format or value", column, raw)
        try:
            number = decimal.Decimal(raw.strip())
        except decimal.InvalidOperation:
            raise LoadError(1206, "Invalid timestamp format or value", column, raw) from None
        microseconds = int(number * (1000 if fmt == "epochmillisecs" else 1_000_000))
        try:
            moment = _EPOCH + dt.timedelta(microseconds=microseconds)
        except OverflowError:
            raise LoadError(1206, "Invalid timestamp format or value", column, raw) from None
        return moment.isoformat(sep=" ") + ("+00" if column.type_name == "timestamptz" else "")
    if not _is_string(value):
        raise LoadError(1206, "Invalid timestamp format or value", column, raw)
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LoadError(1206, "Invalid timestamp format or value", column, raw) from None
    if moment.tzinfo is not None and column.type_name == "timestamp":
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat(sep=" ")


def _date(value: Any, column: Column, options: Options) -> str:
    raw = _text(value)
    if not _is_string(value):
        raise LoadError(1205, "Invalid date format", column, raw)
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise LoadError(1205, "Invalid date format", column, raw) from None
