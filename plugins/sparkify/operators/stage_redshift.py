"""Stage raw JSON from S3 or a local folder into a staging table, each source object exactly once."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret

from sparkify.identifiers import check_identifier
from sparkify.json_copy import Column, CopyOptions, JsonMapping, StagingDataError
from sparkify.json_stream import CopyItem, StreamEncoder, copy_objects
from sparkify.redshift_copy import DEFAULT_COPY_OPTIONS, Credentials, copy_statement, manifest_document, redact
from sparkify.sources import S3Source, Source, SourceObject, open_source
from sparkify.warehouse import POSTGRES, Warehouse, lock_table, placeholders
from sparkify.window import resolve_window

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

_AUTO_FORMATS = ("auto", "auto ignorecase")
_LEDGER_PAGE = 1000  # keys checked against the ledger per query: one S3 listing page
_STREAM_ABOVE = 4 * 1024 * 1024  # larger objects are streamed into COPY, never held whole


@dataclass
class _Fetched:
    """One source object: its bytes when small (fetched ahead, concurrently), else None (streamed at COPY)."""

    obj: SourceObject
    body: bytes | None


class _RetryPrefix(Exception):
    """A bad object in a batch that replaces rows: roll the batch back, then stage the objects before it."""

    def __init__(self, good: list[_Fetched], error: StagingDataError) -> None:
        super().__init__(str(error))
        self.good = good
        self.error = error


class StageToRedshiftOperator(BaseOperator):
    """Copy JSON objects from a source into ``table``, skipping objects the ledger has already staged.

    The source is a folder or ``s3://bucket/prefix``. Objects are chosen either by ``prefix`` (every
    ``.json`` below it, e.g. ``song_data/``) or by ``daily_key``, a ``strftime`` pattern naming one
    object per UTC day that the run's window touches (e.g. ``log_data/%Y/%m/%Y-%m-%d-events.json``).

    On Redshift the warehouse copies from S3 itself (``COPY ... FORMAT AS JSON``); on PostgreSQL the
    operator fetches the small objects (concurrently, a bounded number at a time) and streams the large
    ones piece by piece, applies the same COPY JSON rules (``json_stream``) and sends the rows through
    ``COPY ... FROM STDIN``, so memory stays bounded whatever the objects' sizes. Either way ``staging_ledger``
    records each object's version, so rerunning a window, or two runs touching one day, stages every
    object once, and a changed object replaces its earlier rows. Each batch commits on its own: a bad
    object fails the task naming object, line and field, while the batches before it stay loaded.

    :param table: staging table to fill.
    :param source: the source URI (templated).
    :param json_format: ``auto``, ``auto ignorecase``, or the key of a JSONPaths file in the source.
    :param prefix: stage every ``.json`` object below this key prefix.
    :param daily_key: stage one object per day of the window; a missing day is logged and skipped.
    :param redshift_conn_id: the warehouse connection.
    :param aws_conn_id: the AWS connection for ``s3://`` sources (``endpoint_url`` in its extra for an
        S3-compatible store; ``region`` for Redshift's COPY).
    :param iam_role: the IAM role Redshift assumes to read S3; default: extra ``iam_role`` of the warehouse
        connection; without one, COPY carries the AWS connection's keys.
    :param copy_options: COPY options for the Redshift path.
    :param max_workers: small objects fetched at once on the local path.
    :param batch_bytes: source bytes committed per transaction on the local path (an object is never split).
    :param manifest_batch: objects per manifest COPY on the Redshift path (``prefix`` mode).
    :param window_start: explicit window start (templated); else the run params or data interval.
    :param window_end: explicit window end (templated).
    """

    template_fields: Sequence[str] = ("source", "window_start", "window_end")
    ui_color = "#358140"

    def __init__(
        self,
        *,
        table: str,
        source: str,
        json_format: str = "auto",
        prefix: str | None = None,
        daily_key: str | None = None,
        redshift_conn_id: str = "redshift",
        aws_conn_id: str | None = "aws_default",
        copy_options: Sequence[str] = DEFAULT_COPY_OPTIONS,
        max_workers: int = 8,
        batch_bytes: int = 16 * 1024 * 1024,
        manifest_batch: int = 1000,
        iam_role: str | None = None,
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
        self.redshift_conn_id = redshift_conn_id
        self.aws_conn_id = aws_conn_id
        self.copy_options = tuple(copy_options)
        self.max_workers = max_workers
        self.batch_bytes = batch_bytes
        self.manifest_batch = manifest_batch
        self.iam_role = iam_role
        self.window_start = window_start
        self.window_end = window_end

    # -- choosing the objects ---------------------------------------------------------------------

    def _listed_objects(self, source: Source, context: Any) -> Iterator[SourceObject]:
        if self.prefix is not None:
            yield from source.list(self.prefix)
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

    def _unstaged(
        self, warehouse: Warehouse, listed: Iterator[SourceObject], counts: dict[str, int]
    ) -> Iterator[SourceObject]:
        """The listed objects whose version the ledger does not hold, checked a page of keys at a time, so
        that memory stays bounded however many objects the source holds."""
        while page := list(itertools.islice(listed, _LEDGER_PAGE)):
            with warehouse.transaction() as cursor:
                cursor.execute(
                    "select object_key, object_version from staging_ledger"
                    " where table_name = %s and object_key = any(%s)",
                    (self.table, [o.key for o in page]),
                )
                staged = dict(cursor.fetchall())
            counts["objects_listed"] += len(page)
            for obj in page:
                if staged.get(obj.key) == obj.version:
                    counts["objects_skipped"] += 1
                else:
                    yield obj

    def _ledger(self, warehouse: Warehouse) -> dict[str, tuple[str, str]]:
        with warehouse.transaction() as cursor:
            cursor.execute(
                "select object_key, object_version, load_unit from staging_ledger where table_name = %s",
                (self.table,),
            )
            return {key: (version, unit) for key, version, unit in cursor.fetchall()}

    # -- entry point ------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, int]:
        warehouse = Warehouse(self.redshift_conn_id)
        source = open_source(self.source, self.aws_conn_id)
        self.log.info("%s: staging from %s", self.table, source.uri)
        listed = self._listed_objects(source, context)
        counts = {"objects_listed": 0, "objects_skipped": 0}
        if warehouse.target == POSTGRES:
            summary = self._stage_locally(warehouse, source, self._unstaged(warehouse, listed, counts), counts)
        else:
            # Redshift's COPY units are planned over the whole listing: keys only, never contents
            listed = list(listed)
            ledger = self._ledger(warehouse)
            pending = [o for o in listed if ledger.get(o.key, ("",))[0] != o.version]
            counts.update(objects_listed=len(listed), objects_skipped=len(listed) - len(pending))
            summary = self._stage_on_redshift(warehouse, source, pending, listed, ledger)
        summary.update(counts)
        self.log.info("%s: staging summary %s", self.table, summary)
        return summary

    # -- PostgreSQL: fetch, apply COPY JSON rules, COPY FROM STDIN ---------------------------------

    def _columns(self, warehouse: Warehouse) -> list[Column]:
        schema, _, name = self.table.rpartition(".")
        with warehouse.transaction() as cursor:
            cursor.execute(
                "select column_name, data_type, character_maximum_length from information_schema.columns"
                " where table_name = %s and table_schema = coalesce(nullif(%s, ''), current_schema())"
                " order by ordinal_position",
                (name, schema),
            )
            columns = [Column(*row) for row in cursor.fetchall()]
        if not columns:
            raise AirflowFailException(f"staging table {self.table} does not exist: run create_tables first")
        return [c for c in columns if not c.name.startswith("_")]

    def _mapping(self, source: Source, columns: list[Column]) -> JsonMapping:
        if self.json_format.strip().lower() in _AUTO_FORMATS:
            return JsonMapping(columns, self.json_format)
        try:
            document = json.loads(source.read(self.json_format))
        except (OSError, ValueError) as error:
            raise AirflowFailException(
                f"JSONPaths file {source.locate(self.json_format)} cannot be read: {error}"
            ) from None
        return JsonMapping(columns, self.json_format, document)

    def _fetched(self, source: Source, pending: Iterable[SourceObject]) -> Iterator[_Fetched]:
        """Fetch small objects concurrently, yielding them in order, at most 2 × workers in flight; large
        ones are yielded unread, to be streamed. Encoding happens in the COPY, pipelined with the server."""

        def fetch(obj: SourceObject) -> _Fetched:
            return _Fetched(obj, None if obj.size > _STREAM_ABOVE else source.read(obj.key))

        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="stage") as pool:
            in_flight: deque = deque()
            objects = iter(pending)
            for obj in objects:
                in_flight.append(pool.submit(fetch, obj))
                if len(in_flight) >= 2 * self.max_workers:
                    break
            while in_flight:
                result = in_flight.popleft().result()
                next_obj = next(objects, None)
                if next_obj is not None:
                    in_flight.append(pool.submit(fetch, next_obj))
                yield result

    def _stage_locally(
        self, warehouse: Warehouse, source: Source, pending: Iterator[SourceObject], counts: dict[str, int]
    ) -> dict[str, int]:
        columns = self._columns(warehouse)
        encoder = StreamEncoder(self._mapping(source, columns), CopyOptions())
        copy_sql = f"copy {self.table} ({', '.join(c.name for c in columns)}, _source_key) from stdin"
        totals = {"objects_staged": 0, "rows_staged": 0, "rows_replaced": 0}
        started = time.monotonic()
        batch: list[_Fetched] = []
        batch_size = 0

        def flush() -> None:
            nonlocal batch, batch_size
            if batch:
                try:
                    staged, rows, replaced, error = self._commit_local_batch(
                        warehouse, source, encoder, copy_sql, batch
                    )
                except _RetryPrefix as retry:
                    staged, rows, replaced, _ = self._commit_local_batch(
                        warehouse, source, encoder, copy_sql, retry.good
                    )
                    error = retry.error
                totals["objects_staged"] += staged
                totals["rows_staged"] += rows
                totals["rows_replaced"] += replaced
                elapsed = max(time.monotonic() - started, 1e-9)
                self.log.info(
                    "%s: %d objects staged of %d listed so far (%d already staged), %d rows, %.0f rows/s",
                    self.table,
                    totals["objects_staged"],
                    counts["objects_listed"],
                    counts["objects_skipped"],
                    totals["rows_staged"],
                    totals["rows_staged"] / elapsed,
                )
                if error is not None:  # the objects before the bad one are committed
                    raise AirflowFailException(f"{self.table}: {error}") from None
            batch, batch_size = [], 0

        for fetched in self._fetched(source, pending):
            batch.append(fetched)
            batch_size += fetched.obj.size
            if batch_size >= self.batch_bytes:
                flush()
        flush()
        return totals

    def _commit_local_batch(
        self, warehouse: Warehouse, source: Source, encoder: StreamEncoder, copy_sql: str, batch: list[_Fetched]
    ) -> tuple[int, int, int, StagingDataError | None]:
        """Stage a batch in one transaction; a bad object stops it, the ones before it commit, its error returns."""
        keys = [f.obj.key for f in batch]
        with warehouse.transaction() as cursor:
            # serialise stagers of this table: a concurrent run may have staged some of these meanwhile
            cursor.execute(lock_table(warehouse.target, self.table))
            cursor.execute(
                "select object_key, object_version from staging_ledger where table_name = %s and object_key = any(%s)",
                (self.table, keys),
            )
            current = dict(cursor.fetchall())
            todo = [f for f in batch if current.get(f.obj.key) != f.obj.version]
            replaced_keys = [f.obj.key for f in todo if f.obj.key in current]
            replaced = 0
            if replaced_keys:
                cursor.execute(
                    f"delete from {self.table} where _source_key = any(%s)",
                    (replaced_keys,),
                )
                replaced = cursor.rowcount
                cursor.execute(
                    "delete from staging_ledger where table_name = %s and object_key = any(%s)",
                    (self.table, replaced_keys),
                )
            items = (
                CopyItem(
                    where=source.locate(f.obj.key),
                    extra=(f.obj.key,),
                    body=f.body if f.body is not None else functools.partial(source.open, f.obj.key),
                )
                for f in todo
            )
            outcome = copy_objects(cursor, copy_sql, encoder, items)
            good = todo[: len(outcome.rows)]
            if outcome.error is not None and any(f.obj.key in current for f in todo[len(good) :]):
                # the bad object, or one after it, replaces earlier rows that this transaction deleted:
                # undo it all and stage only the objects before the bad one
                raise _RetryPrefix(good, outcome.error)
            if good:
                self._record_staged(
                    cursor, [(f.obj, rows, f.obj.key) for f, rows in zip(good, outcome.rows, strict=True)]
                )
        return len(good), sum(outcome.rows), replaced, outcome.error

    def _record_staged(self, cursor: Any, staged: list[tuple[SourceObject, int | None, str]]) -> None:
        """Write ledger rows ``(object, rows, load unit)`` in the staging transaction, so both commit together."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        cursor.executemany(
            "insert into staging_ledger (table_name, object_key, object_version, object_size,"
            " row_count, load_unit, loaded_at) values (%s, %s, %s, %s, %s, %s, %s)",
            [(self.table, obj.key, obj.version, obj.size, rows, unit, now) for obj, rows, unit in staged],
        )

    # -- Redshift: server-side COPY from S3 ---------------------------------------------------------

    def _credentials(self, warehouse: Warehouse) -> tuple[Credentials, str | None]:
        """Redshift's way into S3: the ``iam_role`` (argument, or the warehouse connection's extra), else
        the AWS connection's keys. The region comes from the AWS connection's extra."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=self.aws_conn_id)
        extra = hook.get_connection(self.aws_conn_id).extra_dejson if self.aws_conn_id else {}
        region = extra.get("region") or extra.get("region_name")
        role = self.iam_role or warehouse.extra.get("iam_role")
        if role:
            return Credentials(iam_role=role), region
        frozen = hook.get_credentials()
        keys = Credentials(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
        for secret in keys.secrets:
            mask_secret(secret)  # Airflow's log masker then hides it wherever it would be printed
        return keys, region

    def load_units(
        self,
        pending: list[SourceObject],
        ledger: dict[str, tuple[str, str]],
        listed: Iterable[SourceObject],
    ) -> list[tuple[str, list[SourceObject]]]:
        """Group pending objects into COPY units: one per object for daily files, manifests otherwise.

        A changed object that was loaded through a manifest takes the rest of that manifest's objects
        with it, since their rows are deleted together.
        """
        if self.daily_key is not None:
            return [(obj.key, [obj]) for obj in pending]
        stale_units = {ledger[o.key][1] for o in pending if o.key in ledger}
        pending_keys = {o.key for o in pending}
        reload = [o for o in listed if o.key not in pending_keys and ledger.get(o.key, ("", ""))[1] in stale_units]
        todo = sorted([*pending, *reload], key=lambda o: o.key)
        units = []
        for start in range(0, len(todo), self.manifest_batch):
            chunk = todo[start : start + self.manifest_batch]
            digest = hashlib.sha1(
                "\n".join(f"{o.key} {o.version}" for o in chunk).encode(), usedforsecurity=False
            ).hexdigest()
            units.append((f"_manifests/{self.table}/{digest}.manifest", chunk))
        return units

    def _stage_on_redshift(
        self,
        warehouse: Warehouse,
        source: Source,
        pending: list[SourceObject],
        listed: list[SourceObject],
        ledger: dict[str, tuple[str, str]],
    ) -> dict[str, int]:
        if not isinstance(source, S3Source):
            raise AirflowFailException(f"Redshift copies from S3 only; source {source.uri} is not s3://")
        credentials, region = self._credentials(warehouse)
        json_format = self.json_format if self.json_format in _AUTO_FORMATS else source.locate(self.json_format)
        totals = {"objects_staged": 0, "rows_staged": 0, "rows_replaced": 0}
        units = self.load_units(pending, ledger, listed)
        for number, (unit, objects) in enumerate(units, start=1):
            is_manifest = unit.startswith("_manifests/")
            if is_manifest:
                source.hook.load_string(
                    manifest_document([source.locate(o.key) for o in objects]),
                    key=source._full(unit),
                    bucket_name=source.bucket,
                    replace=True,
                )
            with warehouse.transaction() as cursor:
                cursor.execute(lock_table(warehouse.target, self.table))
                keys = [o.key for o in objects]
                cursor.execute(
                    "select distinct load_unit from staging_ledger"
                    f" where table_name = %s and object_key in ({placeholders(keys)})",
                    (self.table, *keys),
                )
                old_units = [row[0] for row in cursor.fetchall()]
                if old_units:
                    cursor.execute(
                        f"delete from {self.table} where _source_key in ({placeholders(old_units)})",
                        old_units,
                    )
                    totals["rows_replaced"] += cursor.rowcount
                    cursor.execute(
                        "delete from staging_ledger"
                        f" where table_name = %s and load_unit in ({placeholders(old_units)})",
                        (self.table, *old_units),
                    )
                rows = self._redshift_copy(cursor, source, unit, is_manifest, credentials, region, json_format)
                # a manifest's rows cannot be told apart by object: only the unit's total is known
                self._record_staged(cursor, [(o, None if is_manifest else rows, unit) for o in objects])
            totals["objects_staged"] += len(objects)
            totals["rows_staged"] += rows
            self.log.info("%s: COPY unit %d/%d done, %d rows", self.table, number, len(units), rows)
        return totals

    def _redshift_copy(
        self,
        cursor: Any,
        source: S3Source,
        unit: str,
        is_manifest: bool,
        credentials: Credentials,
        region: str | None,
        json_format: str,
    ) -> int:
        """COPY one unit through a temporary table, tagging its rows with the unit's key."""
        cursor.execute(
            "select column_name from information_schema.columns where table_name = %s order by ordinal_position",
            (self.table.rpartition(".")[2],),
        )
        columns = [row[0] for row in cursor.fetchall() if not row[0].startswith("_")]
        cursor.execute(f"create temp table stage_unit (like {self.table})")
        statement = copy_statement(
            table="stage_unit",
            columns=columns,
            s3_uri=source.locate(unit),
            credentials=credentials,
            json_format=json_format,
            region=region,
            manifest=is_manifest,
            options=self.copy_options,
        )
        self.log.info("Running %s", redact(statement))
        try:
            cursor.execute(statement)
        except Exception as error:
            # the driver's message can echo the statement: never let the credentials out with it
            raise RuntimeError(
                f"{self.table}: COPY from {source.locate(unit)} failed: {redact(str(error), credentials.secrets)}"
            ) from None
        column_list = ", ".join(columns)
        cursor.execute(
            f"insert into {self.table} ({column_list}, _source_key) select {column_list}, %s from stage_unit",
            (unit,),
        )
        rows = cursor.rowcount
        cursor.execute("drop table stage_unit")
        return rows
