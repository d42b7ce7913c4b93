"""The quarantine policy for bad records (issue 10, item 3): the rest of the window loads, every record left
out is kept with its object, line, field and reason, and a repaired object replaces its quarantine.

Expected tables come from ``oracle.py`` over the source with the bad lines deleted: what the window holds
without those records, computed from the JSON, not by the pipeline.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowFailException
from generate_demo_data import generate
from support import faults
from support.faults import DAY1, DAY2, END, START
from support.runner import run_window
from support.warehouse_state import STAR_TABLES, recreate_tables, rows, snapshot

if TYPE_CHECKING:
    from pathlib import Path

QUARANTINE = (
    "select object_key, line_number, field, reason, record from quarantined_records order by object_key, line_number"
)


@pytest.fixture(scope="module")
def clean_source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quarantine-base")
    generate(out, songs=30, users=10, days=2, events_per_day=150, seed=11)
    return out


@pytest.fixture
def source(clean_source: Path, tmp_path: Path, db) -> Path:
    recreate_tables(db)
    db.execute("delete from quarantined_records")
    return faults.copy_source(clean_source, tmp_path / "source")


def without_lines(source: Path, tmp_path: Path, drop: dict[Path, set[int]]) -> Path:
    """A copy of ``source`` without the given (1-based) lines of the given files."""
    copy = faults.copy_source(source, tmp_path / "expected")
    for path, numbers in drop.items():
        target = copy / path.relative_to(source)
        kept = [line for n, line in enumerate(faults.lines(target), start=1) if n not in numbers]
        faults.write_lines(target, kept)
    return copy


def test_bad_records_are_quarantined_and_the_rest_of_the_window_loads(dag, source, db, tmp_path) -> None:
    not_an_integer = faults.set_field(source, DAY1, "userId", "abc")
    path = faults.day_file(source, DAY2)
    text = faults.lines(path)
    text[3] = '{"ts": 1541106000000, "page": "NextSong", "length": NaN}'  # NaN is not JSON
    text[5] = '{"artist": "broken'  # not JSON at all
    faults.write_lines(path, text)

    run_window(dag, START, END, source, bad_records="quarantine")

    expected = without_lines(source, tmp_path, {not_an_integer.path: {not_an_integer.line}, path: {4, 6}})
    assert snapshot(db) == faults.oracle_tables(expected), "the window must hold every record but the bad ones"
    day1 = not_an_integer.path.relative_to(source).as_posix()
    day2 = path.relative_to(source).as_posix()
    quarantined = rows(db, QUARANTINE)
    assert [(key, line, field) for key, line, field, _, _ in quarantined] == [
        (day1, not_an_integer.line, "$['userId']"),
        (day2, 4, '$["length"]'),  # the path of the NaN as the decoder found it
        (day2, 6, None),
    ]
    assert "user_id" in quarantined[0][3] and "abc" in quarantined[0][4]  # the column at fault, the record as read
    assert "NaN is not JSON" in quarantined[1][3] and "invalid JSON" in quarantined[2][3]
    assert quarantined[2][4] == '{"artist": "broken'
    # the ledger counts the rows staged, so the staged-rows audit of later runs still holds
    staged = dict(rows(db, "select object_key, row_count from staging_ledger where table_name = 'staging_events'"))
    assert staged[day1] == len(faults.lines(not_an_integer.path)) - 1 and staged[day2] == len(text) - 2

    # a rerun stages nothing again and quarantines nothing twice
    run_window(dag, START, END, source, bad_records="quarantine")
    assert len(rows(db, QUARANTINE)) == 3

    # the repair: the objects put right are staged again in place of their rows and their quarantine
    for bad, day in ((not_an_integer.path, DAY1), (path, DAY2)):
        shutil.copy(faults.day_file(tmp_path / "expected", day), bad)
    run_window(dag, START, END, source, bad_records="quarantine")
    assert rows(db, QUARANTINE) == []
    assert snapshot(db) == faults.oracle_tables(source)


def test_more_bad_records_than_the_bound_fail_like_the_fail_policy(dag, source, db) -> None:
    first = faults.set_field(source, DAY1, "userId", "abc", n=0)
    faults.set_field(source, DAY1, "userId", "def", n=1)
    third = faults.set_field(source, DAY1, "userId", "ghi", n=2)

    with pytest.raises(AirflowFailException) as raised:
        run_window(dag, START, END, source, bad_records="quarantine", max_bad_records=2)
    message = str(raised.value)
    for text in (str(third.path), f"line {third.line}", "$['userId']", "max_bad_records=2"):
        assert text in message
    assert snapshot(db) == {table: [] for table in STAR_TABLES}, "no star table may change"
    assert rows(db, QUARANTINE) == [], "nothing of the refused object is kept, its quarantine included"
    assert first.line is not None


def test_the_fail_policy_quarantines_nothing(dag, source, db) -> None:
    bad = faults.set_field(source, DAY1, "userId", "abc")
    with pytest.raises(AirflowFailException) as raised:
        run_window(dag, START, END, source)
    assert all(text in str(raised.value) for text in bad.names())
    assert rows(db, QUARANTINE) == []


def test_an_unknown_policy_fails_at_once_naming_it(dag, source) -> None:
    with pytest.raises(AirflowFailException, match="bad_records must be one of fail, quarantine, got 'skip'"):
        run_window(dag, START, END, source, bad_records="skip")


def test_records_breaking_what_the_models_need_are_quarantined_and_the_rest_loads(
    dag, clean_source, source, db, tmp_path
) -> None:
    """Issue 18: the records a model could not load (no identity, no window, a negative duration) are
    quarantined as they are staged, naming object, line, field and value, and everything else loads."""
    null_session = faults.set_field(source, DAY1, "sessionId", None, n=0)
    seconds = faults.find(source, DAY1, n=1)[1]["ts"] // 1000
    in_seconds = faults.set_field(source, DAY1, "ts", seconds, n=1)
    negative_item = faults.set_field(source, DAY2, "itemInSession", -3, n=0)
    no_user = faults.set_field(source, DAY2, "userId", "", n=1)
    bad_song = faults.set_song_field(source, "duration", -1.5)

    run_window(dag, START, END, source, bad_records="quarantine")

    day1, day2 = (faults.day_file(source, day) for day in (DAY1, DAY2))
    expected = without_lines(
        source,
        tmp_path,
        {day1: {null_session.line, in_seconds.line}, day2: {negative_item.line, no_user.line}},
    )
    (expected / bad_song.path.relative_to(source)).unlink()  # its one record is left out
    assert snapshot(db) == faults.oracle_tables(expected), "the window must hold every record but the bad ones"
    assert rows(db, "select count(*) from songs") == [(len(faults.song_files(source)) - 1,)]
    # the star is whole: no play refers to a song, artist, user or time that is not published
    parents = {"song_id": "songs", "artist_id": "artists", "user_id": "users", "start_time": "time"}
    for column, parent in parents.items():
        orphans = (
            f"select count(*) from songplays as sp where sp.{column} is not null"
            f" and not exists (select 1 from {parent} as p where p.{column} = sp.{column})"
        )
        assert rows(db, orphans) == [(0,)], f"a play refers to a {column} missing from {parent}"

    key = {path: path.relative_to(source).as_posix() for path in (day1, day2, bad_song.path)}
    quarantined = rows(db, QUARANTINE)
    assert [(object_key, line, field) for object_key, line, field, _, _ in quarantined] == sorted(
        [
            (key[day1], null_session.line, "$['sessionId']"),
            (key[day1], in_seconds.line, "$['ts']"),
            (key[day2], negative_item.line, "$['itemInSession']"),
            (key[day2], no_user.line, "$['userId']"),
            (key[bad_song.path], 1, "duration"),
        ]
    )
    reasons = {(object_key, line): reason for object_key, line, _, reason, _ in quarantined}
    assert reasons[key[day1], null_session.line].startswith("column session_id: null: a value is needed")
    assert f"{seconds} (1970-01-" in reasons[key[day1], in_seconds.line]
    assert "no window would ever load it" in reasons[key[day1], in_seconds.line]
    assert reasons[key[day2], negative_item.line].startswith("column item_in_session: -3 is not >= 0")
    assert reasons[key[day2], no_user.line].startswith('column user_id: "": a value is needed')
    assert reasons[key[bad_song.path], 1].startswith("column duration: -1.5 is not > 0")

    # the repair: the objects put right are staged again in place of their quarantine
    for path in (day1, day2, bad_song.path):
        shutil.copy(clean_source / path.relative_to(source), path)
    run_window(dag, START, END, source, bad_records="quarantine")
    assert rows(db, QUARANTINE) == []
    assert snapshot(db) == faults.oracle_tables(source)
