"""The local COPY JSON load, fast and streaming: the rules of ``json_copy``, a column at a time.

``json_copy.RowEncoder`` is the reference: it parses with Python's ``json`` and converts value by value,
about 45 µs a row, so a month of events spent most of its staging time in Python. ``StreamEncoder``
gives the same rows and the same errors at about 5 µs a row, by

* reading an object a piece at a time (about 1 MiB, cut at a newline), so memory stays bounded
  whatever the object's size, and COPY loads one piece while the next is encoded;
* decoding each JSON line with msgspec straight into a struct of the mapped keys only;
* converting a whole column of a piece at once with C-level builtins when every value of it is of the
  common, unambiguous kind (strings that need no truncation or NULL, integers in range, floats, epoch
  milliseconds), and sending the values as COPY BINARY rows (psycopg's ``write_row``, in C): no
  number formatting or text escaping in Python, and less parsing on the server.

Anything else (a value needing a conversion, a pretty-printed or broken record, a NaN, a BOM) sends
the piece to ``RowEncoder``, which gives the exact rows or raises the exact ``StagingDataError``
naming object, line and field; for COPY BINARY its text cells are read back into the values
PostgreSQL would read from them. The fast path only takes what it can prove the reference would do
the same way: tests/unit/test_json_stream.py compares rows and errors, and
tests/integration/test_copy_binary.py compares what both load into PostgreSQL.

Entry points: ``StreamEncoder.chunks`` (one object, piece by piece), ``StreamEncoder.encode_object``
(one object in memory), ``copy_objects`` (a batch of objects through ``COPY ... FROM STDIN`` in the
caller's transaction, streaming those given as openers; the staging operator's one call).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import attrgetter, is_not, methodcaller
from typing import TYPE_CHECKING, Any

import msgspec

from sparkify.staging.json_copy import (
    _INT_RANGES,
    _MAX_MILLIS,
    _MIN_MILLIS,
    CopyOptions,
    JsonMapping,
    RowEncoder,
    StagingDataError,
    bom_message,
    copy_suffix,
    iter_records,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import BinaryIO

    from sparkify.staging.json_copy import Reject, Truncated
    from sparkify.staging.rules import RecordRules

PIECE_BYTES = 1 << 20  # source bytes read and encoded per step
RUN_ROWS = 20_000  # rows of in-memory objects encoded ahead of one COPY
MAX_LINE_BYTES = 64 << 20  # a line (or an unfinished record) longer than this fails: Redshift's limit is 4 MB
_BOM_BYTES = b"\xef\xbb\xbf"
_NULL = r"\N"
_NONE = type(None)
_EPOCH = dt.datetime(1970, 1, 1)
_ISO = methodcaller("isoformat", " ")


class _NotFast(Exception):
    """The fast path cannot prove it would encode this piece as the reference does."""


def _with_nulls(values: list, converted: Iterable[Any], null: Any = _NULL) -> list:
    """Put ``null`` back where ``values`` held None; ``converted`` holds the others, in order."""
    others = iter(converted)
    return [null if v is None else next(others) for v in values]


_NOT_NONE = partial(is_not, None)
_TEXT = frozenset({str, _NONE})
_INT = frozenset({int, _NONE})
_FLOAT = frozenset({float, _NONE})
_MILLIS = frozenset({int, float, _NONE})
_NONE_TEXT = {"None": _NULL}.get  # str(None) and repr(None) become \N; no number prints as "None"


def _column_encoder(  # noqa: C901 - one branch per column type reads best
    data_type: str, max_length: int | None, options: CopyOptions, exact: Callable[[Any], str]
) -> Callable[[list], list]:
    """A function from a column's values (one piece) to its COPY cells; raises ``_NotFast`` on doubt.

    Each branch takes the values only when every one of them is of a kind whose cell is plain to see
    (and equal to what ``exact``, the reference converter, returns); otherwise ``exact`` converts them.
    """

    def by_value(values: list) -> list[str]:
        try:
            return list(map(exact, values))
        except (TypeError, ValueError, OverflowError):
            raise _NotFast from None

    if data_type in ("character varying", "text", "character"):
        # None, and "" under EMPTYASNULL, become \N; other strings load as they are, unless they need
        # escaping, truncation, or a blank check (leading or trailing white space): those take `exact`
        nulls = {None: _NULL, "": _NULL} if options.empty_as_null else {None: _NULL}
        null_or_value = nulls.get

        def text(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _TEXT:
                return by_value(values)
            filled = list(filter(None, values))
            if filled:
                if max_length and max(map(len, filled)) > max_length:
                    raise _NotFast  # the reference path cuts it and counts it (``truncated``), by line
                joined = "".join(filled)
                if (
                    "\\" in joined
                    or "\t" in joined
                    or "\n" in joined
                    or "\r" in joined
                    or "\x00" in joined
                    or list(map(str.strip, filled)) != filled
                ):
                    return by_value(values)
            if len(filled) == len(values) or (_NONE not in kinds and not options.empty_as_null):
                return values
            return list(map(null_or_value, values, values))

        return text

    if data_type in _INT_RANGES:
        limit = _INT_RANGES[data_type]

        def integer(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _INT:
                return by_value(values)
            if _NONE not in kinds:
                if -limit <= min(values) and max(values) < limit:
                    return list(map(str, values))
                return by_value(values)
            present = list(filter(_NOT_NONE, values))
            if present and not (-limit <= min(present) and max(present) < limit):
                return by_value(values)
            cells = list(map(str, values))
            return list(map(_NONE_TEXT, cells, cells))

        return integer

    if data_type == "double precision":  # real and numeric would round differently from repr: reference path

        def double(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _FLOAT:
                return by_value(values)
            cells = list(map(repr, values))
            return cells if _NONE not in kinds else list(map(_NONE_TEXT, cells, cells))

        return double

    if data_type.startswith("timestamp"):
        import numpy as np  # here, not at import: DAG parsing loads this module and needs no numpy

        def timestamp(values: list) -> list[str]:
            kinds = set(map(type, values))
            if not kinds <= _MILLIS:
                return by_value(values)
            present = values if _NONE not in kinds else list(filter(_NOT_NONE, values))
            if kinds == {int} and min(values) >= _MIN_MILLIS and max(values) <= _MAX_MILLIS:
                # whole milliseconds in datetime's range: numpy writes them in C, as "2018-11-01T20:57:10.796";
                # PostgreSQL reads the same timestamp as from the reference's "2018-11-01 20:57:10.796000"
                return np.datetime_as_string(np.array(values, dtype="datetime64[ms]"), unit="ms").tolist()
            try:
                # timedelta(0, 0, 0, ms) is timedelta(milliseconds=ms), as the reference computes it
                moments = map(_EPOCH.__add__, map(dt.timedelta, repeat(0), repeat(0), repeat(0), present))
                cells = list(map(_ISO, moments))
            except OverflowError:
                return by_value(values)  # the reference names the value in a readable error
            return cells if present is values else _with_nulls(values, cells)

        return timestamp

    return by_value


_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def _unescape(cell: str) -> str:
    return _UNESCAPE.sub(lambda match: _UNESCAPED[match.group(1)], cell) if "\\" in cell else cell


#: COPY BINARY type of each column type, and how to read the reference's text cell back as that value
#: (the value PostgreSQL itself would read from that text); other column types load as COPY text
_BINARY: dict[str, tuple[str, Callable[[str], Any]]] = {
    "character varying": ("varchar", _unescape),
    "text": ("text", _unescape),
    "character": ("bpchar", _unescape),
    "smallint": ("int2", int),
    "integer": ("int4", int),
    "bigint": ("int8", int),
    "double precision": ("float8", float),
    "timestamp without time zone": ("timestamp", dt.datetime.fromisoformat),
    "boolean": ("bool", "t".__eq__),
}


def _value_encoder(  # noqa: C901 - one branch per column type reads best
    data_type: str, max_length: int | None, options: CopyOptions, exact: Callable[[Any], str]
) -> Callable[[list], list]:
    """Like ``_column_encoder``, for COPY BINARY: Python values (None for NULL) instead of text cells.

    No escaping: binary needs none. Whatever the fast checks do not clear goes through ``exact`` and is
    read back from its text, so the value is the one PostgreSQL would read from the reference's COPY text.
    """
    parse = _BINARY[data_type][1]

    def by_value(values: list) -> list:
        try:
            cells = list(map(exact, values))
        except (TypeError, ValueError, OverflowError):
            raise _NotFast from None
        return [None if cell == _NULL else parse(cell) for cell in cells]

    if data_type in ("character varying", "text", "character"):
        nulls = {"": None} if options.empty_as_null else {}
        null_or_value = nulls.get

        def text(values: list) -> list:
            kinds = set(map(type, values))
            if not kinds <= _TEXT:
                return by_value(values)
            filled = list(filter(None, values))
            if filled and max_length and max(map(len, filled)) > max_length:
                raise _NotFast  # the reference path cuts it and counts it (``truncated``), by line
            if filled and (
                "\x00" in "".join(filled)  # the reference drops NUL characters
                or list(map(str.strip, filled)) != filled
            ):
                return by_value(values)
            if len(filled) == len(values) or not nulls:
                return values
            return list(map(null_or_value, values, values))

        return text

    if data_type in _INT_RANGES:
        limit = _INT_RANGES[data_type]

        def integer(values: list) -> list:
            kinds = set(map(type, values))
            present = _present_values(values, kinds, _INT)
            if present is None or (present and not (-limit <= min(present) and max(present) < limit)):
                return by_value(values)
            return values

        return integer

    if data_type == "double precision":

        def double(values: list) -> list:
            return values if set(map(type, values)) <= _FLOAT else by_value(values)

        return double

    if data_type == "timestamp without time zone":
        import numpy as np  # here, not at import: DAG parsing loads this module and needs no numpy

        def timestamp(values: list) -> list:
            kinds = set(map(type, values))
            present = _present_values(values, kinds, _MILLIS)
            if present is None:
                return by_value(values)
            if int in kinds and float not in kinds and present:
                if min(present) >= _MIN_MILLIS and max(present) <= _MAX_MILLIS:
                    moments = np.array(present, dtype="datetime64[ms]").tolist()
                    return moments if present is values else _with_nulls(values, moments, None)
                return by_value(values)
            try:
                moments = list(map(_EPOCH.__add__, map(dt.timedelta, repeat(0), repeat(0), repeat(0), present)))
            except OverflowError:
                return by_value(values)
            return moments if present is values else _with_nulls(values, moments, None)

        return timestamp

    return by_value


def _present_values(values: list, kinds: set, allowed: frozenset) -> list | None:
    """The values other than None when all are None or of an ``allowed`` type; else None."""
    if not kinds <= allowed:
        return None
    return values if _NONE not in kinds else list(filter(_NOT_NONE, values))


class StreamEncoder:
    """Encodes JSON objects into COPY text, piece by piece, with the rules and errors of ``RowEncoder``.

    :param mapping: how records map onto the staging columns.
    :param options: the COPY data-conversion options.
    :param piece_bytes: source bytes read per step (the memory held per object is a small multiple).
    """

    def __init__(self, mapping: JsonMapping, options: CopyOptions | None = None, piece_bytes: int = PIECE_BYTES):
        self.exact = RowEncoder(mapping, options or CopyOptions())
        self.piece_bytes = piece_bytes
        self._decode_line: Callable[[bytes], Any] | None = None
        if mapping.flat_keys is not None and not mapping.ignorecase:
            keys = list(dict.fromkeys(mapping.flat_keys))
            names: dict[str, str] = {f"f{i}": str(key) for i, key in enumerate(keys)}
            # a struct of the mapped keys only: msgspec skips (but still validates) every other key
            # gc=False: records hold only JSON values (trees), never cycles; tracking them costs time
            record = msgspec.defstruct("Record", [(name, Any, None) for name in names], rename=names, gc=False)
            self._decode_line = msgspec.json.Decoder(record).decode
            self._getters = [attrgetter(f"f{keys.index(key)}") for key in mapping.flat_keys]
            self._encoders = [
                _column_encoder(column.data_type, column.max_length, self.exact.options, convert)
                for column, convert in zip(mapping.columns, self.exact.converters, strict=True)
            ]
        #: the columns' COPY BINARY types (psycopg names), or None when a column type has no binary path
        self.binary_types: list[str] | None = None
        if all(column.data_type in _BINARY for column in mapping.columns):
            self.binary_types = [_BINARY[column.data_type][0] for column in mapping.columns]
            self._parsers = [_BINARY[column.data_type][1] for column in mapping.columns]
            if self._decode_line is not None:
                self._value_encoders = [
                    _value_encoder(column.data_type, column.max_length, self.exact.options, convert)
                    for column, convert in zip(mapping.columns, self.exact.converters, strict=True)
                ]

    # -- one object ---------------------------------------------------------------------------------

    def encode_object(
        self,
        body: bytes,
        where: str,
        extra: Sequence[str] = (),
        binary: bool = False,
        reject: Reject | None = None,
        rules: RecordRules | None = None,
        truncated: Truncated | None = None,
    ) -> tuple[list, int]:
        """Encode one object held in memory; returns (chunks, as ``chunks`` yields them, record count)."""
        chunks, rows = [], 0
        for chunk, count in self.chunks(body, where, extra, binary, reject, rules, truncated):
            chunks.append(chunk)
            rows += count
        return chunks, rows

    def chunks(
        self,
        body: bytes | BinaryIO,
        where: str,
        extra: Sequence[str] = (),
        binary: bool = False,
        reject: Reject | None = None,
        rules: RecordRules | None = None,
        truncated: Truncated | None = None,
    ) -> Iterator[tuple[Any, int]]:
        """Yield ``(chunk, rows)`` for one object, a piece at a time.

        :param body: the object's bytes, or a binary file-like (``Source.open``) read ``piece_bytes`` at a time.
        :param where: the object's name in errors (``s3://bucket/key``).
        :param extra: constant cells appended to every row (the ``_source_key``).
        :param binary: chunks are lists of row tuples for COPY BINARY (``binary_types``, then ``extra``)
            instead of COPY text.
        :param reject: told of each bad record, which is left out, instead of failing the object (the
            fast path never rejects: on any doubt a piece goes through ``RowEncoder``, which decides).
        :param rules: what the models need of each record (``sparkify.staging.rules``): a record breaking
            one fails or is rejected like a value its column cannot hold; vocabularies are normalised.
        :param truncated: told of each value cut to its column's length (the fast path leaves a piece with
            a value too long to the reference path, which cuts it and says where).
        :raises StagingDataError: naming object, line and field, as ``RowEncoder.encode`` does.
        """
        if binary and self.binary_types is None:
            raise ValueError("a column type has no COPY BINARY path: encode as text")
        suffix = copy_suffix(extra)
        line, offset = 1, 0
        tail: list = []  # the reference parser's unfinished record: [text, its first line]
        for piece, last in self._pieces(io.BytesIO(body) if isinstance(body, bytes | bytearray) else body, where):
            if offset == 0 and piece.startswith(_BOM_BYTES):
                raise StagingDataError(bom_message(where))
            fast = (
                None if tail or self._decode_line is None else self._fast(piece, suffix, binary and tuple(extra), rules)
            )
            if fast is not None:
                if fast[1]:
                    yield fast
            else:
                try:
                    text = piece.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise StagingDataError(
                        f"{where}: not UTF-8 text ({error.reason} at byte {offset + error.start})"
                    ) from None
                start = line
                if tail:
                    text, start = tail[0] + text, tail[1]
                tail = None if last else []  # type: ignore[assignment]  # None: the last piece keeps no tail
                records = iter_records(text, where, start, tail, reject)
                lines = self.exact.encode_records(records, where, suffix, reject, rules, truncated)
                if lines:
                    yield (self._read_back(lines, tuple(extra)) if binary else "".join(lines)), len(lines)
                if tail and len(tail[0]) > MAX_LINE_BYTES:
                    raise StagingDataError(
                        f"{where}, line {tail[1]}: no JSON object ends within {MAX_LINE_BYTES} bytes"
                    )
            line += piece.count(b"\n")
            offset += len(piece)

    def _pieces(self, stream: BinaryIO, where: str) -> Iterator[tuple[bytes, bool]]:
        """Cut the stream at newlines (never inside a UTF-8 character or a JSON string); the last is flagged."""
        pending = b""
        line = 1
        while block := stream.read(self.piece_bytes):
            data = pending + block if pending else block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_LINE_BYTES:
                    raise StagingDataError(f"{where}, line {line}: a line longer than {MAX_LINE_BYTES} bytes")
                pending = data
                continue
            line += data.count(b"\n", 0, cut)
            pending = data[cut:]
            yield data[:cut], False
        yield pending, True

    def _read_back(self, lines: list[str], extra: tuple[str, ...]) -> list[tuple]:
        """The reference's COPY text lines as row tuples: the values PostgreSQL would read from them."""
        width = len(self._parsers)
        rows = []
        for line in lines:
            cells = line[:-1].split("\t", width)[:width]
            values = tuple(None if c == _NULL else parse(c) for parse, c in zip(self._parsers, cells, strict=True))
            rows.append(values + extra)
        return rows

    def _fast(
        self, piece: bytes, suffix: str, binary_extra: tuple[str, ...] | bool = False, rules: RecordRules | None = None
    ) -> tuple[Any, int] | None:
        """Encode a piece of JSON lines column by column, or None when the reference path must decide."""
        lines = piece.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        if b"" in lines:
            lines = [line for line in lines if line]
        try:
            assert self._decode_line is not None  # the fast path exists only with a decoder
            records = list(map(self._decode_line, lines))
            if not records:
                return "", 0
            encoders = self._value_encoders if binary_extra is not False else self._encoders
            values = [list(map(get, records)) for get in self._getters]
            if rules is not None and not rules.plainly_met(values):
                raise _NotFast  # a record may break a rule or need normalising: the reference path decides
            cells = [encode(column) for column, encode in zip(values, encoders, strict=True)]
        except (msgspec.MsgspecError, UnicodeDecodeError, _NotFast):
            return None
        if binary_extra is not False:
            constants = binary_extra if isinstance(binary_extra, tuple) else ()
            return list(zip(*cells, *map(repeat, constants), strict=False)), len(records)
        return suffix.join(map("\t".join, zip(*cells, strict=True))) + suffix, len(records)


# -- COPY ---------------------------------------------------------------------------------------------


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
        failure: StagingDataError | None = None
        while pending is not None and not callable(pending.body) and sum(n for _, n in encoded) < RUN_ROWS:
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
