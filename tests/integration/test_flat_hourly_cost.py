"""Issue 23: an hourly run's cost stays flat as history grows.

* An unchanged local day file is not read again: the ledger's fingerprint (size, mtime, inode, ctime)
  says so. A content change that keeps size and mtime still moves ctime, so it is still restaged, and
  the tables equal the oracle's.
* Retention deletes the staged rows of old day files and retires their ledger rows: the unchanged files
  are not staged again, the published tables are kept, and a rerun of a retired window fails with the
  repair that stages them again.
* The ledger's added columns are added to a ledger created before them.
* A day file whose staged rows were found within a day of its day is not audited again (the ledger
  records it), until it changes and is staged again.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import os
import pathlib
import re
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowFailException
from generate_demo_data import generate
from support import faults
from support.faults import DAY1, END, START
from support.runner import run_window
from support.warehouse_state import recreate_tables, rows, snapshot

from sparkify import sources
from sparkify.operators import StagingRetentionOperator

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def clean_source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("flat-base")
    generate(out, songs=40, users=12, days=2, events_per_day=220, seed=5)
    return out


@pytest.fixture
def source(clean_source, tmp_path, monkeypatch) -> Path:
    # files written a moment ago get no fingerprint (racily clean): these tests want the fingerprint path
    monkeypatch.setattr(sources, "RACY_NS", 0)
    return faults.copy_source(clean_source, tmp_path / "source")


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Names of the day files opened or read whole (the content, not a stat)."""
    opened: list[str] = []
    real_open, real_read_bytes = pathlib.Path.open, pathlib.Path.read_bytes

    def watched_open(self, *args, **kwargs):
        if self.name.endswith("-events.json"):
            opened.append(self.name)
        return real_open(self, *args, **kwargs)

    def watched_read_bytes(self):
        if self.name.endswith("-events.json"):
            opened.append(self.name)
        return real_read_bytes(self)

    monkeypatch.setattr(pathlib.Path, "open", watched_open)
    monkeypatch.setattr(pathlib.Path, "read_bytes", watched_read_bytes)
    return opened


@pytest.fixture
def three_days(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(sources, "RACY_NS", 0)
    generate(tmp_path / "three", songs=40, users=12, days=3, events_per_day=220, seed=5)
    return tmp_path / "three"


def _star(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {name: value for name, value in tables.items() if not name.startswith("staging")}


def _kept_rows(db, retired: str) -> int:
    return rows(db, "select count(*) from staging_events where _source_key <> %s", (retired,))[0][0]


def _stage(dag, source: Path, start: dt.datetime = START, end: dt.datetime = END) -> dict:
    return run_window(dag, start, end, source, only=("create_tables", "stage_events"))["stage_events"]


def test_an_unchanged_day_file_is_not_read_and_a_touched_one_is_read_once(dag, source, db, reads) -> None:
    recreate_tables(db)
    first = _stage(dag, source)
    assert first["objects_staged"] == 2
    assert rows(db, "select count(*) from staging_ledger where object_fingerprint is not null") == [(2,)]

    reads.clear()
    again = _stage(dag, source)
    assert again["objects_staged"] == 0 and again["objects_skipped"] == 2
    assert reads == [], "an unchanged day file was read to learn that it had not changed"

    path = faults.day_file(source, DAY1)
    os.utime(path)  # touched: the fingerprint moves, the content does not
    reads.clear()
    touched = _stage(dag, source)
    assert touched["objects_staged"] == 0
    assert reads == [path.name], "a touched file is hashed once, not restaged"
    reads.clear()
    _stage(dag, source)
    assert reads == [], "its new fingerprint was recorded"


def test_a_content_change_with_size_and_mtime_restored_is_restaged(dag, source, db) -> None:
    recreate_tables(db)
    run_window(dag, START, END, source)
    path = faults.day_file(source, DAY1)
    before = path.stat()
    index, play = faults.find(source, DAY1)
    level = "paid" if play["level"] == "free" else "free"  # same length: the size does not change
    lines = faults.lines(path)
    lines[index] = re.sub(r'("level":\s*)"(free|paid)"', rf'\1"{level}"', lines[index])
    faults.write_lines(path, lines)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert after.st_ctime_ns != before.st_ctime_ns

    run_window(dag, START, END, source)
    assert snapshot(db) == faults.oracle_tables(source)


def test_retention_deletes_old_staged_rows_and_the_ledger_keeps_them_retired(dag, three_days, db, reads) -> None:
    source, end = three_days, START + dt.timedelta(days=3)
    recreate_tables(db)
    run_window(dag, START, end, source)
    star = _star(snapshot(db))
    old = [faults.day_file(source, DAY1).relative_to(source).as_posix()]

    # newest hour staged and loaded: on the 3rd; one whole day kept before that day: the 1st goes
    result = StagingRetentionOperator(task_id="retire", retention_days=1).execute({})
    assert result["objects_retired"] == 1 and result["cutoff"] == "2018-11-02T00:00:00"
    assert rows(db, "select count(*) from staging_events where _source_key = %s", old) == [(0,)]
    assert rows(db, "select count(*) from staging_events") == [(_kept_rows(db, old[0]),)] != [(0,)]
    assert rows(db, "select object_key from staging_ledger where retired_at is not null order by 1") == [
        (k,) for k in old
    ]
    assert _star(snapshot(db)) == star, "retention touches staging only"

    # the first hour of the 2nd lists the 1st as its margin: not read, not restaged, nothing refused
    reads.clear()
    second = START + dt.timedelta(days=1)
    run_window(dag, second, second + dt.timedelta(hours=1), source)
    assert reads == [], "a retired, unchanged day file was read"
    assert rows(db, "select count(*) from staging_events where _source_key = %s", old) == [(0,)]
    assert _star(snapshot(db)) == star

    # a rerun of retired days would replace their facts by nothing: refused, with the repair
    with pytest.raises(AirflowFailException, match="retired by staging retention") as error:
        run_window(dag, START, end, source)
    assert _star(snapshot(db)) == star
    repair = str(error.value).split("stage them again: ", 1)[1].rsplit("; then rerun", 1)[0]
    db.execute(repair)
    run_window(dag, START, end, source)
    assert _star(snapshot(db)) == _star(faults.oracle_tables(source, START, end)) == star


def test_retention_keeps_everything_at_zero_days_and_before_anything_is_loaded(dag, source, db) -> None:
    recreate_tables(db)
    assert StagingRetentionOperator(task_id="retire", retention_days=0).execute({})["rows_deleted"] == 0
    _stage(dag, source)  # staged, nothing loaded: nothing is retired
    staged = rows(db, "select count(*) from staging_events")
    assert StagingRetentionOperator(task_id="retire", retention_days=1).execute({})["rows_deleted"] == 0
    assert rows(db, "select count(*) from staging_events") == staged


def test_create_tables_adds_the_ledger_columns_to_an_older_ledger(dag, db) -> None:
    recreate_tables(db)
    db.execute("alter table staging_ledger drop column object_fingerprint")
    db.execute("alter table staging_ledger drop column retired_at")
    db.execute("alter table staging_ledger drop column audited_margin_seconds")
    copy.copy(dag.get_task("create_tables")).execute({})
    columns = {
        r[0] for r in rows(db, "select column_name from information_schema.columns where table_name = 'staging_ledger'")
    }
    assert {"object_fingerprint", "retired_at", "audited_margin_seconds"} <= columns
    copy.copy(dag.get_task("create_tables")).execute({})  # and again: nothing left to add


def test_create_tables_adds_the_observed_value_to_older_quality_results(dag, db) -> None:
    recreate_tables(db)
    db.execute("alter table quality_results drop column observed_value")
    copy.copy(dag.get_task("create_tables")).execute({})
    found = rows(
        db,
        "select data_type from information_schema.columns"
        " where table_name = 'quality_results' and column_name = 'observed_value'",
    )
    assert found == [("double precision",)]


def test_a_fresh_file_gets_no_fingerprint(tmp_path) -> None:
    (tmp_path / "a.json").write_text("{}\n")
    (listed,) = sources.LocalSource(tmp_path).list("")
    assert listed.fingerprint is None and not listed.hashed  # racily clean: hashed on every run until it settles
    stat = (tmp_path / "a.json").stat()
    later = sources.fingerprint_of(stat, now_ns=stat.st_ctime_ns + 10 * sources.RACY_NS)
    assert later is not None and later.startswith(f"{stat.st_size}-{stat.st_mtime_ns}-")
    assert listed.version.startswith("md5-") and listed.hashed


def test_a_local_files_version_is_its_contents_md5_whether_read_or_told(tmp_path) -> None:
    (tmp_path / "song_data" / "A").mkdir(parents=True)
    body = b'{"song_id": "S1"}\n'
    (tmp_path / "song_data" / "A" / "a.json").write_bytes(body)
    expected = "md5-" + hashlib.md5(body, usedforsecurity=False).hexdigest()
    read, told = sources.LocalSource(tmp_path).list("song_data/"), sources.LocalSource(tmp_path).list("song_data/")
    (by_reading,) = read
    (by_telling,) = told
    assert by_reading.key == "song_data/A/a.json" and by_reading.version == expected  # the file read again
    by_telling.read_as(body)  # the bytes a fetch thread read to stage
    assert by_telling.hashed and by_telling.version == expected


def test_the_added_columns_are_added_by_plain_alter_statements_on_either_engine() -> None:
    """Redshift has no ``add column if not exists``: the columns present are read, the missing ones added."""
    from sparkify.models.ddl import missing_columns

    class Cursor:
        def __init__(self, columns: list[str]) -> None:
            self.columns = columns

        def execute(self, sql: str, params: tuple) -> None:
            assert "information_schema.columns" in sql

        def fetchall(self) -> list[tuple]:
            return [(c, "character varying", 256) for c in self.columns]

    old_ledger = ["table_name", "object_key", "object_version", "object_size", "row_count", "load_unit", "loaded_at"]
    ledger = ["staging_ledger"]
    assert missing_columns(Cursor(old_ledger), tables=ledger) == [
        "alter table staging_ledger add column object_fingerprint varchar(128)",
        "alter table staging_ledger add column retired_at timestamp",
        "alter table staging_ledger add column audited_margin_seconds bigint",
    ]
    added = [*old_ledger, "object_fingerprint", "retired_at", "audited_margin_seconds"]
    assert missing_columns(Cursor(added), tables=ledger) == []
    old_results = ["run_id", "window_start", "window_end", "table_name", "check_name", "observed", "checked_at"]
    assert missing_columns(Cursor(old_results), tables=["quality_results"]) == [
        "alter table quality_results add column observed_value double precision"
    ]
    assert missing_columns(Cursor([])) == []  # no such table yet: create table made it whole
    assert missing_columns(Cursor(old_ledger), tables=["songs"]) == []


def test_a_day_file_found_within_its_day_is_not_audited_again(dag, source, db, monkeypatch) -> None:
    from sparkify.staging import audit

    recreate_tables(db)
    asked: list[set[str]] = []
    real = audit.unloadable_rows

    def watched(warehouse, table, time_column, day_of, margin):
        asked.append(set(day_of))
        return real(warehouse, table, time_column, day_of, margin)

    monkeypatch.setattr(audit, "unloadable_rows", watched)
    assert _stage(dag, source)["objects_staged"] == 2
    one_day = 24 * 3600  # the stage task's margin_days=1
    assert rows(db, "select audited_margin_seconds from staging_ledger where table_name = 'staging_events'") == [
        (one_day,),
        (one_day,),
    ]
    assert len(asked[0]) == 2  # the first run read both files' staged rows

    asked.clear()
    _stage(dag, source)
    assert asked == [set()], "a day file already found within its day had its staged rows read again"

    # a changed file is staged again, unaudited, and audited by the run that staged it
    faults.set_field(source, DAY1, "song", "Changed")
    os.utime(faults.day_file(source, DAY1), ns=(1, 1))  # the same mtime would not hide the change: ctime moves
    asked.clear()
    assert _stage(dag, source)["objects_staged"] == 1
    assert asked == [{faults.day_file(source, DAY1).relative_to(source).as_posix()}]
