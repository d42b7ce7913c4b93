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
caller's transaction, streaming those given as openers; the staging operator's one call: in
:mod:`sparkify.staging.copy_stream`). The column encoders are in :mod:`sparkify.staging.column_encoders`.
"""

from __future__ import annotations

import io
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from sparkify.staging.column_encoders import _BINARY, _NULL, _column_encoder, _NotFast, _value_encoder
from sparkify.staging.json_copy import (
    CopyOptions,
    JsonMapping,
    StagingDataError,
    bom_message,
    iter_records,
)
from sparkify.staging.row_encoder import RowEncoder, copy_suffix

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import BinaryIO

    from sparkify.staging.json_copy import Reject, Truncated
    from sparkify.staging.rules import RecordRules


PIECE_BYTES = 1 << 20  # source bytes read and encoded per step
MAX_LINE_BYTES = 64 << 20  # a line (or an unfinished record) longer than this fails: Redshift's limit is 4 MB
_BOM_BYTES = b"\xef\xbb\xbf"


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
        stream = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        for piece, last, newlines in self._pieces(stream, where):
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
            line += newlines
            offset += len(piece)

    def _pieces(self, stream: BinaryIO, where: str) -> Iterator[tuple[bytes, bool, int]]:
        """Cut the stream at newlines (never inside a UTF-8 character or a JSON string): ``(piece, last,
        newlines in it)``, counted once here (a full scan of every piece)."""
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
            newlines = data.count(b"\n", 0, cut)
            line += newlines
            pending = data[cut:]
            yield data[:cut], False, newlines
        yield pending, True, pending.count(b"\n")

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
