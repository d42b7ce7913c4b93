"""Compression told by magic bytes, gzip read as a stream, and one logical object per X / X.gz pair."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import json
import lzma

import pytest

from sparkify.sources import LocalSource, SourceObject
from sparkify.staging.compression import (
    GZIP,
    MAGIC_BYTES,
    SourceConflict,
    compression_of,
    decompressed,
    logical_name,
    one_per_logical_name,
)
from sparkify.staging.day_listing import DayListing
from sparkify.staging.json_copy import StagingDataError
from sparkify.window import Window

UTC = dt.UTC
WHERE = "s3://bucket/log_data/2018/11/2018-11-05-events.json"
TEXT = b"".join(json.dumps({"n": n, "pad": "x" * (n % 97)}).encode() + b"\n" for n in range(5000))
# the magic numbers as the formats' specifications give them, written out here, not taken from the code
ZSTD_FRAME = bytes.fromhex("28b52ffd") + b"\x00" * 8
XZ_STREAM = lzma.compress(TEXT, format=lzma.FORMAT_XZ)


def test_gzip_is_told_by_its_first_two_bytes_whatever_follows() -> None:
    assert gzip.compress(TEXT)[:2] == b"\x1f\x8b"
    assert compression_of(gzip.compress(TEXT)[:MAGIC_BYTES], where=WHERE) == GZIP
    assert compression_of(b"\x1f\x8b", where=WHERE) == GZIP


def test_json_text_and_an_empty_object_are_not_compressed() -> None:
    for head in (TEXT[:MAGIC_BYTES], b"", b" \n{", b"[1]", b"\xef\xbb\xbf{"):
        assert compression_of(head, where=WHERE) is None, head


@pytest.mark.parametrize(
    ("body", "name"),
    [(bz2.compress(TEXT), "bzip2"), (ZSTD_FRAME, "zstd"), (XZ_STREAM, "xz")],
    ids=["bzip2", "zstd", "xz"],
)
def test_other_compressions_fail_naming_the_compression_and_the_object(body: bytes, name: str) -> None:
    with pytest.raises(StagingDataError) as error:
        compression_of(body[:MAGIC_BYTES], where=WHERE)
    assert f"compressed with {name}" in str(error.value)
    assert WHERE in str(error.value)
    with pytest.raises(StagingDataError, match=f"compressed with {name}"):
        decompressed(io.BytesIO(body), where=WHERE)


def test_bzh_followed_by_no_block_size_is_not_bzip2() -> None:
    assert compression_of(b"BZhx{}", where=WHERE) is None


class Trickle(io.RawIOBase):
    """A network stream: at most ``step`` bytes per read, and it records the largest read asked of it."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.position, self.largest, self.closed_by_reader = data, step, 0, 0, False

    def read(self, size: int = -1) -> bytes:
        self.largest = max(self.largest, size)
        size = self.step if size is None or size < 0 else min(size, self.step)
        chunk = self.data[self.position : self.position + size]
        self.position += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed_by_reader = True


def read_all(stream, size: int) -> bytes:
    out = []
    while block := stream.read(size):
        assert len(block) <= size
        out.append(block)
    return b"".join(out)


def test_a_gzip_stream_is_decompressed_piece_by_piece_even_when_the_network_returns_one_byte() -> None:
    raw = Trickle(gzip.compress(TEXT[:20_000]) + gzip.compress(TEXT[20_000:]), step=1)  # two gzip members
    stream = decompressed(raw, where=WHERE)
    assert read_all(stream, 4096) == TEXT
    stream.close()
    assert raw.closed_by_reader


def test_a_plain_stream_comes_back_whole_with_its_sniffed_bytes_in_front() -> None:
    stream = decompressed(Trickle(TEXT, step=3), where=WHERE)
    assert read_all(stream, 5) == TEXT
    assert decompressed(io.BytesIO(b""), where=WHERE).read(10) == b""


def test_a_damaged_gzip_stream_fails_naming_the_object() -> None:
    whole = gzip.compress(TEXT)
    with pytest.raises(StagingDataError) as error:
        read_all(decompressed(io.BytesIO(whole[: len(whole) // 2]), where=WHERE), 65536)
    assert WHERE in str(error.value) and "gzip" in str(error.value)


def test_local_head_reads_only_the_first_bytes(tmp_path) -> None:
    compressed = gzip.compress(TEXT)  # once: the gzip header holds the time it was written
    (tmp_path / "a.json").write_bytes(compressed)
    (tmp_path / "empty.json").write_bytes(b"")
    source = LocalSource(tmp_path)
    assert source.head("a.json", MAGIC_BYTES) == compressed[:MAGIC_BYTES]
    assert source.head("empty.json", MAGIC_BYTES) == b""


def test_an_object_and_its_gz_twin_are_one_logical_object() -> None:
    assert logical_name("d/2018-11-05-events.json.gz") == logical_name("d/2018-11-05-events.json")
    assert logical_name("d/2018-11-05-events.json.late") != logical_name("d/2018-11-05-events.json")
    objects = [SourceObject(k, "v", 1) for k in ("a.json", "a.json.late", "b.json.gz", "a.json.gz")]
    seen = []
    with pytest.raises(SourceConflict) as error:
        seen.extend(o.key for o in one_per_logical_name(objects, locate=lambda key: f"s3://b/{key}"))
    assert seen == ["a.json", "a.json.late", "b.json.gz"]
    assert "s3://b/a.json and s3://b/a.json.gz" in str(error.value)


def test_a_day_listing_keeps_a_longer_named_neighbour_and_refuses_a_gz_twin(tmp_path) -> None:
    folder = tmp_path / "log_data" / "2018" / "11"
    folder.mkdir(parents=True)
    for name in ("2018-11-05-events.json", "2018-11-05-events.json.late", "2018-11-05-events-2.json.gz"):
        (folder / name).write_text("{}\n")
    window = Window(dt.datetime(2018, 11, 5, tzinfo=UTC), dt.datetime(2018, 11, 6, tzinfo=UTC))
    listing = DayListing(LocalSource(tmp_path), "log_data/%Y/%m/%Y-%m-%d-events.json", window)
    assert [o.key.rsplit("/", 1)[1] for o in listing] == [
        "2018-11-05-events-2.json.gz",
        "2018-11-05-events.json",
        "2018-11-05-events.json.late",
    ]
    (folder / "2018-11-05-events.json.gz").write_bytes(gzip.compress(b"{}\n"))
    with pytest.raises(SourceConflict) as error:
        list(DayListing(LocalSource(tmp_path), "log_data/%Y/%m/%Y-%m-%d-events.json", window))
    assert f"{folder}/2018-11-05-events.json and {folder}/2018-11-05-events.json.gz" in str(error.value)
