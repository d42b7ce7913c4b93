"""On Redshift a COPY'd row keeps no line: the records breaking a staging rule are found again by reading
their objects back (``sparkify.staging.rule_lines``), each named by its own object, line and JSONPath."""

from __future__ import annotations

import datetime as dt
import gzip
import json

from sparkify.sources import LocalSource
from sparkify.staging.json_copy import Column, JsonMapping
from sparkify.staging.rule_lines import broken_records
from sparkify.staging.rules import Rule, StagingRules

COLUMNS = [Column("page", "character varying", 64), Column("session_id", "integer"), Column("ts", "timestamp")]
PATHS = {"jsonpaths": ["$['page']", "$['sessionId']", "$['ts']"]}
NOON = 1541073600000  # 2018-11-01 12:00 UTC
NOT_NULL = Rule("session_id", "not_null", "songplays.yml: not_null(songplay_id)", when=(("page", ("NextSong",)),))


def play(**fields) -> str:
    return json.dumps({"page": "NextSong", "sessionId": 7, "ts": NOON, **fields})


def test_each_broken_record_is_named_by_its_object_line_and_path(tmp_path) -> None:
    day = tmp_path / "log_data" / "2018-11-01-events.json"
    day.parent.mkdir()
    # line 3 breaks the rule; line 2 too but is no play (the rule reads plays only); line 4 does not convert
    day.write_text("\n".join([play(), play(page="Home", sessionId=None), play(sessionId=None), play(ts="x")]))
    other = tmp_path / "log_data" / "2018-11-02-events.json"
    other.write_bytes(gzip.compress((play() + "\n" + play(sessionId=None) + "\n").encode()))  # gzip read too
    source = LocalSource(tmp_path)
    objects = [source.stat("log_data/2018-11-01-events.json"), source.stat("log_data/2018-11-02-events.json")]
    rules = StagingRules([NOT_NULL])

    found = broken_records(source, objects, JsonMapping(COLUMNS, "paths.json", PATHS), rules, auto=False)

    assert [(b.key, b.line, b.path, b.column) for b in found] == [
        ("log_data/2018-11-01-events.json", 3, "$['sessionId']", "session_id"),
        ("log_data/2018-11-02-events.json", 2, "$['sessionId']", "session_id"),
    ]
    assert found[0].reason == "column session_id: null: a value is needed (songplays.yml: not_null(songplay_id))"
    assert json.loads(found[0].record)["sessionId"] is None


def test_a_record_that_is_no_object_is_read_as_copy_reads_it_with_jsonpaths(tmp_path) -> None:
    day = tmp_path / "2018-11-01-events.json"
    day.write_text(play() + "\n[1, 2]\n")
    source = LocalSource(tmp_path)
    window = StagingRules([], time_column="ts", day_of={"2018-11-01-events.json": dt.date(2018, 11, 1)})
    mapping = JsonMapping(COLUMNS, "paths.json", PATHS)

    found = broken_records(source, [source.stat("2018-11-01-events.json")], mapping, window, auto=False)
    assert [(b.line, b.path) for b in found] == [(2, "$['ts']")]  # every path finds nothing: no ts
    assert broken_records(source, [source.stat("2018-11-01-events.json")], mapping, window, auto=True) == []
