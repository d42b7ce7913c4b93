"""SQL lives in files under the project's ``sql/`` folder; this module finds and renders them.

Files are Jinja templates. What differs by engine is written once, as the dialect macros of
``sql/macros/``: a DDL file calls ``table_options(...)`` or ``index(...)`` and the renderer resolves
each call to ``<dialect>__<name>`` (``macros/<dialect>.sql``) or, where the dialect defines none,
``default__<name>`` (``macros/default.sql``), in the spirit of dbt's ``adapter.dispatch``. A DDL file
of a catalogued table also gets ``this`` (its :class:`~sparkify.models.catalogue.TableSpec`) and
``primary_key()``, so the key is declared once, in the catalogue. Run-time values are never rendered
into SQL text: they travel as driver parameters (``%(window_start)s``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from sparkify.settings import from_env

_DEFAULT = "default"


def sql_dir() -> Path:
    """The ``sql/`` folder: ``$SPARKIFY_SQL_DIR``, else the one beside ``plugins/``."""
    configured = from_env("sql_dir")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "sql"


@lru_cache(maxsize=4)
def _environment(root: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - renders SQL, not HTML
    )


def dialect_macros(dialect: str) -> dict[str, Any]:
    """The dispatched macros for ``dialect``: ``{name: macro}``, the dialect's own over the defaults."""
    environment = _environment(str(sql_dir()))
    resolved: dict[str, Any] = {}
    for prefix in (_DEFAULT, dialect):
        if not (sql_dir() / "macros" / f"{prefix}.sql").is_file():
            continue
        module = environment.get_template(f"macros/{prefix}.sql").module
        for attribute in dir(module):
            if attribute.startswith(f"{prefix}__"):
                resolved[attribute.removeprefix(f"{prefix}__")] = getattr(module, attribute)
    return resolved


def render_sql(name: str, dialect: str, **variables: Any) -> str:
    """Render ``sql/<name>`` for ``dialect``; ``name`` is relative, e.g. ``ddl/songplays.sql``.

    ``variables`` may include ``this``, the table the file defines, which enables ``primary_key()``.
    """
    path = sql_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: {path}")
    template = _environment(str(sql_dir())).get_template(name)
    this = variables.get("this")

    def primary_key() -> str:
        if this is None or not this.primary_key:
            raise ValueError(f"{name}: primary_key() needs a catalogued table with a primary_key")
        return f"primary key ({', '.join(this.primary_key)})"

    context = {**dialect_macros(dialect), "primary_key": primary_key, "dialect": dialect, **variables}
    return template.render(**context).strip().rstrip(";").strip()


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
