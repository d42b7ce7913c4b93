"""The column encoders of the fast COPY JSON path (:mod:`sparkify.staging.json_stream`).

One function per column type turns a whole column of a piece into COPY text cells
(:func:`_column_encoder`) or COPY BINARY values (:func:`_value_encoder`), with C-level builtins, when
every value is of the common, unambiguous kind; on any doubt they hand the values to the reference
converter (``exact``, from ``json_copy.RowEncoder``) or raise ``_NotFast`` so that the piece takes the
reference path whole.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import partial
from itertools import repeat
from operator import is_not, methodcaller
from typing import TYPE_CHECKING, Any

from sparkify.staging.row_encoder import _INT_RANGES, _MAX_MILLIS, _MIN_MILLIS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sparkify.staging.json_copy import CopyOptions


_NULL = r"\N"
_NONE = type(None)
_EPOCH = dt.datetime(1970, 1, 1)
_ISO = methodcaller("isoformat", " ")


class _NotFast(Exception):
    """The fast path cannot prove it would encode this piece as the reference does."""


def _with_nulls(values: list, converted: Iterable[Any], null: Any = _NULL) -> list:
    """Put ``null`` back where ``values`` held None; ``converted`` holds the others, in order."""
    others = iter(converted)
    return [null if v is None else next(others) for v in values]


_NOT_NONE = partial(is_not, None)
_TEXT = frozenset({str, _NONE})
_INT = frozenset({int, _NONE})
_FLOAT = frozenset({float, _NONE})
_MILLIS = frozenset({int, float, _NONE})
_NONE_TEXT = {"None": _NULL}.get  # str(None) and repr(None) become \N; no number prints as "None"


def _column_encoder(  # noqa: C901 - one branch per column type reads best
    data_type: str, max_length: int | None, options: CopyOptions, exact: Callable[[Any], str]
) -> Callable[[list], list]:
    """A function from a column's values (one piece) to its COPY cells; raises ``_NotFast`` on doubt.

    Each branch takes the values only when every one of them is of a kind whose cell is plain to see
    (and equal to what ``exact``, the reference converter, returns); otherwise ``exact`` converts them.
    """

    def by_value(values: list) -> list[str]:
        try:
            return list(map(exact, values))
        except (TypeError, ValueError, OverflowError):
            raise _NotFast from None

    if data_type in ("character varying", "text", "character"):
        # None, and "" under EMPTYASNULL, become \N; other strings load as they are, unless they need
        # escaping, truncation, or a blank check (leading or trailing white space): those take `exact`
        nulls = {None: _NULL, "": _NULL} if options.empty_as_null else {None: _NULL}
        null_or_value = nulls.get

        def text(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _TEXT:
                return by_value(values)
            filled = list(filter(None, values))
            if filled:
                if max_length and max(map(len, filled)) > max_length:
                    raise _NotFast  # the reference path cuts it and counts it (``truncated``), by line
                joined = "".join(filled)
                if (
                    "\\" in joined
                    or "\t" in joined
                    or "\n" in joined
                    or "\r" in joined
                    or "\x00" in joined
                    or list(map(str.strip, filled)) != filled
                ):
                    return by_value(values)
            if len(filled) == len(values) or (_NONE not in kinds and not options.empty_as_null):
                return values
            return list(map(null_or_value, values, values))

        return text

    if data_type in _INT_RANGES:
        limit = _INT_RANGES[data_type]

        def integer(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _INT:
                digits = _digit_strings(values, kinds, options.empty_as_null)
                if digits is None:
                    return by_value(values)
                values, kinds = digits[0], set(map(type, digits[0]))
            if _NONE not in kinds:
                if -limit <= min(values) and max(values) < limit:
                    return list(map(str, values))
                return by_value(values)
            present = list(filter(_NOT_NONE, values))
            if present and not (-limit <= min(present) and max(present) < limit):
                return by_value(values)
            cells = list(map(str, values))
            return list(map(_NONE_TEXT, cells, cells))

        return integer

    if data_type == "double precision":  # real and numeric would round differently from repr: reference path

        def double(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _FLOAT:
                return by_value(values)
            cells = list(map(repr, values))
            return cells if _NONE not in kinds else list(map(_NONE_TEXT, cells, cells))

        return double

    if data_type.startswith("timestamp"):
        import numpy as np  # here, not at import: DAG parsing loads this module and needs no numpy

        def timestamp(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _MILLIS:
                return by_value(values)
            present = values if _NONE not in kinds else list(filter(_NOT_NONE, values))
            if kinds == {int} and min(values) >= _MIN_MILLIS and max(values) <= _MAX_MILLIS:
                # whole milliseconds in datetime's range: numpy writes them in C, as "2018-11-01T20:57:10.796";
                # PostgreSQL reads the same timestamp as from the reference's "2018-11-01 20:57:10.796000"
                return np.datetime_as_string(np.array(values, dtype="datetime64[ms]"), unit="ms").tolist()
            try:
                # timedelta(0, 0, 0, ms) is timedelta(milliseconds=ms), as the reference computes it
                moments = map(_EPOCH.__add__, map(dt.timedelta, repeat(0), repeat(0), repeat(0), present))
                cells = list(map(_ISO, moments))
            except OverflowError:
                return by_value(values)  # the reference names the value in a readable error
            return cells if present is values else _with_nulls(values, cells)

        return timestamp

    return by_value


_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def _unescape(cell: str) -> str:
    return _UNESCAPE.sub(lambda match: _UNESCAPED[match.group(1)], cell) if "\\" in cell else cell


#: COPY BINARY type of each column type, and how to read the reference's text cell back as that value
#: (the value PostgreSQL itself would read from that text); other column types load as COPY text
_BINARY: dict[str, tuple[str, Callable[[str], Any]]] = {
    "character varying": ("varchar", _unescape),
    "text": ("text", _unescape),
    "character": ("bpchar", _unescape),
    "smallint": ("int2", int),
    "integer": ("int4", int),
    "bigint": ("int8", int),
    "double precision": ("float8", float),
    "timestamp without time zone": ("timestamp", dt.datetime.fromisoformat),
    "boolean": ("bool", "t".__eq__),
}


def _value_encoder(  # noqa: C901 - one branch per column type reads best
    data_type: str, max_length: int | None, options: CopyOptions, exact: Callable[[Any], str]
) -> Callable[[list], list]:
    """Like ``_column_encoder``, for COPY BINARY: Python values (None for NULL) instead of text cells.

    No escaping: binary needs none. Whatever the fast checks do not clear goes through ``exact`` and is
    read back from its text, so the value is the one PostgreSQL would read from the reference's COPY text.
    """
    parse = _BINARY[data_type][1]

    def by_value(values: list) -> list:
        try:
            cells = list(map(exact, values))
        except (TypeError, ValueError, OverflowError):
            raise _NotFast from None
        return [None if cell == _NULL else parse(cell) for cell in cells]

    if data_type in ("character varying", "text", "character"):
        nulls = {"": None} if options.empty_as_null else {}
        null_or_value = nulls.get

        def text(values: list) -> list:
            kinds = set(map(type, values))
            if not kinds <= _TEXT:
                return by_value(values)
            filled = list(filter(None, values))
            if filled and max_length and max(map(len, filled)) > max_length:
                raise _NotFast  # the reference path cuts it and counts it (``truncated``), by line
            if filled and (
                "\x00" in "".join(filled)  # the reference drops NUL characters
                or list(map(str.strip, filled)) != filled
            ):
                return by_value(values)
            if len(filled) == len(values) or not nulls:
                return values
            return list(map(null_or_value, values, values))

        return text

    if data_type in _INT_RANGES:
        limit = _INT_RANGES[data_type]

        def integer(values: list) -> list:
            kinds = set(map(type, values))
            numbers, present = values, _present_values(values, kinds, _INT)
            if present is None and (digits := _digit_strings(values, kinds, options.empty_as_null)) is not None:
                numbers, present = digits
            if present is None or (present and not (-limit <= min(present) and max(present) < limit)):
                return by_value(values)
            return numbers

        return integer

    if data_type == "double precision":

        def double(values: list) -> list:
            return values if set(map(type, values)) <= _FLOAT else by_value(values)

        return double

    if data_type == "timestamp without time zone":
        import numpy as np  # here, not at import: DAG parsing loads this module and needs no numpy

        def timestamp(values: list) -> list:
            kinds = set(map(type, values))
            present = _present_values(values, kinds, _MILLIS)
            if present is None:
                return by_value(values)
            if int in kinds and float not in kinds and present:
                if min(present) >= _MIN_MILLIS and max(present) <= _MAX_MILLIS:
                    moments = np.array(present, dtype="datetime64[ms]").tolist()
                    return moments if present is values else _with_nulls(values, moments, None)
                return by_value(values)
            try:
                moments = list(map(_EPOCH.__add__, map(dt.timedelta, repeat(0), repeat(0), repeat(0), present)))
            except OverflowError:
                return by_value(values)
            return moments if present is values else _with_nulls(values, moments, None)

        return timestamp

    return by_value


def _digit_strings(values: list, kinds: set, empty_as_null: bool) -> tuple[list, list] | None:
    """Strings of ASCII digits as the integers the reference reads from them, None (and "" under
    EMPTYASNULL) as None, with the present ones apart: ``(values, present)``; None for anything else
    (signs, spaces, other digits: the reference decides, value by value).

    A JSON producer that quotes its numbers (the event logs' ``"userId": "39"``, ``""`` when logged out)
    would otherwise send every piece of the column through the reference's regular expression.
    """
    if str not in kinds or not kinds <= _TEXT or (not empty_as_null and "" in values):
        return None
    present = list(filter(None, values))  # neither None nor ""
    joined = "".join(present)
    if not (joined.isascii() and joined.isdigit()):
        return None
    numbers = list(map(int, present))
    if len(present) == len(values):
        return numbers, numbers
    others = iter(numbers)
    return [next(others) if value else None for value in values], numbers


def _present_values(values: list, kinds: set, allowed: frozenset) -> list | None:
    """The values other than None when all are None or of an ``allowed`` type; else None."""
    if not kinds <= allowed:
        return None
    return values if _NONE not in kinds else list(filter(_NOT_NONE, values))
