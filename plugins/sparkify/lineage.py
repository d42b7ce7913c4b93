"""OpenLineage for the project's operators: what a task read and wrote, named as the OpenLineage naming
spec says, with the facets that the catalogue and the run itself can tell.

* A warehouse table: the namespace of its warehouse target
  (:meth:`~sparkify.warehouses.base.Warehouse.lineage_namespace`: ``postgres://{host}:{port}`` or
  ``redshift://{cluster_identifier}.{region}:{port}``) and the name ``{database}.{schema}.{table}``.
* A source object: namespace ``s3://{bucket}`` and its key; a local file: namespace ``file`` and its
  absolute path. Many objects below one prefix (the song files) are one dataset, the prefix, with
  counts.
* Column lineage: the ``from:`` of each column in ``sql/models/<table>.yml`` (tests check it against
  the model's SQL), so it lives in one place, next to the model.
* Data-quality assertions: one per check, on the checked table (an input of the quality task).

The OpenLineage client is imported inside the functions, as the Airflow providers do: the operators
work where ``apache-airflow-providers-openlineage`` is not installed, and these functions then never run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sparkify.models.catalogue import load_catalogue

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    from sparkify.models.catalogue import TableSpec
    from sparkify.sources import Source
    from sparkify.staging.request import StagedObjects
    from sparkify.warehouses.base import Warehouse

log = logging.getLogger(__name__)

#: the schema of unqualified table names: the default search path of both engines
DEFAULT_SCHEMA = "public"


@dataclass(frozen=True)
class WarehouseNaming:
    """How OpenLineage names the tables of one warehouse. Operators keep one from ``execute()`` (or from
    the listener's call at start), since the listener asks for their lineage after ``execute()``, on the
    same operator."""

    namespace: str
    database: str
    dialect: str

    @classmethod
    def of(cls, warehouse: Warehouse) -> WarehouseNaming | None:
        """The naming of ``warehouse``; ``None`` (and no lineage) rather than an error: lineage never
        fails a task."""
        try:
            return cls(warehouse.lineage_namespace(), warehouse.lineage_database(), warehouse.dialect)
        except Exception:
            log.debug("no OpenLineage naming for %s", warehouse, exc_info=True)
            return None

    def name(self, table: str) -> str:
        """``{database}.{schema}.{table}``; an unqualified table is in the ``public`` schema."""
        schema, _, name = table.rpartition(".")
        return ".".join(part for part in (self.database, schema or DEFAULT_SCHEMA, name) if part)

    def input(self, table: str, **input_facets: Any) -> InputDataset:
        from openlineage.client.event_v2 import InputDataset

        return InputDataset(namespace=self.namespace, name=self.name(table), inputFacets=input_facets)

    def output(self, table: str, facets: dict[str, Any] | None = None, **output_facets: Any) -> OutputDataset:
        from openlineage.client.event_v2 import OutputDataset

        return OutputDataset(
            namespace=self.namespace, name=self.name(table), facets=facets or {}, outputFacets=output_facets
        )


def object_dataset_name(location: str) -> tuple[str, str]:
    """``(namespace, name)`` of a source location: ``s3://bucket/key`` or a local absolute path."""
    parsed = urlparse(location)
    if parsed.scheme in ("s3", "s3a"):
        return f"s3://{parsed.netloc}", parsed.path.strip("/") or "/"
    return "file", location.rstrip("/") or "/"


def _lineage(
    inputs: Sequence[Any] = (), outputs: Sequence[Any] = (), job_facets: dict[str, Any] | None = None
) -> OperatorLineage:
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=list(inputs), outputs=list(outputs), job_facets=job_facets or {})


# -- staging ---------------------------------------------------------------------------------------


def staging_lineage(
    naming: WarehouseNaming | None,
    table: str,
    source: Source | None,
    staged: StagedObjects | None,
    *,
    group: str,
    per_object: bool,
) -> OperatorLineage:
    """The objects one staging task read, and its staging table.

    Day files (``per_object``) are a dataset each, with their rows and bytes. Objects below a prefix (the
    song files), or more day files than ``staged`` keeps, are one dataset, ``group``, with their count. An
    object the ledger had already staged is not read again, so it is no input of this run.
    """
    from openlineage.client.generated.output_statistics_output_dataset import OutputStatisticsOutputDatasetFacet

    inputs = []
    if source is not None and staged is not None and staged.count:
        if per_object and staged.complete:
            inputs = [_read(source.locate(key), rows, size, 1) for key, size, rows in staged.objects]
        else:
            inputs = [_read(source.locate(group), staged.rows, staged.size, staged.count)]
    outputs = []
    if naming is not None:
        written: dict[str, Any] = (
            {} if staged is None else {"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=staged.rows)}
        )
        outputs.append(naming.output(table, **written))
    return _lineage(inputs, outputs)


def _read(location: str, rows: int | None, size: int, files: int) -> InputDataset:
    """A source object (or prefix) as an input, with what was read of it."""
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet

    namespace, name = object_dataset_name(location)
    statistics = InputStatisticsInputDatasetFacet(rowCount=rows, size=size, fileCount=files)
    return InputDataset(namespace=namespace, name=name, inputFacets={"inputStatistics": statistics})


def static_prefix(pattern: str) -> str:
    """The folder of a ``strftime`` key pattern before its first field: ``log_data`` for
    ``log_data/%Y/%m/%Y-%m-%d-events.json``."""
    return pattern.split("%", 1)[0].rpartition("/")[0]


# -- loads -----------------------------------------------------------------------------------------


def load_lineage(
    naming: WarehouseNaming | None, table: str, sql: str, rows_written: int | None = None
) -> OperatorLineage:
    """A load of ``table`` from its model: inputs are the tables the catalogue says it is built from;
    the output carries the table's schema (column names and descriptions) and its column lineage."""
    from openlineage.client.generated.output_statistics_output_dataset import OutputStatisticsOutputDatasetFacet
    from openlineage.client.generated.sql_job import SQLJobFacet

    if naming is None:
        return _lineage()
    spec = load_catalogue().spec(table)
    facets: dict[str, Any] = {}
    if spec is not None and spec.columns:
        facets["schema"] = schema_facet(spec)
        if column_lineage := column_lineage_facet(naming, spec):
            facets["columnLineage"] = column_lineage
    output_facets = {}
    if rows_written is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=rows_written)
    return _lineage(
        inputs=[naming.input(t) for t in (spec.depends_on if spec else ())],
        outputs=[naming.output(table, facets, **output_facets)],
        job_facets={"sql": SQLJobFacet(query=sql, dialect=naming.dialect)},
    )


def schema_facet(spec: TableSpec) -> Any:
    from openlineage.client.generated.schema_dataset import SchemaDatasetFacet, SchemaDatasetFacetFields

    return SchemaDatasetFacet(
        fields=[
            SchemaDatasetFacetFields(name=c.name, description=c.description or None, ordinal_position=n)
            for n, c in enumerate(spec.columns, start=1)
        ]
    )


def column_lineage_facet(naming: WarehouseNaming, spec: TableSpec) -> Any:
    """The catalogue's ``from:`` of each column, as a column lineage facet (``None`` when none declared).
    Every source is a direct one: the column's values are computed from it (filters and joins are not
    listed)."""
    from openlineage.client.generated.column_lineage_dataset import (
        ColumnLineageDatasetFacet,
        Fields,
        InputField,
        Transformation,
    )

    fields = {}
    for column in spec.columns:
        if not column.sources:
            continue
        inputs = []
        for source in column.sources:
            table, _, field = source.rpartition(".")
            inputs.append(
                InputField(
                    namespace=naming.namespace,
                    name=naming.name(table),
                    field=field,
                    transformations=[Transformation(type="DIRECT")],
                )
            )
        fields[column.name] = Fields(inputFields=inputs)
    return ColumnLineageDatasetFacet(fields=fields) if fields else None


# -- data quality ----------------------------------------------------------------------------------


def quality_lineage(
    naming: WarehouseNaming | None, results: Iterable[Any], tables: Iterable[str], results_table: str | None
) -> OperatorLineage:
    """The checked tables as inputs, each with a data-quality assertion per check (its kind, name,
    column, severity, success, observed and expected values, SQL), and the results table as output.

    ``results`` are the operator's check results (``check``, ``observed``, ``expected_text``,
    ``passed``); without any (the task failed before checking) the tables are listed without facets.
    """
    from openlineage.client.generated.data_quality_assertions_dataset import (
        Assertion,
        DataQualityAssertionsDatasetFacet,
    )

    if naming is None:
        return _lineage()
    assertions: dict[str, list[Any]] = {table: [] for table in tables}
    for result in results:
        check = result.check
        assertions.setdefault(check.table, []).append(
            Assertion(
                assertion=check.kind,
                success=bool(result.passed),
                column=check.column,
                severity=getattr(result, "severity", check.severity),
                name=check.name,
                expected=result.expected_text,
                actual=str(result.observed),
                content=check.sql,
                contentType="sql",
                params={"scope": check.scope},
            )
        )
    inputs = [
        naming.input(table, dataQualityAssertions=DataQualityAssertionsDatasetFacet(assertions=found))
        if found
        else naming.input(table)
        for table, found in assertions.items()
    ]
    return _lineage(inputs, [naming.output(results_table)] if results_table else [])
