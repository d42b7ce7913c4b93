"""Table and column names go into SQL text, so they are checked before use."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


def check_identifier(name: str, what: str = "table") -> str:
    """Return ``name`` if it is a plain lowercase SQL identifier (optionally schema-qualified)."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a plain lowercase SQL identifier")
    return name


def placeholders(values: Iterable[Any]) -> str:
    """``%s, %s, …``: one driver placeholder per value, for an ``in (…)`` list whose values are parameters."""
    return ", ".join("%s" for _ in values)
