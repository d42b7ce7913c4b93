"""Input that is not plain JSON lines (issue 10, item 12): a BOM, NaN and Infinity, huge timestamps.

Each rule holds for both the reference encoder (``RowEncoder``) and the fast one (``StreamEncoder``).
"""

from __future__ import annotations

import io

import pytest

from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping, StagingDataError
from sparkify.staging.json_stream import StreamEncoder
from sparkify.staging.row_encoder import RowEncoder

COLUMNS = [Column("artist", "character varying", 64), Column("session_id", "integer"), Column("ts", "timestamp")]
WHERE = "s3://b/log_data/day.json"


def reference(text: str) -> list[str]:
    return RowEncoder(JsonMapping(COLUMNS, "auto"), CopyOptions()).encode(text, WHERE)[0]


def fast(text: str) -> list[str]:
    encoder = StreamEncoder(JsonMapping(COLUMNS, "auto"), piece_bytes=16)
    return [chunk for chunk, _ in encoder.chunks(io.BytesIO(text.encode("utf-8")), WHERE)]


ENCODERS = pytest.mark.parametrize("encode", [reference, fast], ids=["reference", "fast"])


@ENCODERS
def test_a_byte_order_mark_is_named_as_such_and_rejected(encode) -> None:
    # Redshift's COPY JSON takes objects separated by white space, and U+FEFF is not white space: it
    # rejects the file, so the local load does too, but says what is wrong
    with pytest.raises(StagingDataError) as error:
        encode('\ufeff{"artist": "A"}\n{"artist": "B"}\n')
    message = str(error.value)
    assert message.startswith(f"{WHERE}, line 1: ") and "byte order mark (BOM)" in message


@ENCODERS
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(encode, constant) -> None:
    with pytest.raises(StagingDataError) as error:
        encode(f'{{"artist": "A"}}\n{{"artist": "B", "session_id": {constant}}}\n')
    assert str(error.value) == (
        f"""{WHERE}, line 2, field $["session_id"]: {constant} is not JSON (JSON numbers are finite)"""
    )


@ENCODERS
def test_nan_in_a_key_that_no_column_reads_is_rejected_too(encode) -> None:
    with pytest.raises(StagingDataError, match=r'line 1, field \$\["extra"\]\[1\]: NaN is not JSON'):
        encode('{"artist": "A", "extra": [1, NaN]}\n')


@ENCODERS
@pytest.mark.parametrize("ts", ["1e20", "99999999999999999", "-99999999999999999", "253402300800000"])
def test_a_huge_ts_gives_a_readable_message_naming_the_field(encode, ts) -> None:
    with pytest.raises(StagingDataError) as error:
        encode(f'{{"ts": 1541105830796}}\n{{"ts": {ts}}}\n')
    message = str(error.value)
    assert message.startswith(f"{WHERE}, line 2, field ts (column ts): ")
    assert "out of range for a timestamp" in message and "years 1 to 9999" in message
    assert "magnitude" not in message and "OverflowError" not in message


@ENCODERS
def test_the_last_millisecond_of_year_9999_still_loads(encode) -> None:
    assert len(encode('{"ts": 253402300799999}\n')) == 1


@ENCODERS
@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", "expected an integer, got 1.5"), ("2147483648", "2147483648 is out of range for integer")],
)
def test_non_integers_and_out_of_range_integers_still_fail(encode, value, expected) -> None:
    with pytest.raises(StagingDataError) as error:
        encode(f'{{"session_id": {value}}}\n')
    assert str(error.value) == f"{WHERE}, line 1, field session_id (column session_id): {expected}"
