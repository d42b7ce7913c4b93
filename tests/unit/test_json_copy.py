"""The local load applies Redshift's COPY JSON rules: mapping, NULLs, conversions, clear errors."""

from __future__ import annotations

import json

import pytest

from sparkify.staging.json_copy import Column, CopyOptions, JsonMapping, StagingDataError, parse_jsonpath
from sparkify.staging.row_encoder import RowEncoder

COLUMNS = [
    Column("artist", "character varying", 10),
    Column("user_id", "character varying", 64),
    Column("session_id", "integer"),
    Column("length", "double precision"),
    Column("ts", "timestamp without time zone"),
]


def encode(records, json_format="auto", jsonpaths=None, options=None, text=None):
    mapping = JsonMapping(COLUMNS, json_format, jsonpaths)
    body = text if text is not None else "\n".join(json.dumps(r) for r in records)
    lines, count = RowEncoder(mapping, options or CopyOptions()).encode(body, "s3://b/log.json")
    return [line.rstrip("\n").split("\t") for line in lines], count


def test_auto_matches_lowercase_column_names_only() -> None:
    rows, _ = encode([{"artist": "A", "User_Id": "7", "session_id": 3}])
    assert rows == [["A", r"\N", "3", r"\N", r"\N"]]


def test_auto_ignorecase_matches_any_case() -> None:
    rows, _ = encode([{"ARTIST": "A", "User_Id": "7"}], json_format="auto ignorecase")
    assert rows[0][:2] == ["A", "7"]


def test_jsonpaths_map_by_position_and_missing_keys_are_null() -> None:
    paths = {"jsonpaths": ["$['artist']", "$.userId", "$['session']['id']", "$.length", "$.ts"]}
    rows, _ = encode([{"artist": "A", "userId": "9", "session": {"id": 4}, "ts": 1541105830796}], "x.json", paths)
    assert rows == [["A", "9", "4", r"\N", "2018-11-01 20:57:10.796000"]]


def test_epoch_milliseconds_become_utc_timestamps() -> None:
    rows, _ = encode([{"ts": 0}, {"ts": 1541105830796}])
    assert [r[4] for r in rows] == ["1970-01-01 00:00:00", "2018-11-01 20:57:10.796000"]


def test_empty_and_blank_strings_load_as_null() -> None:
    rows, _ = encode([{"artist": "", "user_id": "   "}])
    assert rows[0][:2] == [r"\N", r"\N"]


def test_long_strings_are_truncated_to_the_column() -> None:
    rows, _ = encode([{"artist": "x" * 50}])
    assert rows[0][0] == "x" * 10


def test_without_truncatecolumns_a_long_string_is_an_error() -> None:
    with pytest.raises(StagingDataError, match="line 1, field artist"):
        encode([{"artist": "x" * 50}], options=CopyOptions(truncate_columns=False))


def test_tabs_newlines_and_backslashes_are_escaped_and_unicode_kept() -> None:
    rows, _ = encode([{"artist": "a\tb\\c"}, {"artist": "Björk 東京"}])
    assert rows[0][0] == "a\\tb\\\\c"
    assert rows[1][0] == "Björk 東京"


def test_one_object_per_file_and_pretty_printed_objects() -> None:
    text = '{\n  "artist": "A",\n  "session_id": 1\n}\n\n{"artist": "B"}'
    rows, count = encode(None, text=text)
    assert count == 2 and [r[0] for r in rows] == ["A", "B"]


def test_a_wrong_type_names_object_line_and_field() -> None:
    text = '{"session_id": 1}\n{"session_id": 2}\n{"session_id": "two"}\n'
    with pytest.raises(StagingDataError) as error:
        encode(None, text=text)
    assert (
        str(error.value)
        == 's3://b/log.json, line 3, field session_id (column session_id): expected an integer, got "two"'
    )


def test_invalid_json_names_the_line() -> None:
    with pytest.raises(StagingDataError, match=r"s3://b/log.json, line 2: invalid JSON"):
        encode(None, text='{"artist": "A"}\n{"artist": \n')


def test_integer_range_is_checked() -> None:
    with pytest.raises(StagingDataError, match="out of range for integer"):
        encode([{"session_id": 2**40}])


@pytest.mark.parametrize(
    ("path", "steps"),
    [("$['artist']", ("artist",)), ("$.a.b", ("a", "b")), ('$["a"][2]', ("a", 2))],
)
def test_jsonpath_syntax(path, steps) -> None:
    assert parse_jsonpath(path) == steps


def test_jsonpaths_count_must_match_columns() -> None:
    with pytest.raises(ValueError, match="has 1 paths for 5 columns"):
        JsonMapping(COLUMNS, "paths.json", {"jsonpaths": ["$.a"]})
