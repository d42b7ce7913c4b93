"""SQL lives in files under the project's ``sql/`` folder; this module finds and renders them.

Files are Jinja templates rendered with the warehouse ``target`` (``postgres`` or ``redshift``), so a
DDL file can add distribution and sort keys on Redshift and indexes on PostgreSQL while the statements
themselves stay shared. Run-time values are never rendered into SQL text: they travel as driver
parameters (``%(window_start)s``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import jinja2


def sql_dir() -> Path:
    """The ``sql/`` folder: ``$SPARKIFY_SQL_DIR``, else the one beside ``plugins/``."""
    configured = os.environ.get("SPARKIFY_SQL_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "sql"


@lru_cache(maxsize=4)
def _environment(root: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - renders SQL, not HTML
    )


def render_sql(name: str, target: str, **variables: object) -> str:
    """Render ``sql/<name>`` for ``target``; ``name`` is relative, e.g. ``models/songplays.sql``."""
    path = sql_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: {path}")
    template = _environment(str(sql_dir())).get_template(name)
    return template.render(target=target, **variables).strip().rstrip(";").strip()


def split_statements(sql: str) -> list[str]:
    """Split a rendered file on ``;`` at line ends (DDL files hold several statements)."""
    statements, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    statements.append("\n".join(current))
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())
