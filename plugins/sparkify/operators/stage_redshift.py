"""Stage raw JSON from S3 or a local folder into a staging table, each source object exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkify.identifiers import check_identifier
from sparkify.lineage import staging_lineage, static_prefix
from sparkify.operators.base import WarehouseOperator
from sparkify.redshift_copy import DEFAULT_COPY_OPTIONS
from sparkify.sources import open_source
from sparkify.staging.request import StageOptions, StageRequest
from sparkify.window import resolve_window

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from sparkify.sources import Source, SourceObject
    from sparkify.staging.request import StagedObjects
    from sparkify.warehouses.base import Warehouse


class StageToRedshiftOperator(WarehouseOperator):
    """Copy JSON objects from a source into ``table``, skipping objects the ledger has already staged.

    The source is a folder or ``s3://bucket/prefix``. Objects are chosen either by ``prefix`` (every
    ``.json`` below it, e.g. ``song_data/``) or by ``daily_key``, a ``strftime`` pattern naming one
    object per UTC day that the run's window touches (e.g. ``log_data/%Y/%m/%Y-%m-%d-events.json``).
    The operator chooses the objects; the warehouse target stages them: Redshift with a server-side
    ``COPY`` from S3, PostgreSQL by applying the same COPY JSON rules and ``COPY FROM STDIN``. Either
    way ``staging_ledger`` stages each object once, and a changed object replaces its earlier rows.

    :param table: staging table to fill.
    :param source: the source URI (templated).
    :param json_format: ``auto``, ``auto ignorecase``, or the key of a JSONPaths file in the source.
    :param prefix: stage every ``.json`` object below this key prefix.
    :param daily_key: stage one object per day of the window; a missing day is logged and skipped.
    :param redshift_conn_id: the warehouse connection.
    :param aws_conn_id: the AWS connection for ``s3://`` sources (``endpoint_url`` in its extra for an
        S3-compatible store; ``region_name`` for Redshift's COPY).
    :param iam_role: the IAM role Redshift assumes to read S3; default: extra ``iam_role`` of the warehouse
        connection; without one, COPY carries the AWS connection's keys.
    :param workspace: ``s3://bucket/prefix`` for Redshift's COPY manifests (templated); default: the
        warehouse connection's extra ``workspace``. The source is never written.
    :param copy_options: COPY options for the Redshift path.
    :param max_workers: objects fetched at once where the operator fetches them (PostgreSQL).
    :param batch_bytes: encoded rows committed per transaction (PostgreSQL).
    :param manifest_batch: objects per manifest COPY (Redshift, ``prefix`` mode).
    :param window_start: explicit window start (templated); else the run params or data interval.
    :param window_end: explicit window end (templated).
    """

    template_fields: Sequence[str] = ("source", "workspace", "window_start", "window_end")
    ui_color = "#358140"

    def __init__(
        self,
        *,
        table: str,
        source: str,
        json_format: str = "auto",
        prefix: str | None = None,
        daily_key: str | None = None,
        aws_conn_id: str | None = "aws_default",
        copy_options: Sequence[str] = DEFAULT_COPY_OPTIONS,
        max_workers: int = 8,
        batch_bytes: int = 16 * 1024 * 1024,
        manifest_batch: int = 1000,
        iam_role: str | None = None,
        workspace: str | None = None,
        window_start: str | None = None,
        window_end: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (prefix is None) == (daily_key is None):
            raise ValueError(f"{self.task_id}: give exactly one of prefix and daily_key")
        if daily_key is not None and "%" not in daily_key:
            raise ValueError(f"{self.task_id}: daily_key {daily_key!r} has no strftime field such as %Y")
        if max_workers < 1 or batch_bytes < 1 or manifest_batch < 1:
            raise ValueError(f"{self.task_id}: max_workers, batch_bytes and manifest_batch must be positive")
        self.table = check_identifier(table)
        self.source = source
        self.json_format = json_format
        self.prefix = prefix
        self.daily_key = daily_key
        self.aws_conn_id = aws_conn_id
        self.copy_options = tuple(copy_options)
        self.max_workers = max_workers
        self.batch_bytes = batch_bytes
        self.manifest_batch = manifest_batch
        self.iam_role = iam_role
        self.workspace = workspace
        self.window_start = window_start
        self.window_end = window_end
        self.lineage_source: Source | None = None
        self.staged: StagedObjects | None = None

    def listed_objects(self, source: Source, context: Any) -> Iterator[SourceObject]:
        """The objects this run is about: every object below ``prefix``, or the window's day files."""
        if self.daily_key is None:
            yield from source.list(self.prefix or "")
            return
        window = resolve_window(context, self.window_start, self.window_end)
        self.log.info("Window %s touches %d day(s)", window, sum(1 for _ in window.days()))
        for day in window.days():
            key = day.strftime(self.daily_key)
            obj = source.stat(key)
            if obj is None:
                self.log.warning("No object for %s: %s (no events that day?)", day, source.locate(key))
            else:
                yield obj

    def run(self, warehouse: Warehouse, context: Any) -> dict[str, int]:
        source = open_source(self.source, self.aws_conn_id)
        self.log.info("%s: staging from %s into %s", self.table, source.uri, warehouse)
        request = StageRequest(
            table=self.table,
            source=source,
            objects=self.listed_objects(source, context),
            json_format=self.json_format,
            one_unit_per_object=self.daily_key is not None,
            options=StageOptions(
                max_workers=self.max_workers,
                batch_bytes=self.batch_bytes,
                manifest_batch=self.manifest_batch,
                copy_options=self.copy_options,
                iam_role=self.iam_role,
                aws_conn_id=self.aws_conn_id,
                workspace=self.workspace or warehouse.extra.get("workspace"),
            ),
            log=self.log,
        )
        self.lineage_source, self.staged = source, request.staged  # what this run read, for lineage
        summary = warehouse.stage(request)
        self.log.info("%s: staging summary %s", self.table, summary)
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the source objects this run staged (each day file, or the prefix with a count of
        song files) and the staging table. Also serves failures (the default for ``on_failure``): the
        objects committed before the failure are reported, and nothing else."""
        return staging_lineage(
            self.lineage_naming,
            self.table,
            self.lineage_source,
            self.staged,
            group=self.prefix if self.prefix is not None else static_prefix(self.daily_key or ""),
            per_object=self.daily_key is not None,
        )
