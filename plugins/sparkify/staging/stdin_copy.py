"""Staging for warehouses that cannot read S3 themselves: fetch, apply COPY's JSON rules, ``COPY FROM STDIN``.

Small objects are fetched concurrently (a bounded number in flight); large ones are streamed piece by
piece into the COPY, so memory stays bounded whatever the objects' sizes. A gzip object (told by its
first bytes, not its name) is decompressed as it streams (:mod:`sparkify.staging.compression`). Rows are encoded by
:mod:`sparkify.staging.json_stream` (COPY BINARY, the old text encoder as its fallback) and committed in batches
of about ``batch_bytes`` of source: each batch commits on its own, so a bad object fails the task naming
object, line and field while the objects before it stay loaded.
"""

from __future__ import annotations

import functools
import io
import json
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sparkify.errors import ConfigurationError
from sparkify.models.columns import column_names
from sparkify.staging.compression import MAGIC_BYTES, compression_of, decompressed
from sparkify.staging.copy_stream import CopyItem, copy_objects
from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping, StagingDataError
from sparkify.staging.json_stream import StreamEncoder
from sparkify.staging.ledger import StagingLedger
from sparkify.staging.quarantine import Quarantine
from sparkify.staging.request import new_counts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import BinaryIO

    from sparkify.sources import SourceObject
    from sparkify.staging.request import StageRequest
    from sparkify.staging.rules import RecordRules
    from sparkify.warehouses.base import Warehouse

STREAM_ABOVE = 4 * 1024 * 1024  # larger objects are streamed into COPY, never held whole
STREAMED_AHEAD = 2  # streamed objects in the fetch threads at once (their versions hashed ahead of the COPY)


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


class StdinCopyStager:
    """Stages one :class:`~sparkify.staging.request.StageRequest` through ``COPY … FROM STDIN``."""

    def __init__(self, warehouse: Warehouse, request: StageRequest) -> None:
        self.warehouse = warehouse
        self.request = request
        self.ledger = StagingLedger(warehouse, request.table, request.changes)
        self.counts = new_counts()
        self.quarantine = Quarantine(request.table, request.options.bad_records, request.run_id)

    def run(self) -> dict[str, int]:
        request = self.request
        columns = self._columns()
        encoder = StreamEncoder(self._mapping(columns), CopyOptions())
        copy_sql = f"copy {request.table} ({', '.join(c.name for c in columns)}, _source_key) from stdin"
        pending = self.ledger.unstaged(request.objects, self.counts)
        started = time.monotonic()
        batch: list[_Fetched] = []
        batch_size = 0

        def flush() -> None:
            nonlocal batch, batch_size
            if batch:
                try:
                    error = self._commit(encoder, copy_sql, batch)
                except _RetryPrefix as retry:
                    self._commit(encoder, copy_sql, retry.good)
                    error = retry.error
                elapsed = max(time.monotonic() - started, 1e-9)
                request.log.info(
                    "%s: %d objects staged of %d listed so far (%d already staged), %d rows, %.0f rows/s",
                    request.table,
                    self.counts["objects_staged"],
                    self.counts["objects_listed"],
                    self.counts["objects_skipped"],
                    self.counts["rows_staged"],
                    self.counts["rows_staged"] / elapsed,
                )
                if error is not None:  # the objects before the bad one are committed
                    raise error
            batch, batch_size = [], 0

        for fetched in self._fetched(pending):
            batch.append(fetched)
            batch_size += fetched.obj.size
            if batch_size >= request.options.batch_bytes:
                flush()
        flush()
        if self.counts["objects_staged"]:
            with self.warehouse.transaction() as cursor:
                self.warehouse.refresh_statistics(cursor, request.table, self.counts["rows_staged"])
        return self.counts

    def _rules(self, key: str, encoder: StreamEncoder) -> RecordRules | None:
        """What the models need of object ``key``'s records (``sparkify.staging.rules``), if anything."""
        rules = self.request.rules
        if rules is None:
            return None
        mapping = encoder.exact.mapping
        return rules.for_object(key, mapping.columns, mapping.describe)

    def _columns(self) -> list[Column]:
        with self.warehouse.transaction() as cursor:
            columns = [Column(*row) for row in column_names(cursor, self.request.table)]
        if not columns:
            raise ConfigurationError(f"staging table {self.request.table} does not exist: run create_tables first")
        return [c for c in columns if not c.name.startswith("_")]

    def _mapping(self, columns: list[Column]) -> JsonMapping:
        request = self.request
        if request.auto_format:
            return JsonMapping(columns, request.json_format)
        try:
            document = json.loads(request.source.read(request.json_format))
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                f"JSONPaths file {request.source.locate(request.json_format)} cannot be read: {error}"
            ) from None
        try:
            return JsonMapping(columns, request.json_format, document)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None

    def _fetched(self, pending: Iterable[SourceObject]) -> Iterator[_Fetched]:
        """Fetch small objects concurrently, yielding them in order, at most 2 × workers in flight; large
        ones are yielded unread, to be streamed, at most :data:`STREAMED_AHEAD` of them in flight (their
        versions are hashed in the fetch threads: 16 day files of 155 MiB hashed at once on two cores held
        the month's first COPY back by seconds; one or two ahead keeps the hashing ahead of the COPY, which
        takes ten times as long per file). Encoding happens in the COPY, pipelined with the server."""
        source = self.request.source

        def fetch(obj: SourceObject) -> _Fetched:
            fetched = _Fetched(obj, None if obj.size > STREAM_ABOVE else source.read(obj.key))
            # a local file's version is its MD5: computed here, in a fetch thread (hashlib releases the GIL),
            # it overlaps with the encoding and the COPY instead of holding up the first batch; of the bytes
            # just read when the file is small (no second read: 30,000 song files are 30,000 opens fewer)
            if fetched.body is not None:
                obj.read_as(fetched.body)
            _ = obj.version
            return fetched

        workers = self.request.options.max_workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stage") as pool:
            in_flight: deque[tuple[Future[_Fetched], bool]] = deque()  # (fetch, whether it is streamed)
            objects = iter(pending)
            held: SourceObject | None = None  # the next object, waiting for a streamed one to leave

            def submit_more() -> None:
                nonlocal held
                while len(in_flight) < 2 * workers:
                    obj = held if held is not None else next(objects, None)
                    held = None
                    if obj is None:
                        return
                    streamed = obj.size > STREAM_ABOVE
                    if streamed and sum(s for _, s in in_flight) >= STREAMED_AHEAD:
                        held = obj
                        return
                    in_flight.append((pool.submit(fetch, obj), streamed))

            submit_more()
            while in_flight:
                result = in_flight.popleft()[0].result()
                submit_more()
                yield result

    def _body(self, fetched: _Fetched) -> bytes | Callable[[], BinaryIO]:
        """What COPY reads of an object: its bytes, or an opener that streams it, decompressed when its first
        bytes say gzip (whatever its name), so that a small compressed object never swells whole in memory.
        Another compression fails the object when it is opened, naming it, after the objects before it."""
        source = self.request.source
        key, where = fetched.obj.key, source.locate(fetched.obj.key)
        if fetched.body is None:
            return lambda: decompressed(source.open(key), where=where)
        try:
            plain = compression_of(fetched.body[:MAGIC_BYTES], where=where) is None
        except StagingDataError:
            plain = False  # the opener raises it, in its turn, so the objects before it are staged
        if plain:
            return fetched.body
        return functools.partial(decompressed, io.BytesIO(fetched.body), where=where)

    def _commit(self, encoder: StreamEncoder, copy_sql: str, batch: list[_Fetched]) -> StagingDataError | None:
        """Stage a batch in one transaction; a bad object stops it, the ones before it commit, its error returns."""
        table = self.request.table
        source = self.request.source
        for fetched in batch:  # a batch retried after a rollback is encoded, and its records rejected, anew
            self.quarantine.discard(fetched.obj.key)
        with self.warehouse.transaction() as cursor:
            # serialise stagers of this table: a concurrent run may have staged some of these meanwhile
            self.warehouse.lock(cursor, table)
            current = self.ledger.versions(cursor, [f.obj.key for f in batch])
            todo = [f for f in batch if f.obj.key not in current or current[f.obj.key][0] != f.obj.version]
            skipped = len(batch) - len(todo)
            replaced = self.ledger.forget(cursor, [f.obj.key for f in todo if f.obj.key in current])
            items = (
                CopyItem(
                    where=source.locate(f.obj.key),
                    extra=(f.obj.key,),
                    body=self._body(f),
                    reject=self.quarantine.rejecter(f.obj.key, source.locate(f.obj.key)),
                    rules=self._rules(f.obj.key, encoder),
                    truncated=self.quarantine.truncater(f.obj.key),
                )
                for f in todo
            )
            outcome = copy_objects(cursor, copy_sql, encoder, items)
            good = todo[: len(outcome.rows)]
            if outcome.error is not None and any(f.obj.key in current for f in todo[len(good) :]):
                # the bad object, or one after it, replaces earlier rows that this transaction deleted:
                # undo it all and stage only the objects before the bad one
                raise _RetryPrefix(good, outcome.error)
            for f in todo[len(good) :]:  # not staged: neither are their rejected records
                self.quarantine.discard(f.obj.key)
            quarantined = self.quarantine.write(cursor, [f.obj.key for f in good])
            if good:
                self.ledger.record(
                    cursor, [(f.obj, rows, f.obj.key) for f, rows in zip(good, outcome.rows, strict=True)]
                )
        self.counts["objects_skipped"] += skipped
        self.counts["rows_replaced"] += replaced
        self.counts["objects_staged"] += len(good)
        self.counts["rows_staged"] += sum(outcome.rows)
        self.counts["records_quarantined"] += quarantined
        for fetched, rows in zip(good, outcome.rows, strict=True):
            self.request.staged.add([fetched.obj], rows)
        return outcome.error
