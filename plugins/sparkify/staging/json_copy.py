"""Redshift's ``COPY ... FORMAT AS JSON`` semantics, for warehouses that cannot read S3 themselves.

On PostgreSQL the staging operator parses each object here and streams the rows into
``COPY ... FROM STDIN``, so both targets stage identical rows:

* ``'auto'`` matches top-level keys to column names exactly (Redshift column names are lowercase, so
  ``firstName`` matches nothing); ``'auto ignorecase'`` matches them case-insensitively; a JSONPaths
  document maps its n-th path to the n-th column. Keys that are missing load as NULL.
* A file holds one or more JSON objects, separated by white space (one per line, or one per file).
* ``timestamp`` columns take epoch milliseconds (``TIMEFORMAT 'epochmillisecs'``); ``EMPTYASNULL`` and
  ``BLANKSASNULL`` turn empty and blank strings into NULL; ``TRUNCATECOLUMNS`` cuts strings that are
  too long for their column instead of failing.

* Input that is not JSON fails as Redshift's COPY fails on it, and says why: a UTF-8 byte order mark
  opening the object (U+FEFF is not white space, and Redshift rejects it; named as a BOM, line 1),
  ``NaN``/``Infinity`` (named with their field), a ``ts`` beyond the years 1-9999 (named as out of
  range for a timestamp, not with Python's ``OverflowError`` text).

A value that does not fit its column raises ``StagingDataError`` naming the object, line and field.
This module reads records and maps them (JSONPaths); ``row_encoder.RowEncoder`` is the reference
implementation of the rules, and ``json_stream.StreamEncoder`` the fast, streaming one that the staging
operator uses, with the same rows and errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    #: told of a record left out: ``(line, field path or None, reason, the record's text)``
    Reject = Callable[[int, str | None, str, str], None]
    #: told of a value cut to its column's length: ``(line, column, length, the value)``
    Truncated = Callable[[int, str, int, str], None]


class StagingDataError(ValueError):
    """A source object holds data that cannot be staged; the message names object, line and field."""


@dataclass(frozen=True)
class Column:
    """A staging column as the warehouse describes it (``information_schema.columns``)."""

    name: str
    data_type: str
    max_length: int | None = None


@dataclass(frozen=True)
class CopyOptions:
    """The subset of Redshift COPY data-conversion options that the local load honours."""

    empty_as_null: bool = True
    blanks_as_null: bool = True
    truncate_columns: bool = True


_PATH_TOKEN = re.compile(
    r"""\.([A-Za-z_][\w-]*)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*(\d+)\s*\]"""
)


def parse_jsonpath(path: str) -> tuple[str | int, ...]:
    """Parse one Redshift JSONPath (``$['a']``, ``$.a.b``, ``$['a'][0]``) into its steps."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath {path!r} must start with '$'")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if not match:
            raise ValueError(f"JSONPath {path!r}: cannot parse at {path[position:]!r}")
        name, single, double, index = match.groups()
        steps.append(int(index) if index is not None else (name or single or double or ""))
        position = match.end()
    if not steps:
        raise ValueError(f"JSONPath {path!r} selects the whole record, not a field")
    return tuple(steps)


class JsonMapping:
    """How a JSON record maps onto the staging columns."""

    def __init__(self, columns: Sequence[Column], json_format: str, jsonpaths: dict | None = None) -> None:
        self.columns = list(columns)
        mode = json_format.strip().lower()
        self.paths: list[tuple[str | int, ...]]
        self.ignorecase = mode == "auto ignorecase"
        if mode in ("auto", "auto ignorecase"):
            self.paths = [(c.name,) for c in self.columns]
            self.describe = [c.name for c in self.columns]
        else:
            if not jsonpaths or not isinstance(jsonpaths.get("jsonpaths"), list):
                raise ValueError(f"JSONPaths file {json_format!r} has no 'jsonpaths' list")
            raw = jsonpaths["jsonpaths"]
            if len(raw) != len(self.columns):
                raise ValueError(
                    f"JSONPaths file {json_format!r} has {len(raw)} paths for {len(self.columns)} columns "
                    f"({', '.join(c.name for c in self.columns)})"
                )
            self.paths = [parse_jsonpath(p) for p in raw]
            self.describe = list(raw)

        # top-level keys (the usual case) are read with one dict lookup each, nested paths are walked
        self.flat_keys = (
            [p[0] for p in self.paths] if all(len(p) == 1 and isinstance(p[0], str) for p in self.paths) else None
        )

    def extract(self, record: dict) -> list[Any]:
        if self.ignorecase:
            record = {str(k).lower(): v for k, v in record.items()}
        if self.flat_keys is not None:
            return list(map(record.get, self.flat_keys))
        return [_follow(record, path) for path in self.paths]


def _follow(value: Any, path: tuple[str | int, ...] | None) -> Any:
    for step in path or ():
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value


BOM = "\ufeff"


class _NotJson:
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's parser accepts them, JSON (and Redshift) do not."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _constant_path(value: Any, path: str = "$") -> str | None:
    """The JSONPath of the first ``NaN``/``Infinity`` inside a decoded value, or None."""
    if isinstance(value, _NotJson):
        return path
    if isinstance(value, dict):
        items = ((f"{path}[{json.dumps(key, ensure_ascii=False)}]", item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for item_path, item in items:
        found = _constant_path(item, item_path)
        if found:
            return found
    return None


_WHITESPACE = re.compile(r"\s*")


def _record_problem(record: Any, constants: list[str]) -> tuple[str | None, str] | None:
    """``(field path or None, reason)`` if a parsed record cannot be staged; clears ``constants``."""
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    if constants:
        problem = _constant_path(record), f"{constants[0]} is not JSON (JSON numbers are finite)"
        constants.clear()
        return problem
    return None


def iter_records(
    text: str, where: str, first_line: int = 1, tail: list | None = None, reject: Reject | None = None
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line, object)`` for each JSON object in ``text``, in order.

    ``text`` starts at line ``first_line`` of its object. When ``tail`` is a list, ``text`` is a piece
    of a longer stream: a record that does not parse is left unparsed, ``tail`` receives
    ``[unparsed text, its first line]``, and the caller retries it with the next piece prepended; a
    record broken before the end of the piece fails at once. With ``reject``, a bad record (not JSON,
    not an object, NaN) is handed to it instead, and reading goes on at the next line.
    """
    constants: list[str] = []

    def not_json(name: str) -> _NotJson:
        constants.append(name)
        return _NotJson(name)

    decoder = json.JSONDecoder(parse_constant=not_json)
    position, line, length = 0, first_line, len(text)
    if first_line == 1 and text.startswith(BOM):
        raise StagingDataError(bom_message(where))
    while True:
        skip = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]  # \s* always matches
        line += text.count("\n", position, skip)
        position = skip
        if position >= length:
            return
        try:
            record, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            if tail is not None and not text[error.pos :].strip():
                tail[:] = [text[position:], line]  # the record runs on past this piece
                return
            # name the line where the broken record starts: with JSON lines, that is the bad line
            if reject is None:
                raise StagingDataError(f"{where}, line {line}: invalid JSON: {error.msg}") from None
            end = text.find("\n", position)
            end = length if end < 0 else end
            reject(line, None, f"invalid JSON: {error.msg}", text[position:end])
            position = end
            continue
        problem = _record_problem(record, constants)
        if problem is not None:
            if reject is None:
                field = f", field {problem[0]}" if problem[0] else ""
                raise StagingDataError(f"{where}, line {line}{field}: {problem[1]}")
            reject(line, problem[0], problem[1], text[position:end])
        else:
            yield line, record
        line += text.count("\n", position, end)
        position = end


def bom_message(where: str) -> str:
    """A byte order mark opens the object: Redshift's COPY rejects it, so the local load does too."""
    return (
        f"{where}, line 1: the object starts with a UTF-8 byte order mark (BOM), which COPY JSON does not"
        " accept; save it as UTF-8 without a BOM"
    )
