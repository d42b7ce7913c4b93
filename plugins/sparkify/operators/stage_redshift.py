"""Stage raw JSON from S3 or a local folder into a staging table, each source object exactly once."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sparkify.errors import ConfigurationError, FailNow
from sparkify.identifiers import check_identifier
from sparkify.lineage import staging_lineage, static_prefix
from sparkify.operators.base import WarehouseOperator
from sparkify.settings import from_extra
from sparkify.sources import open_source
from sparkify.staging import stage
from sparkify.staging.audit import check_staged_days
from sparkify.staging.catalogue_rules import table_rules
from sparkify.staging.changes import ChangedHours
from sparkify.staging.compression import one_per_logical_name
from sparkify.staging.day_listing import DayListing
from sparkify.staging.ledger import StagingLedger
from sparkify.staging.quarantine import BadRecordPolicy
from sparkify.staging.redshift_copy import DEFAULT_COPY_OPTIONS
from sparkify.staging.request import StageOptions, StageRequest
from sparkify.staging.rules import StagingRules
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
    ``.json`` below it, e.g. ``song_data/``) or by ``daily_key``, a ``strftime`` pattern naming the
    objects of each UTC day that the run's window touches (e.g. ``log_data/%Y/%m/%Y-%m-%d-events.json``:
    every object whose key starts with ``log_data/2018/11/2018-11-01`` is the 1st's).
    The operator chooses the objects; the warehouse target stages them: Redshift with a server-side
    ``COPY`` from S3, PostgreSQL by applying the same COPY JSON rules and ``COPY FROM STDIN``. Either
    way ``staging_ledger`` stages each object once, and a changed object replaces its earlier rows.

    :param table: staging table to fill.
    :param source: the source URI (templated).
    :param json_format: ``auto``, ``auto ignorecase``, or the key of a JSONPaths file in the source.
    :param prefix: stage every ``.json`` object below this key prefix.
    :param daily_key: stage the objects of each day of the window: every object whose key starts with
        this pattern cut after its day field (see ``sparkify.staging.day_listing``); objects left out and days
        without objects are logged in one warning line each.
    :param time_column: with ``daily_key``, the column that places a row in a window (``ts``): a record
        with none, or one more than ``margin_days`` from its file's day (no window would load it), is a
        bad record as it is staged (``sparkify.staging.rules``), failed or quarantined by ``bad_records``;
        after staging, the window's day files are refused if such rows are staged all the same, or if
        rows the ledger recorded have vanished (see ``sparkify.staging.audit``).
    :param margin_days: with ``daily_key``, also stage the files of this many days before and after the
        window, so that an event filed under a neighbouring day is staged before its window is loaded.
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
    :param bad_records: what a record that cannot be staged, or that breaks what the catalogue's models
        need of it (``sparkify.staging.rules``), does (templated, checked at run time): ``fail``
        (the default) fails its object, naming object, line and field, and keeps the objects before it;
        ``quarantine`` leaves it out, writes it to ``quarantined_records`` with object, line, field and
        reason, and stages the rest (see ``sparkify.staging.quarantine``).
    :param max_bad_records: under ``quarantine``, the most records one run may leave out (templated);
        one more fails its object as under ``fail``.
    :param window_start: explicit window start (templated); else the run params or data interval.
    :param window_end: explicit window end (templated).
    """

    template_fields: Sequence[str] = (
        "source",
        "workspace",
        "bad_records",
        "max_bad_records",
        "window_start",
        "window_end",
    )
    ui_color = "#358140"

    def __init__(
        self,
        *,
        table: str,
        source: str,
        json_format: str = "auto",
        prefix: str | None = None,
        daily_key: str | None = None,
        time_column: str | None = None,
        margin_days: int = 1,
        aws_conn_id: str | None = "aws_default",
        copy_options: Sequence[str] = DEFAULT_COPY_OPTIONS,
        max_workers: int = 8,
        batch_bytes: int = 16 * 1024 * 1024,
        manifest_batch: int = 1000,
        iam_role: str | None = None,
        workspace: str | None = None,
        bad_records: str = "fail",
        max_bad_records: int | str = 100,
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
        self.time_column = check_identifier(time_column, "column") if time_column else None
        if margin_days < 0:
            raise ValueError(f"{self.task_id}: margin_days must be 0 or more")
        self.margin_days = margin_days
        self._listing: DayListing | None = None
        self.aws_conn_id = aws_conn_id
        self.copy_options = tuple(copy_options)
        self.max_workers = max_workers
        self.batch_bytes = batch_bytes
        self.manifest_batch = manifest_batch
        self.iam_role = iam_role
        self.workspace = workspace
        self.bad_records = bad_records
        self.max_bad_records = max_bad_records
        self.window_start = window_start
        self.window_end = window_end
        self.lineage_source: Source | None = None
        self.staged: StagedObjects | None = None

    def bad_record_policy(self) -> BadRecordPolicy:
        """The rendered ``bad_records`` and ``max_bad_records``; a wrong value fails now, naming the field."""
        try:
            return BadRecordPolicy(str(self.bad_records).strip().lower(), int(self.max_bad_records))
        except ValueError as error:
            raise ConfigurationError(f"{self.task_id}: {error}") from None

    def listed_objects(self, source: Source, listing: DayListing | None) -> Iterator[SourceObject]:
        """The objects this run is about: every object below ``prefix``, or those of ``listing`` (the window's days)."""
        if listing is None:
            # song files may be gzip-compressed too, as X.json.gz; X.json and X.json.gz are one song file
            listed = source.list(self.prefix or "", suffix=(".json", ".json.gz"))
            yield from one_per_logical_name(listed, locate=source.locate)
            return
        self.log.info("Window %s touches %d day(s); listing %s", listing.window, len(listing.days), listing.folders())
        yield from listing
        for line in listing.report():  # skipped objects and missing days: a line each, never one per day
            self.log.warning("%s: %s", self.table, line)

    def run(self, warehouse: Warehouse, context: Any) -> dict[str, int]:
        source = open_source(self.source, self.aws_conn_id)
        self.log.info("%s: staging from %s into %s", self.table, source.uri, warehouse)
        listing = changes = None
        if self.daily_key is not None:
            window = resolve_window(context, self.window_start, self.window_end)
            listing = self._listing = DayListing(source, self.daily_key, window, margin_days=self.margin_days)
            if self.time_column:
                changes = ChangedHours(
                    self.table,
                    self.time_column,
                    window.sql_params["window_start"],
                    run_id=str(context.get("run_id") or "") or None,
                    day_of=listing.day_of,  # filled as the listing is read, before any object is staged
                    margin=dt.timedelta(days=self.margin_days),
                )
        # what the catalogue's models need of each record, and for day files the window of its file's day:
        # checked as each record is staged, so bad data is named (or quarantined) here, not by a load
        rules = StagingRules(
            table_rules(self.table),
            time_column=self.time_column if listing is not None else None,
            day_of=listing.day_of if listing is not None else None,
            margin=dt.timedelta(days=self.margin_days),
        )
        request = StageRequest(
            table=self.table,
            source=source,
            objects=self.listed_objects(source, listing),
            json_format=self.json_format,
            one_unit_per_object=self.daily_key is not None,
            options=StageOptions(
                max_workers=self.max_workers,
                batch_bytes=self.batch_bytes,
                manifest_batch=self.manifest_batch,
                copy_options=self.copy_options,
                iam_role=self.iam_role,
                aws_conn_id=self.aws_conn_id,
                workspace=self.workspace or from_extra("workspace", warehouse.extra),
                bad_records=self.bad_record_policy(),
            ),
            log=self.log,
            run_id=str(context.get("run_id") or "") or None,
            changes=changes,
            rules=rules,
        )
        self.lineage_source, self.staged = source, request.staged  # what this run read, for lineage
        summary = stage(warehouse, request)
        self.log.info("%s: staging summary %s", self.table, summary)
        if self._listing is not None:
            self.refuse_retired_days(warehouse, source, self._listing)
        if self._listing is not None and self.time_column:
            check_staged_days(
                warehouse=warehouse,
                source=source,
                table=self.table,
                time_column=self.time_column,
                day_of=self._listing.day_of,
                margin=dt.timedelta(days=self.margin_days),
                staged_now=request.staged.keys if request.staged.complete else frozenset(),
            )
        return summary

    def refuse_retired_days(self, warehouse: Warehouse, source: Source, listing: DayListing) -> None:
        """Fail when the window's own days hold objects whose staged rows retention deleted (a rerun or
        backfill older than the horizon): loading would replace those hours' facts by nothing."""
        days = set(listing.days)
        retired = StagingLedger(warehouse, self.table).retired_among(
            sorted(key for key, day in listing.day_of.items() if day in days)
        )
        if not retired:
            return
        more = f" and {len(retired) - 5} more" if len(retired) > 5 else ""
        named = ", ".join(source.locate(key) for key in retired[:5]) + more
        quoted = ", ".join(f"'{key}'" for key in retired)
        raise FailNow(
            f"{self.table}: {len(retired)} object(s) of window {listing.window} were retired by staging retention "
            f"(their staged rows were deleted; sparkify_staging_retention_days): {named}. To load this window "
            f"again, stage them again: delete from staging_ledger where table_name = '{self.table}' and "
            f"object_key in ({quoted}); then rerun",
            object_uri=source.locate(retired[0]),
        )

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
