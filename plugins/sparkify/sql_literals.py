"""Values written into SQL text as literals, for the statements Redshift cannot take parameters in.

Redshift prepares (hence binds server-side parameters, ``$1``, as psycopg 3 sends them) only SELECT,
INSERT, UPDATE and DELETE: a ``CREATE TEMP TABLE ... AS`` with a window bound must carry its values in
its text. Only values whose literal is the same on Redshift and PostgreSQL are written: NULL, booleans,
integers, finite floats, decimals, dates and naive datetimes (the warehouse's ``timestamp`` columns hold
UTC). Text is refused: Redshift reads a backslash in a literal as an escape, PostgreSQL does not.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Any


def literal(value: Any) -> str:
    """``value`` as an SQL literal that Redshift and PostgreSQL read alike."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise ValueError(f"{value!r}: a window bound is a naive UTC datetime, this one has a time zone")
        return f"'{value.isoformat(sep=' ')}'::timestamp"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'::date"
    raise TypeError(f"{type(value).__name__} values are not written into SQL text: {value!r}")


def with_literals(sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> str:
    """``sql`` with its ``%(name)s`` (or ``%s``) placeholders replaced by literals, ``%%`` by ``%``: what
    the driver would send, rendered here. Without params the text is returned as it is."""
    if params is None:
        return sql
    if isinstance(params, Mapping):
        return sql % {name: literal(value) for name, value in params.items()}
    return sql % tuple(literal(value) for value in params)
