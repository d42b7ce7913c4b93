"""Staging for warehouses that cannot read S3 themselves: fetch, apply COPY's JSON rules, ``COPY FROM STDIN``.

Objects are fetched and encoded concurrently (a bounded number in flight), then committed in batches
of about ``batch_bytes``: each batch commits on its own, so a bad object fails the task naming object,
line and field while the batches before it stay loaded.
"""

from __future__ import annotations

import io
import json
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sparkify.json_copy import Column, CopyOptions, JsonMapping, RowEncoder, StagingDataError
from sparkify.staging.ledger import StagingLedger
from sparkify.staging.request import new_counts
from sparkify.warehouses.base import column_names

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sparkify.sources import SourceObject
    from sparkify.staging.request import StageRequest
    from sparkify.warehouses.base import Warehouse

_WRITE_BYTES = 262_144  # one driver write per ~256 KiB, not per line: each write is a round trip


class ConfigurationError(ValueError):
    """The staging task is set up wrong (missing table, unreadable JSONPaths): a retry cannot fix it."""


@dataclass
class _Encoded:
    """One source object, parsed and encoded as COPY text lines."""

    obj: SourceObject
    lines: list[str]
    rows: int


class StdinCopyStager:
    """Stages one :class:`~sparkify.staging.request.StageRequest` through ``COPY … FROM STDIN``."""

    def __init__(self, warehouse: Warehouse, request: StageRequest) -> None:
        self.warehouse = warehouse
        self.request = request
        self.ledger = StagingLedger(warehouse, request.table)
        self.counts = new_counts()

    def run(self) -> dict[str, int]:
        request = self.request
        columns = self._columns()
        encoder = RowEncoder(self._mapping(columns), CopyOptions())
        copy_sql = f"copy {request.table} ({', '.join(c.name for c in columns)}, _source_key) from stdin"
        pending = self.ledger.unstaged(request.objects, self.counts)
        started = time.monotonic()
        batch: list[_Encoded] = []
        batch_size = 0

        def flush() -> None:
            nonlocal batch, batch_size
            if batch:
                self._commit(copy_sql, batch)
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
            batch, batch_size = [], 0

        try:
            for encoded in self._encoded(encoder, pending):
                batch.append(encoded)
                batch_size += sum(len(line) for line in encoded.lines)
                if batch_size >= request.options.batch_bytes:
                    flush()
        except StagingDataError:
            flush()  # keep every good object read before the bad one
            raise
        flush()
        if self.counts["objects_staged"]:
            with self.warehouse.transaction() as cursor:
                self.warehouse.refresh_statistics(cursor, request.table)
        return self.counts

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

    def _encoded(self, encoder: RowEncoder, pending: Iterable[SourceObject]) -> Iterator[_Encoded]:
        """Fetch and encode objects concurrently, yielding them in order, at most 2 × workers in flight."""
        source = self.request.source

        def encode(obj: SourceObject) -> _Encoded:
            where = source.locate(obj.key)
            try:
                text = source.read(obj.key).decode("utf-8")
            except UnicodeDecodeError as error:
                raise StagingDataError(f"{where}: not UTF-8 text ({error.reason} at byte {error.start})") from None
            lines, rows = encoder.encode(text, where, extra=(obj.key,))
            return _Encoded(obj, lines, rows)

        workers = self.request.options.max_workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stage") as pool:
            in_flight: deque = deque()
            objects = iter(pending)
            for obj in objects:
                in_flight.append(pool.submit(encode, obj))
                if len(in_flight) >= 2 * workers:
                    break
            while in_flight:
                result = in_flight.popleft().result()
                next_obj = next(objects, None)
                if next_obj is not None:
                    in_flight.append(pool.submit(encode, next_obj))
                yield result

    def _commit(self, copy_sql: str, batch: list[_Encoded]) -> None:
        table = self.request.table
        with self.warehouse.transaction() as cursor:
            # serialise stagers of this table: a concurrent run may have staged some of these meanwhile
            self.warehouse.lock(cursor, table)
            current = self.ledger.versions(cursor, [e.obj.key for e in batch])
            todo = [e for e in batch if current.get(e.obj.key, ("",))[0] != e.obj.version]
            self.counts["objects_skipped"] += len(batch) - len(todo)
            self.counts["rows_replaced"] += self.ledger.forget(
                cursor, [e.obj.key for e in todo if e.obj.key in current]
            )
            if todo:
                copy_lines(cursor, copy_sql, (line for e in todo for line in e.lines))
                self.ledger.record(cursor, [(e.obj, e.rows, e.obj.key) for e in todo])
        self.counts["objects_staged"] += len(todo)
        self.counts["rows_staged"] += sum(e.rows for e in todo)
        for encoded in todo:
            self.request.staged.add([encoded.obj], encoded.rows)


def copy_lines(cursor: Any, statement: str, lines: Iterable[str]) -> None:
    """Stream COPY text-format ``lines`` into ``COPY ... FROM STDIN`` with psycopg 3 or psycopg2.

    The PostgreSQL provider hands out psycopg 3 connections where it is installed (with SQLAlchemy 2)
    and psycopg2 ones otherwise; their COPY APIs differ.
    """
    if hasattr(cursor, "copy"):  # psycopg 3
        with cursor.copy(statement) as copy:
            chunk: list[str] = []
            size = 0
            for line in lines:
                chunk.append(line)
                size += len(line)
                if size >= _WRITE_BYTES:
                    copy.write("".join(chunk))
                    chunk, size = [], 0
            if chunk:
                copy.write("".join(chunk))
    else:  # psycopg2
        cursor.copy_expert(statement, _LinesReader(lines))


class _LinesReader(io.TextIOBase):
    """A file-like view of an iterator of text lines, for psycopg2's ``copy_expert``."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        size = -1 if size is None else size
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._lines, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
