"""What the fact and dimension loads share: a target table, its model's SQL, and the run's window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.lineage import load_lineage
from sparkify.models.sql_files import sql_dir
from sparkify.operators.base import WarehouseOperator
from sparkify.window import Window, resolve_window

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage


def model_file(table: str, sql: str | None) -> str | None:
    """The model's file under ``sql/`` (``models/<table>.sql`` by default), checked to exist; ``None`` when
    ``sql`` is the SQL text itself."""
    if sql and not sql.endswith(".sql"):
        return None
    name = sql or f"models/{table}.sql"
    if not (sql_dir() / name).is_file():
        raise FileNotFoundError(f"model for {table} not found: {sql_dir() / name}")
    return name


class ModelLoadOperator(WarehouseOperator):
    """Base of the loads: fill ``table`` from a ``select`` (the model), in one transaction.

    ``sql`` is a templated field whose value is a file under ``sql/`` (``template_ext``): Airflow reads and
    renders it when the task runs (the DAG's ``template_searchpath`` is ``sql/``), so the task's *Rendered
    Template* tab shows the SQL that ran, and the DAG file reads no SQL when it is parsed. Run-time values
    are not rendered into it: the model takes ``%(window_start)s`` and ``%(window_end)s`` as driver
    parameters.

    :param table: the table to fill.
    :param sql: the model: SQL text, or a file under ``sql/``; ``models/<table>.sql`` by default.
    :param window_start: explicit window start (templated); else the run params or data interval.
    :param window_end: explicit window end (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("sql", "window_start", "window_end")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}  # noqa: RUF012 - Airflow's own attribute, read-only

    def __init__(
        self,
        *,
        table: str,
        sql: str | None = None,
        window_start: str | None = None,
        window_end: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = check_identifier(table)
        # a missing file fails the DAG's import (a fixed argument), not a run hours later
        self.sql = model_file(self.table, sql) or sql or ""
        self.window_start = window_start
        self.window_end = window_end

    def execute(self, context: Any) -> Any:
        if self.sql.endswith(".sql"):
            # not rendered by a DAG run (an operator executed on its own, as in tests): read it as Airflow would
            self.sql = (sql_dir() / self.sql).read_text()
        self.sql = self.sql.strip().rstrip(";")
        return super().execute(context)

    def window(self, context: Any) -> Window:
        return resolve_window(context, self.window_start, self.window_end)

    @property
    def windowed(self) -> bool:
        return "%(window_" in self.sql

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the tables the model reads (the catalogue's ``depends_on``) and ``table``, with its
        schema, column lineage (the catalogue's ``from:``) and the rows written; the model as the job's
        SQL. Also serves failures, where the transaction rolled back and no rows are reported."""
        rows = self.run_result.get("rows_inserted") if isinstance(self.run_result, dict) else None
        return load_lineage(self.lineage_naming, self.table, self.sql, rows)
