"""COPY through ``COPY ... FROM STDIN``: a batch of objects encoded by
:class:`~sparkify.staging.json_stream.StreamEncoder`, in the caller's transaction.

``copy_objects`` is the staging operator's one call: COPY BINARY rows with psycopg 3
(psycopg's ``write_row``, in C) when every column type has one, else COPY text (psycopg 3 or psycopg2);
objects held in memory share one COPY, an object given as an opener is streamed inside a savepoint of
its own.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkify.staging.json_copy import (
    StagingDataError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import BinaryIO

    from sparkify.staging.json_copy import Reject, Truncated
    from sparkify.staging.json_stream import StreamEncoder
    from sparkify.staging.rules import RecordRules


RUN_ROWS = 20_000  # rows of in-memory objects encoded ahead of one COPY


@dataclass
class CopyItem:
    """One object to COPY: its name in errors, its constant cells, and its bytes or a way to open it."""

    where: str
    extra: Sequence[str]
    body: bytes | Callable[[], BinaryIO]
    #: told of each bad record, left out, instead of failing the object (``StreamEncoder.chunks``)
    reject: Reject | None = None
    #: what the models need of each record, and who is told of truncated values (``StreamEncoder.chunks``)
    rules: RecordRules | None = None
    truncated: Truncated | None = None


@dataclass
class CopyOutcome:
    """What ``copy_objects`` did: rows of each object copied, in order, and the error that stopped it."""

    rows: list[int] = field(default_factory=list)
    error: StagingDataError | None = None


def copy_objects(
    cursor: Any,
    statement: str,
    encoder: StreamEncoder,
    items: Iterable[CopyItem],
    extra_types: Sequence[str] = ("varchar",),
) -> CopyOutcome:
    """COPY objects in order through ``statement`` (``COPY t (...) FROM STDIN``) in the caller's transaction.

    With psycopg 3 and column types that have one, the rows travel as COPY BINARY (``extra_types``
    are the types of the ``extra`` cells); otherwise as COPY text. Objects held in memory are encoded
    whole before any of their rows is sent, and share one COPY; an object given as an opener is
    streamed, its rows sent while the next piece is encoded, inside a savepoint of its own. A bad
    object therefore leaves nothing behind: the outcome lists the rows of every object copied before
    it, and carries its ``StagingDataError`` for the caller to raise once it has recorded (and
    committed) those. Memory: about ``RUN_ROWS`` rows of in-memory objects, or one piece of a streamed one.
    """
    binary = encoder.binary_types is not None and hasattr(cursor, "copy")
    copy = _Copy(cursor, statement, [*(encoder.binary_types or []), *extra_types] if binary else None)
    outcome = CopyOutcome()
    items = iter(items)
    pending: CopyItem | None = next(items, None)
    while pending is not None:
        if callable(pending.body):
            item, pending = pending, next(items, None)
            try:
                outcome.rows.append(_copy_streamed(copy, encoder, item))
            except StagingDataError as error:
                outcome.error = error
                return outcome
            continue
        # a run of in-memory objects: one COPY; encoding an object fully first keeps a bad one out of it
        encoded: list[tuple[list, int]] = []
        encoded_rows = 0  # kept as a running count: summing the run at each object made 30,000 song files quadratic
        failure: StagingDataError | None = None
        while pending is not None and not callable(pending.body) and encoded_rows < RUN_ROWS:
            try:
                encoded.append(
                    encoder.encode_object(
                        pending.body,
                        pending.where,
                        pending.extra,
                        copy.binary,
                        pending.reject,
                        pending.rules,
                        pending.truncated,
                    )
                )
            except StagingDataError as error:
                failure = error
                break
            encoded_rows += encoded[-1][1]
            pending = next(items, None)
        if encoded:
            copy.write(chunk for chunks, _ in encoded for chunk in chunks)
            outcome.rows.extend(rows for _, rows in encoded)
        if failure is not None:
            outcome.error = failure
            return outcome
    return outcome


def _copy_streamed(copy: _Copy, encoder: StreamEncoder, item: CopyItem) -> int:
    rows = 0

    def chunks() -> Iterator[Any]:
        nonlocal rows
        assert callable(item.body), "only openers are streamed"
        stream = item.body()
        try:
            chunks = encoder.chunks(
                stream, item.where, item.extra, copy.binary, item.reject, item.rules, item.truncated
            )
            for chunk, count in chunks:
                rows += count
                yield chunk
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()

    copy.cursor.execute("savepoint stream_object")
    try:
        copy.write(chunks())
    except StagingDataError:
        copy.cursor.execute("rollback to savepoint stream_object")
        raise
    copy.cursor.execute("release savepoint stream_object")
    return rows


class _Copy:
    """One ``COPY ... FROM STDIN`` per ``write``: binary rows when ``types`` are given, else text."""

    def __init__(self, cursor: Any, statement: str, types: list[str] | None) -> None:
        self.cursor = cursor
        self.statement = statement
        self.types = types
        self.binary = types is not None

    def write(self, chunks: Iterable[Any]) -> None:
        if not self.binary:
            write_copy(self.cursor, self.statement, chunks)
            return
        with self.cursor.copy(f"{self.statement} with (format binary)") as copy:
            copy.set_types(self.types)
            write_row = copy.write_row
            for rows in chunks:
                for row in rows:
                    write_row(row)


def write_copy(cursor: Any, statement: str, chunks: Iterable[str]) -> None:
    """Send COPY text chunks to ``COPY ... FROM STDIN`` with psycopg 3 or psycopg2.

    An exception from ``chunks`` aborts the COPY (the server discards its rows) and propagates.
    """
    if hasattr(cursor, "copy"):  # psycopg 3
        with cursor.copy(statement) as copy:
            for chunk in chunks:
                copy.write(chunk)
    else:  # psycopg2 pulls from a file-like, and reports what read() raised as QueryCanceled
        reader = _ChunkReader(chunks)
        try:
            cursor.copy_expert(statement, reader)
        except Exception:
            if reader.error is not None:
                raise reader.error from None
            raise


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            try:
                chunk = next(self._chunks, None)
            except Exception as error:
                self.error = error
                raise
            if chunk is None:
                return b""
            self._buffer = chunk.encode("utf-8")
        data, self._buffer = (self._buffer, b"") if size < 0 else (self._buffer[:size], self._buffer[size:])
        return data
