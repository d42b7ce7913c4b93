"""Local staging with the streaming encoder, against the real PostgreSQL: rows, and what a bad object leaves."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.warehouse_state import rows

from sparkify import sources
from sparkify.operators import CreateTablesOperator, StageToRedshiftOperator
from sparkify.staging import stdin_copy

if TYPE_CHECKING:
    from pathlib import Path

WINDOW = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-11-04T00:00:00Z"}}
KEY = "log_data/2018/11/2018-11-{:02d}-events.json"


def stage_events(source: Path, **kwargs) -> StageToRedshiftOperator:
    # one batch by default: a bad object must not take the good ones before it down
    kwargs.setdefault("batch_bytes", 1 << 30)
    return StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source=str(source),
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        json_format="log_json_path.json",
        **kwargs,
    )


@pytest.fixture(params=["streamed", "in memory"])
def mode(request, monkeypatch) -> str:
    if request.param == "streamed":
        monkeypatch.setattr(stdin_copy, "STREAM_ABOVE", 0)
    return request.param


@pytest.fixture
def source(demo_source, tmp_path, warehouse_dsn) -> Path:
    CreateTablesOperator(task_id="create_tables").execute({})
    target = tmp_path / "source"
    shutil.copytree(demo_source, target)
    return target


def day_file(source: Path, day: int) -> Path:
    return source / KEY.format(day)


def expected_rows(path: Path) -> list[tuple]:
    """(user_id, session_id, ts, _source_key) read straight from the file, as Redshift's rules give them."""
    key = "log_data/" + path.as_posix().split("/log_data/", 1)[1]
    out = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        ts = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=event["ts"])
        user = event.get("userId")
        out.append((int(user) if user else None, event.get("sessionId"), ts, key))  # user_id: an integer column
    return out


def break_line(path: Path, number: int) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[number - 1])
    record["sessionId"] = "not-a-number"
    lines[number - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def in_order(found: list[tuple]) -> list[tuple]:
    return sorted(found, key=lambda r: (r[2], r[1], r[0] or ""))


def staged(db, day: int) -> list[tuple]:
    return in_order(
        rows(
            db,
            "select user_id, session_id, ts, _source_key from staging_events where _source_key = %s",
            (KEY.format(day),),
        )
    )


def test_every_row_is_staged_as_the_files_say(mode, source, db) -> None:
    summary = stage_events(source).execute(WINDOW)

    for day in (1, 2, 3):
        expected = in_order(expected_rows(day_file(source, day)))
        assert staged(db, day) == expected
    assert summary["objects_staged"] == 3


def test_a_bad_object_keeps_the_objects_before_it_and_nothing_of_itself(mode, source, db) -> None:
    break_line(day_file(source, 2), 7)

    with pytest.raises(AirflowFailException) as error:
        stage_events(source).execute(WINDOW)

    message = str(error.value)
    assert str(day_file(source, 2)) in message and "line 7, field $['sessionId']" in message
    assert len(staged(db, 1)) == len(expected_rows(day_file(source, 1)))
    assert staged(db, 2) == [] and staged(db, 3) == []
    assert rows(db, "select object_key from staging_ledger") == [(KEY.format(1),)]


def test_a_bad_changed_object_leaves_its_earlier_rows_in_place(mode, source, db) -> None:
    stage_events(source).execute(WINDOW)
    before = {day: staged(db, day) for day in (1, 2, 3)}
    # day 1 changes and is fine, day 2 changes and is broken: day 1's new rows load, day 2 keeps its old ones
    first = day_file(source, 1)
    first.write_text("\n".join(first.read_text().splitlines()[:50]) + "\n")
    break_line(day_file(source, 2), 3)

    with pytest.raises(AirflowFailException, match="line 3, field"):
        stage_events(source).execute(WINDOW)

    assert staged(db, 1) == in_order(expected_rows(first))
    assert staged(db, 2) == before[2] and staged(db, 3) == before[3]


@pytest.mark.usefixtures("aws_connection")
def test_objects_stream_from_s3_as_from_a_folder(monkeypatch, demo_bucket, demo_source, warehouse_dsn, db) -> None:
    monkeypatch.setattr(stdin_copy, "STREAM_ABOVE", 0)
    CreateTablesOperator(task_id="create_tables").execute({})

    summary = stage_events(demo_bucket).execute(WINDOW)

    assert summary["objects_staged"] == 3
    for day in (1, 2, 3):
        assert staged(db, day) == in_order(expected_rows(day_file(demo_source, day)))


def test_day_files_are_hashed_just_ahead_of_their_copy(monkeypatch, tmp_path, warehouse_dsn, db) -> None:
    """A streamed day file's version (its MD5) is computed in the fetch threads a file or two ahead of its
    COPY, not for every listed file before the first COPY (16 day files hashed at once held a month's
    first COPY back by seconds)."""
    from generate_demo_data import generate

    generate(tmp_path, songs=20, users=5, days=8, events_per_day=40, seed=3)
    monkeypatch.setattr(stdin_copy, "STREAM_ABOVE", 0)
    CreateTablesOperator(task_id="create_tables").execute({})
    events: list[str] = []
    md5 = sources.hashlib.md5

    class Hashlib:  # the source's hashlib, telling when it starts hashing a file
        @staticmethod
        def md5(*args, **kwargs):
            events.append("hash")
            return md5(*args, **kwargs)

    copy_objects = stdin_copy.copy_objects

    def copying(*args, **kwargs):
        events.append("copy")
        return copy_objects(*args, **kwargs)

    monkeypatch.setattr(sources, "hashlib", Hashlib)
    monkeypatch.setattr(stdin_copy, "copy_objects", copying)
    operator = stage_events(tmp_path, margin_days=0, batch_bytes=1)  # a COPY per day file

    summary = operator.execute(
        {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-11-09T00:00:00Z"}}
    )

    assert summary["objects_staged"] == 8 and events.count("copy") == 8 and events.count("hash") == 8
    # the first two are fetched at once, the third as the first is handed to its COPY
    assert events.index("copy") <= stdin_copy.STREAMED_AHEAD + 1, events
    assert rows(db, "select count(distinct _source_key) from staging_events") == [(8,)]
