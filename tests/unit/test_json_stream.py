"""The fast, streaming encoder gives the reference encoder's rows and errors, piece by piece."""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import pytest

from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping, StagingDataError
from sparkify.staging.json_stream import StreamEncoder
from sparkify.staging.row_encoder import RowEncoder

COLUMNS = [
    Column("artist", "character varying", 12),
    Column("user_id", "character varying", 64),
    Column("session_id", "integer"),
    Column("length", "double precision"),
    Column("ts", "timestamp without time zone"),
]
TS = 4
WHERE = "s3://b/log.json"
PATHS = {"jsonpaths": ["$['artist']", "$['userId']", "$['sessionId']", "$['length']", "$['ts']"]}


def mapping(json_format: str = "paths.json") -> JsonMapping:
    return JsonMapping(COLUMNS, json_format, PATHS if json_format == "paths.json" else None)


def reference_rows(text: str, json_format: str = "paths.json", options: CopyOptions | None = None) -> list[list]:
    lines, _ = RowEncoder(mapping(json_format), options or CopyOptions()).encode(text, WHERE, extra=("k",))
    return [_cells(line) for line in lines]


def fast_rows(body: bytes, json_format: str = "paths.json", piece_bytes: int = 1 << 20, **kwargs) -> list[list]:
    encoder = StreamEncoder(mapping(json_format), kwargs.get("options"), piece_bytes=piece_bytes)
    chunks = [chunk for chunk, _ in encoder.chunks(io.BytesIO(body), WHERE, extra=("k",))]
    return [_cells(line) for line in "".join(chunks).splitlines(keepends=True)]


def _cells(line: str) -> list:
    """A COPY line's cells, the timestamp read as an instant: the encoders may spell it differently."""
    cells: list = line.rstrip("\n").split("\t")
    if cells[TS] != r"\N":
        cells[TS] = dt.datetime.fromisoformat(cells[TS])
    return cells


def varied_records(count: int, seed: int) -> list[dict]:
    """Values of every kind the rules treat differently, mixed at random."""
    pick = random.Random(seed)
    texts = ["Björk", "", "   ", " pad", "tab\there", "new\nline", "back\\slash", "x" * 30, "東京", None, 7, True]
    ints = [1, -5, 2**31 - 1, 3.0, "42", "", None]
    floats = [1.5, 2, 1e-7, 1540448543828.0, "3.25", "", None]
    stamps = [1541105830796, 0, -1000, 1541105830796.5, "1541105830796", "", None]
    records = []
    for _ in range(count):
        record = {
            "artist": pick.choice(texts),
            "userId": pick.choice(texts[:10]),
            "sessionId": pick.choice(ints),
            "length": pick.choice(floats),
            "ts": pick.choice(stamps),
            "other": {"nested": [1, 2]},
        }
        for key in list(record):
            if pick.random() < 0.1:
                del record[key]
        records.append(record)
    return records


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_rows_equal_the_reference_rows_for_every_kind_of_value(seed) -> None:
    text = "\n".join(json.dumps(r, ensure_ascii=seed == 1) for r in varied_records(500, seed)) + "\n"
    expected = reference_rows(text)
    assert len(expected) == 500
    assert fast_rows(text.encode()) == expected
    assert fast_rows(text.encode(), piece_bytes=300) == expected


def test_plain_json_lines_take_the_fast_path_and_match() -> None:
    records = [
        {"artist": "A", "userId": "7", "sessionId": i, "length": 1.25 * i, "ts": 1541105830796 + i} for i in range(100)
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    assert fast_rows(text.encode()) == reference_rows(text)


QUOTED_INTEGERS = [
    ["7", "007", "2147483647", "0", "-2147483648"],  # quoted numbers, leading zeros, the range's ends
    ["7", None, "12", None],  # with nulls
    ["7", "", "12"],  # a blank: NULL under EMPTYASNULL
    ["7", " 8", "+9", "-3"],  # white space and signs
    ["7", "\u0663", "12"],  # a digit outside ASCII (ARABIC-INDIC THREE)
]


@pytest.mark.parametrize("values", QUOTED_INTEGERS)
def test_integers_given_as_strings_load_as_the_reference_reads_them(values) -> None:
    """Producers quote numbers (the event logs' ``"userId": "39"``): every spelling loads as the reference reads it."""
    text = "".join(json.dumps({"sessionId": value, "artist": "A"}) + "\n" for value in values)
    expected = reference_rows(text)
    assert expected[0][2] == "7" and len(expected) == len(values)
    assert fast_rows(text.encode()) == expected
    assert fast_rows(text.encode(), piece_bytes=16) == expected


def test_a_blank_quoted_integer_without_emptyasnull_fails_as_the_reference_fails() -> None:
    text = "".join(json.dumps({"sessionId": value}) + "\n" for value in ["7", "8", "", "9"])
    options = CopyOptions(empty_as_null=False)
    with pytest.raises(StagingDataError) as reference:
        reference_rows(text, options=options)
    with pytest.raises(StagingDataError) as fast:
        fast_rows(text.encode(), options=options)
    assert str(fast.value) == str(reference.value)
    assert "line 3" in str(fast.value)


def test_auto_mode_and_without_truncate_or_emptyasnull() -> None:
    records = [{"artist": "", "user_id": "  ", "session_id": 1, "ts": 5}, {"artist": "ok"}]
    text = "\n".join(json.dumps(r) for r in records)
    options = CopyOptions(empty_as_null=False, blanks_as_null=False)
    assert fast_rows(text.encode(), "auto", options=options) == reference_rows(text, "auto", options)


def test_pretty_printed_objects_spanning_pieces_blank_lines_and_crlf() -> None:
    text = (
        '{\n  "artist": "A",\n  "sessionId": 1\n}\n\n{"artist": "B"} {"artist": "C"}\r\n\r\n'
        + "\n".join(json.dumps({"artist": f"n{i}", "ts": i}) for i in range(50))
        + '\n{\n "artist":\n  "D"\n}'
    )
    expected = reference_rows(text)
    assert [row[0] for row in expected][:3] == ["A", "B", "C"] and expected[-1][0] == "D"
    for piece_bytes in (7, 64, 1 << 20):
        assert fast_rows(text.encode(), piece_bytes=piece_bytes) == expected


def test_an_object_given_as_bytes_or_a_stream_encodes_alike() -> None:
    text = "\n".join(json.dumps(r) for r in varied_records(50, 9))
    encoder = StreamEncoder(mapping(), piece_bytes=128)
    chunks, rows = encoder.encode_object(text.encode(), WHERE, ("k",))
    streamed = list(encoder.chunks(io.BytesIO(text.encode()), WHERE, ("k",)))
    assert rows == 50 == sum(count for _, count in streamed)
    assert "".join(chunks) == "".join(chunk for chunk, _ in streamed)


BAD_OBJECTS = [
    '{"sessionId": 1}\n{"sessionId": 2}\n{"sessionId": "two"}\n',
    '{"artist": "A"}\n{"artist": \n',
    '{"artist": "A"}\n[1, 2]\n',
    '{"sessionId": 4294967296}\n',
    '{"sessionId": 1.5}\n',
    '{"ts": "soon"}\n',
    '{"artist": "A"}\n{"artist": "A"}\n{"length": "long"}\n{"artist": \n',
    '{\n "artist": "A"\n}\n{\n "artist": [\n}\n',
    '{"artist": "A"}\n{"artist": "B"}}\n',
    '{"sessionId": "7"}\n{"sessionId": "2147483648"}\n',
    '{"sessionId": "7"}\n{"sessionId": "12345678901234567890123"}\n',
]


@pytest.mark.parametrize("text", BAD_OBJECTS)
@pytest.mark.parametrize("piece_bytes", [8, 1 << 20])
@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_errors_are_the_reference_errors(text, piece_bytes, binary) -> None:
    with pytest.raises(StagingDataError) as reference:
        reference_rows(text)
    encoder = StreamEncoder(mapping(), piece_bytes=piece_bytes)
    with pytest.raises(StagingDataError) as fast:
        list(encoder.chunks(text.encode(), WHERE, ("k",), binary=binary))
    assert str(fast.value) == str(reference.value)
    assert str(fast.value).startswith(f"{WHERE}, line ")


def test_bad_utf8_names_the_byte_offset() -> None:
    body = b'{"artist": "A"}\n{"artist": "\xff"}\n'
    bad_byte = body.index(0xFF)
    with pytest.raises(StagingDataError) as error:
        fast_rows(body, piece_bytes=4)
    assert str(error.value) == f"{WHERE}: not UTF-8 text (invalid start byte at byte {bad_byte})"
