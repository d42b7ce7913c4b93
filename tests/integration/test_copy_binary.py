"""COPY BINARY rows from the fast encoder load exactly what the reference's COPY text loads."""

from __future__ import annotations

import functools
import io
import json
import random

import pytest

from sparkify.staging.copy_stream import CopyItem, copy_objects, write_copy
from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping, StagingDataError
from sparkify.staging.json_stream import StreamEncoder
from sparkify.staging.row_encoder import RowEncoder

COLUMNS = [
    Column("artist", "character varying", 12),
    Column("user_id", "character varying", 64),
    Column("session_id", "integer"),
    Column("item", "bigint"),
    Column("length", "double precision"),
    Column("ts", "timestamp without time zone"),
    Column("paid", "boolean"),
]
DDL = (
    "(artist varchar(12), user_id varchar(64), session_id integer, item bigint, length double precision,"
    " ts timestamp, paid boolean, _source_key varchar(100))"
)
NAMES = "artist, user_id, session_id, item, length, ts, paid, _source_key"


def varied_records(count: int, seed: int) -> list[dict]:
    """Values of every kind the rules treat differently, mixed at random."""
    pick = random.Random(seed)
    texts = ["Björk", "", "   ", " pad", "tab\there", "new\nline", "back\\slash", "nul\u0000", "x" * 30, "東京", None]
    others = [7, 2.5, True, {"a": [1, "b"]}, [1, 2]]
    ints = [1, -5, 2**31 - 1, 3.0, "42", " 7 ", "", None]
    floats = [1.5, 2, 1e-7, 0.1 + 0.2, 1540448543828.0, 2**60 + 1, "3.25", "", None]
    stamps = [1541105830796, 0, -1000, 1541105830796.5, 0.0004, "1541105830796", "", None]
    records = []
    for _ in range(count):
        record = {
            "artist": pick.choice(texts + others),
            "user_id": pick.choice(texts),
            "session_id": pick.choice(ints),
            "item": pick.choice([*ints, 2**62]),
            "length": pick.choice(floats),
            "ts": pick.choice(stamps),
            "paid": pick.choice([True, False, None]),
        }
        for key in list(record):
            if pick.random() < 0.1:
                del record[key]
        records.append(record)
    return records


def table(db, name: str) -> list[tuple]:
    return db.execute(f"select {NAMES} from {name} order by {NAMES}").fetchall()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("options", [CopyOptions(), CopyOptions(empty_as_null=False, blanks_as_null=False)])
def test_binary_rows_load_what_the_reference_text_loads(db, seed, options) -> None:
    mapping = JsonMapping(COLUMNS, "auto")
    records = varied_records(400, seed)
    if not options.empty_as_null:  # then "" in a number or timestamp column is an error, tested elsewhere
        records = [
            {k: None if v == "" and k not in ("artist", "user_id") else v for k, v in r.items()} for r in records
        ]
    body = "\n".join(json.dumps(r, ensure_ascii=seed == 1) for r in records).encode()
    for name in ("by_reference", "by_fast"):
        db.execute(f"create table {name} {DDL}")
    with db.transaction(), db.cursor() as cursor:  # copy_objects runs in the caller's transaction
        lines, _ = RowEncoder(mapping, options).encode(body.decode(), "s3://b/x.json", extra=("k",))
        write_copy(cursor, f"copy by_reference ({NAMES}) from stdin", lines)
        encoder = StreamEncoder(mapping, options, piece_bytes=2048)
        assert encoder.binary_types is not None
        items = [
            CopyItem("s3://b/x.json", ("k",), body),
            CopyItem("s3://b/x.json", ("k",), functools.partial(io.BytesIO, body)),
        ]
        outcome = copy_objects(cursor, f"copy by_fast ({NAMES}) from stdin", encoder, items)

    assert outcome.error is None and outcome.rows == [400, 400]
    expected = table(db, "by_reference")
    assert len(expected) == 400
    # each row twice: once from the object in memory, once from the stream
    assert sorted(table(db, "by_fast"), key=repr) == sorted(expected + expected, key=repr)


def test_integers_given_as_strings_load_what_the_reference_text_loads(db) -> None:
    """Quoted numbers (``"userId": "39"``), alone in their column, in every spelling: binary rows load the
    values PostgreSQL reads from the reference's text."""
    spellings = ["39", "007", "2147483647", "-2147483648", None, "", " 8", "+9", "\u0663", "9223372036854775807"]
    records = [{"session_id": spellings[i % 5], "item": spellings[(i * 7) % 10]} for i in range(300)]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    mapping = JsonMapping(COLUMNS, "auto")
    for name in ("by_reference", "by_fast"):
        db.execute(f"create table {name} {DDL}")
    with db.transaction(), db.cursor() as cursor:
        lines, _ = RowEncoder(mapping, CopyOptions()).encode(body.decode(), "s3://b/x.json", extra=("k",))
        write_copy(cursor, f"copy by_reference ({NAMES}) from stdin", lines)
        encoder = StreamEncoder(mapping, CopyOptions(), piece_bytes=64)
        outcome = copy_objects(
            cursor, f"copy by_fast ({NAMES}) from stdin", encoder, [CopyItem("s3://b/x.json", ("k",), body)]
        )
    assert outcome.error is None and outcome.rows == [300]
    expected = table(db, "by_reference")
    # the values as read by hand: a quoted number is that integer, a blank or null is NULL
    assert sorted({row[2] for row in expected}, key=repr) == sorted({39, 7, 2147483647, -2147483648, None}, key=repr)
    assert table(db, "by_fast") == expected


def test_a_bad_streamed_object_leaves_no_rows_and_the_earlier_objects_stay(db) -> None:
    mapping = JsonMapping(COLUMNS, "auto")
    db.execute(f"create table target {DDL}")
    good = b'{"artist": "A", "session_id": 1}\n' * 3000
    bad = good + b'{"session_id": "x"}\n'
    items = [
        CopyItem("good.json", ("good",), good),
        CopyItem("bad.json", ("bad",), functools.partial(io.BytesIO, bad)),
        CopyItem("after.json", ("after",), good),
    ]
    with db.transaction(), db.cursor() as cursor:
        outcome = copy_objects(
            cursor, f"copy target ({NAMES}) from stdin", StreamEncoder(mapping, piece_bytes=4096), items
        )

    assert isinstance(outcome.error, StagingDataError) and outcome.rows == [3000]
    assert str(outcome.error).startswith("bad.json, line 3001, field session_id (column session_id): ")
    assert db.execute("select _source_key, count(*) from target group by 1").fetchall() == [("good", 3000)]


def test_with_psycopg2_rows_go_as_copy_text_and_a_bad_streamed_object_still_leaves_nothing(warehouse_dsn) -> None:
    import psycopg2

    mapping = JsonMapping(COLUMNS, "auto")
    good = b'{"artist": "tab\\there", "session_id": 1}\n' * 2000
    bad = good + b'{"session_id": "x"}\n'
    items = [
        CopyItem("good.json", ("good",), good),
        CopyItem("bad.json", ("bad",), functools.partial(io.BytesIO, bad)),
    ]
    conn = psycopg2.connect(warehouse_dsn)
    try:
        cursor = conn.cursor()
        cursor.execute(f"create table target {DDL}")
        outcome = copy_objects(cursor, f"copy target ({NAMES}) from stdin", StreamEncoder(mapping), items)
        conn.commit()
        cursor.execute("select _source_key, count(*), min(artist) from target group by 1")
        loaded = cursor.fetchall()
    finally:
        conn.close()

    expected = 'bad.json, line 2001, field session_id (column session_id): expected an integer, got "x"'
    assert str(outcome.error) == expected
    assert outcome.rows == [2000] and loaded == [("good", 2000, "tab\there")]
