"""Compressed source objects: told by their first bytes (magic numbers), never by their names alone.

A producer may gzip its day files (``2018-11-05-events.json.gz``), or upload gzip bytes under a
``.json`` name; both load, on both targets: PostgreSQL staging decompresses the stream piece by piece
(:func:`decompressed`, memory stays bounded), Redshift's COPY gets its ``GZIP`` option
(:mod:`sparkify.staging.s3_copy`). Other compressions (bzip2, zstd, xz) fail the object at once with an
error naming the compression and the object: the PostgreSQL path cannot read them, and both targets
must stage the same rows.

One day's object and its ``.gz`` twin (``X.json`` and ``X.json.gz``) are one *logical object*: staging
both would load the day twice, so a listing that holds both fails naming both (:func:`one_per_logical_name`).
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import TYPE_CHECKING

from sparkify.staging.json_copy import StagingDataError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import BinaryIO

    from sparkify.sources import SourceObject

GZIP = "gzip"
#: how many leading bytes tell a compression apart (xz's magic is the longest)
MAGIC_BYTES = 6
_GZIP_MAGIC = b"\x1f\x8b"
# bzip2's "BZh" is followed by the block size digit 1-9, which no JSON text starts with
_UNSUPPORTED = (
    (re.compile(rb"BZh[1-9]"), "bzip2"),
    (re.compile(re.escape(b"\x28\xb5\x2f\xfd")), "zstd"),
    (re.compile(re.escape(b"\xfd7zXZ\x00")), "xz"),
)
#: the name suffix that marks a compressed twin of a logical object
_COMPRESSED_SUFFIX = ".gz"


class SourceConflict(StagingDataError):
    """Two objects of the source are one logical object (``X`` and ``X.gz``): staging both would load it twice."""


def compression_of(head: bytes, *, where: str) -> str | None:
    """``"gzip"`` when ``head`` (an object's first :data:`MAGIC_BYTES` bytes) starts a gzip stream, else ``None``.

    :raises StagingDataError: for a compression staging cannot read (bzip2, zstd, xz), naming it and ``where``.
    """
    if head.startswith(_GZIP_MAGIC):
        return GZIP
    for magic, name in _UNSUPPORTED:
        if magic.match(head):
            raise StagingDataError(
                f"{where}: compressed with {name} (its first bytes are {head[:MAGIC_BYTES].hex(' ')}); only gzip "
                "is read: upload it gzip-compressed or uncompressed"
            )
    return None


def logical_name(key: str) -> str:
    """The object a key holds, compressed or not: ``X.json.gz`` and ``X.json`` are both ``X.json``."""
    return key.removesuffix(_COMPRESSED_SUFFIX)


def one_per_logical_name(objects: Iterable[SourceObject], *, locate: Callable[[str], str]) -> Iterator[SourceObject]:
    """``objects`` as they come, failing at the second object of a logical name (``X`` and ``X.gz``).

    Which of the two is current cannot be told from the source (a producer switching to gzip may leave
    the old one, or re-upload both), and staging both doubles the day: the task fails naming both, so
    that one is deleted. Memory: one entry per object listed, as the listing's own bookkeeping.
    """
    seen: dict[str, str] = {}
    for obj in objects:
        name = logical_name(obj.key)
        other = seen.setdefault(name, obj.key)
        if other != obj.key:
            raise SourceConflict(
                f"{locate(other)} and {locate(obj.key)} are the same object, once compressed: staging both "
                "would load its rows twice. Delete the one that is not current"
            )
        yield obj


def head_of(stream: BinaryIO) -> bytes:
    """Read the first :data:`MAGIC_BYTES` bytes (a network stream may return fewer per read)."""
    head = b""
    while len(head) < MAGIC_BYTES and (block := stream.read(MAGIC_BYTES - len(head))):
        head += block
    return head


class _Peeked:
    """A stream whose first bytes were read to sniff it, with those bytes put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        if size is None or size < 0:
            return head + self._stream.read()
        if len(head) > size:
            head, self._head = head[:size], head[size:]
            return head
        return head + (self._stream.read(size - len(head)) if size > len(head) else b"")

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close:
            close()


class _Gunzip:
    """gzip decompression of a stream, ``read(n)`` at a time; a damaged stream is a data error naming the object."""

    def __init__(self, raw: _Peeked, where: str) -> None:
        self._raw = raw
        # typeshed asks for seek() too, which reading forwards never calls
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[call-overload]
        self._where = where
        self._out = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._gzip.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise StagingDataError(
                f"{self._where}: its gzip data is damaged after {self._out} decompressed bytes ({error})"
            ) from None
        self._out += len(data)
        return data

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()


def decompressed(stream: BinaryIO, *, where: str) -> BinaryIO:
    """``stream`` as the JSON text it holds: decompressed as it is read when it is gzip, else as is.

    :raises StagingDataError: for another compression (the stream is closed).
    """
    head = head_of(stream)
    peeked = _Peeked(head, stream)
    try:
        kind = compression_of(head, where=where)
    except StagingDataError:
        peeked.close()
        raise
    return _Gunzip(peeked, where) if kind == GZIP else peeked  # type: ignore[return-value]
