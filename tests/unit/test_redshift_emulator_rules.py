"""The emulator's pure parts: which statements it rewrites, how it reads COPY, Redshift's JSON rules.

Expected values are written from AWS's documentation, not from the emulator's code.
"""

from __future__ import annotations

import pytest
from support.redshift_emulator.copy_from_s3 import copy_spec
from support.redshift_emulator.json_rules import (
    MISSING,
    Column,
    CopyError,
    LoadError,
    Options,
    convert,
    extract,
    jsonpaths_from_document,
    parse_jsonpath,
    records,
)
from support.redshift_emulator.translate import translate

INT = Column("n", "int4")
TS = Column("ts", "timestamp")
NAME = Column("name", "varchar", type_mod=4 + 4)  # varchar(4)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from songplays where start_time >= $1 and start_time < $2",
        "insert into t (a, b) values ($1, $2)",
        "lock staging_events",
        "create temp table stage_unit (like staging_events)",
        "create table if not exists t (a int)  -- no Redshift attribute here",
        "select pg_last_copy_id()",
        "copy t (a) from stdin",
    ],
)
def test_statements_postgresql_can_run_pass_byte_for_byte(sql):
    [piece] = translate(sql)
    assert (piece.original, piece.replacement, piece.copy) == (sql, None, None)


def test_redshift_table_attributes_are_dropped_and_the_rest_kept():
    [piece] = translate(
        "create table if not exists songplays (\n  songplay_id varchar(32) not null encode zstd,\n"
        "  song_id varchar(32) distkey,\n  start_time timestamp not null sortkey,\n"
        "  primary key (songplay_id)\n) diststyle key compound sortkey (start_time, song_id);"
    )
    # the primary key is informational on Redshift: not enforced, so not created (its column stays NOT NULL)
    assert piece.replacement == (
        "CREATE TABLE IF NOT EXISTS songplays (songplay_id VARCHAR(32) NOT NULL, song_id VARCHAR(32),"
        " start_time TIMESTAMP NOT NULL)"
    )


def test_only_the_statement_that_needs_it_is_rewritten_in_a_multi_statement_message():
    pieces = translate("create table a (x int); create table b (y int) diststyle all; select 'dist;key'")
    assert [p.replacement for p in pieces] == [None, "CREATE TABLE b (y INT)", None]


def test_vacuum_keeps_only_its_table():
    assert translate("vacuum sort only public.events to 75 percent boost")[0].replacement == "VACUUM public.events"


def test_copy_options_are_read_from_the_parsed_statement():
    [piece] = translate(
        "copy stage_unit (artist, ts)\nfrom 's3://bucket/log_data/x.json'\niam_role 'arn:aws:iam::1:role/r'\n"
        "format as json 's3://bucket/log_json_path.json'\nmanifest\nregion 'us-west-2'\n"
        "timeformat 'epochmillisecs'\ntruncatecolumns\nblanksasnull\nemptyasnull\ncompupdate off\n"
        "statupdate off\nmaxerror as 3"
    )
    spec = copy_spec(piece.copy)
    assert (spec.table_name, spec.columns, spec.source) == (
        "stage_unit",
        ["artist", "ts"],
        "s3://bucket/log_data/x.json",
    )
    assert (spec.iam_role, spec.json_format, spec.manifest, spec.region, spec.maxerror) == (
        "arn:aws:iam::1:role/r",
        "s3://bucket/log_json_path.json",
        True,
        "us-west-2",
        3,
    )
    assert {k: spec.options[k] for k in ("TIMEFORMAT", "TRUNCATECOLUMNS", "BLANKSASNULL", "EMPTYASNULL")} == {
        "TIMEFORMAT": "epochmillisecs",
        "TRUNCATECOLUMNS": True,
        "BLANKSASNULL": True,
        "EMPTYASNULL": True,
    }


def test_copy_credentials_as_keys_or_a_credentials_string():
    keys = copy_spec(
        translate("copy t from 's3://b/k' access_key_id 'AK' secret_access_key 'SK' session_token 'ST' json 'auto'")[
            0
        ].copy
    )
    string = copy_spec(
        translate("copy t from 's3://b/k' credentials 'aws_access_key_id=AK;aws_secret_access_key=SK' json 'auto'")[
            0
        ].copy
    )
    assert (keys.access_key, keys.secret_key, keys.session_token, keys.json_format) == ("AK", "SK", "ST", "auto")
    assert (string.access_key, string.secret_key) == ("AK", "SK")


def test_records_end_on_the_last_line_of_a_multi_line_object():
    text = '{"a": 1}\n{\n  "a": 2\n}\n\n{"a": 3} {"a": 4}\n'
    # numbers keep the text the file holds
    assert [(r.line_number, r.value["a"]) for r in records(text)] == [(1, "1"), (4, "2"), (6, "3"), (6, "4")]


def test_a_syntax_error_costs_one_line():
    found = list(records('{"a": 1}\n{"a": \n{"a": 3}\n'))
    assert [(r.line_number, r.invalid is not None) for r in found] == [(1, False), (2, True), (3, False)]


def test_jsonpaths_use_bracket_and_dot_notation_and_must_match_the_columns():
    assert parse_jsonpath("$['a']['b c'].d[2]") == ("a", "b c", "d", 2)
    with pytest.raises(CopyError, match="Number of jsonpaths"):
        jsonpaths_from_document('{"jsonpaths": ["$.a"]}', 2)
    with pytest.raises(CopyError):
        parse_jsonpath("$.items[*]")


def test_auto_is_case_sensitive_and_ignorecase_is_not():
    record = {"userId": "7", "level": "free"}
    columns = [Column("userid", "varchar"), Column("level", "varchar")]
    assert extract(record, columns, Options(json_format="auto")) == [MISSING, "free"]
    assert extract(record, columns, Options(json_format="auto ignorecase")) == ["7", "free"]


def test_jsonpaths_reach_into_nested_values_and_missing_ones_load_null():
    options = Options(json_format="s3://b/p.json", jsonpaths=("$.song.id", "$.tags[1]", "$.nothing"))
    columns = [Column("id", "varchar"), Column("tag", "varchar"), Column("x", "int4")]
    assert extract({"song": {"id": "S1"}, "tags": ["a", "b"]}, columns, options) == ["S1", "b", MISSING]


@pytest.mark.parametrize(
    ("value", "code"),
    [("nine", 1207), (3.5, 1207), (2**31, 1204), (True, 1207)],
)
def test_integers_reject_what_is_not_an_integer_in_range(value, code):
    with pytest.raises(LoadError) as error:
        convert(value, INT, Options())
    assert error.value.code == code


def test_epochmillisecs_is_milliseconds_since_1970_utc():
    assert convert(1541105830796, TS, Options(timeformat="epochmillisecs")) == "2018-11-01 20:57:10.796000"


def test_character_length_counts_bytes_and_truncatecolumns_cuts_at_a_character():
    with pytest.raises(LoadError) as error:
        convert("ééé", NAME, Options())  # 6 bytes into varchar(4)
    assert error.value.code == 1204
    assert convert("ééé", NAME, Options(truncate_columns=True)) == "éé"


def test_empty_and_blank_strings_load_as_null_only_when_asked():
    assert convert("", NAME, Options()) == ""
    assert convert("", NAME, Options(empty_as_null=True)) is None
    assert convert("  ", NAME, Options(empty_as_null=True)) == "  "
    assert convert("  ", NAME, Options(blanks_as_null=True)) is None
    assert convert("", INT, Options()) is None  # an empty field of a non-character type is NULL


def test_null_into_a_not_null_column_fails_its_record():
    with pytest.raises(LoadError) as error:
        convert(None, Column("k", "varchar", not_null=True), Options())
    assert error.value.code == 1213


def test_a_number_loads_into_a_character_column_as_written_in_the_file():
    [record] = records('{"v": 1.50E3, "n": {"x": 10.0}}')
    options = Options(json_format="auto")
    text, nested = extract(record.value, [Column("v", "varchar"), Column("n", "varchar")], options)
    assert convert(text, Column("v", "varchar"), options) == "1.50E3"
    assert convert(text, Column("v", "float8"), options) == "1500.0"
    assert convert(nested, Column("n", "varchar"), options) == '{"x":10.0}'
    with pytest.raises(LoadError):
        convert(text, INT, options)
