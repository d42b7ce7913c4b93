"""Declared checks against the real PostgreSQL: clean data passes, each kind of corruption is caught."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.runner import run_window
from support.warehouse_state import rows

from sparkify.operators import DataQualityOperator
from sparkify.quality import Check, CheckDefinitionError, load_table_checks

UTC = dt.UTC
START, END = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 4, tzinfo=UTC)
CONTEXT = {"params": {"window_start": START.isoformat(), "window_end": END.isoformat()}, "run_id": "qa-run"}
TABLES = ["songplays", "users", "songs", "artists", "time"]


@pytest.fixture
def loaded(dag, demo_source, db):
    run_window(dag, START, END, demo_source, skip=("run_quality_checks",))
    return db


def run_checks(tables=TABLES, **kwargs) -> dict:
    return DataQualityOperator(task_id="checks", tables=tables, **kwargs).execute(CONTEXT)


def failure_of(**kwargs) -> str:
    with pytest.raises(AirflowFailException) as error:
        run_checks(**kwargs)
    return str(error.value)


def test_clean_data_passes_every_check_and_records_each_result(loaded) -> None:
    summary = run_checks()
    recorded = rows(
        loaded,
        "select table_name, check_name, passed, severity, window_start, window_end from"
        " quality_results where run_id = 'qa-run'",
    )
    assert summary["failed"] == 0 and summary["checks"] == len(recorded) > 25
    names = {(r[0], r[1]) for r in recorded}
    # PostgreSQL enforces the primary keys: checks they imply are not run again; the others all are
    assert ("songplays", "unique(songplay_id)") not in names and ("time", "not_null(start_time)") not in names
    assert {("songplays", "not_null(user_id)"), ("songplays", "accepted_values(level)")} <= names
    assert all(r[2] for r in recorded)
    assert {r[4:] for r in recorded} == {(dt.datetime(2018, 11, 1), dt.datetime(2018, 11, 4))}


@pytest.mark.parametrize(
    ("corruption", "expected"),
    [
        (
            "update songplays set user_id = null where songplay_id = (select min(songplay_id) from songplays)",
            "songplays: not_null(user_id) (window, error): observed 1, expected = 0; e.g. (",
        ),
        (
            "update users set level = 'gold' where user_id = (select min(user_id) from users)",
            "users: accepted_values(level) (table, error): observed 1, expected = 0",
        ),
        (
            "update users set gender = 'X' where user_id = (select min(user_id) from users)",
            "users: accepted_values(gender) (table, error): observed 1",
        ),
        (
            "delete from users where user_id = (select min(user_id) from songplays)",
            "songplays: relationships(user_id -> users.user_id) (window, error): observed ",
        ),
        (
            "delete from time where start_time = (select min(start_time) from songplays)",
            "songplays: relationships(start_time -> time.start_time) (window, error): observed 1",
        ),
        (
            # a time row that no play has, a microsecond after the first play: its window's time rows outnumber
            # the distinct start times of its plays by one
            "insert into time select start_time + interval '1 microsecond', hour, day, week, month, year, weekday"
            " from time where start_time = (select min(start_time) from songplays)",
            "time: time_matches_songplays (window, error): observed ",
        ),
        (
            "delete from songs where song_id = (select min(song_id) from songplays)",
            "songplays: relationships(song_id -> songs.song_id) (window, error): observed ",
        ),
        (
            "update artists set latitude = 95.5 where artist_id = (select min(artist_id) from artists)",
            "artists: range(latitude: min -90, max 90) (table, error): observed 1",
        ),
        (
            "update artists set longitude = -180.5 where artist_id = (select min(artist_id) from artists)",
            "artists: range(longitude: min -180, max 180) (table, error): observed 1",
        ),
        (
            "update songs set duration = 0 where song_id = (select min(song_id) from songs)",
            "songs: range(duration: greater_than 0) (table, error): observed 1",
        ),
        (
            "delete from songplays where songplay_id = (select min(songplay_id) from songplays)",
            "songplays: loaded_equals_staged (window, error): observed ",
        ),
        (
            "alter table users drop constraint users_pkey;"
            " insert into users select * from users where user_id = (select min(user_id) from users)",
            "users: unique(user_id) (table, error): observed 1, expected = 0; e.g. (",
        ),
    ],
    ids=[
        "null",
        "level",
        "gender",
        "orphan-user",
        "orphan-time",
        "extra-time",
        "orphan-song",
        "latitude",
        "longitude",
        "duration",
        "dropped-row",
        "duplicate-key",
    ],
)
def test_each_kind_of_corruption_fails_with_a_precise_message(loaded, corruption, expected) -> None:
    for statement in corruption.split(";"):
        loaded.execute(statement)
    assert expected in failure_of()


def test_every_failure_is_listed_in_one_error_and_recorded(loaded) -> None:
    loaded.execute("update users set level = 'gold'")
    loaded.execute("update artists set latitude = 100")
    message = failure_of()
    assert message.splitlines()[0].startswith("2 of ")
    assert "accepted_values(level)" in message and "range(latitude" in message
    failed = rows(loaded, "select table_name, check_name from quality_results where not passed order by 1")
    assert failed == [("artists", "range(latitude: min -90, max 90)"), ("users", "accepted_values(level)")]


def test_a_warning_is_recorded_but_does_not_fail(loaded) -> None:
    loaded.execute("delete from users")
    summary = run_checks(tables=["users"])
    assert summary["warnings"] == 1
    assert rows(loaded, "select check_name, severity, observed from quality_results where not passed") == [
        ("row_count", "warn", "0")
    ]


def test_bad_data_fails_fast_but_a_lost_connection_retries(loaded, monkeypatch) -> None:
    loaded.execute("update users set level = 'gold'")
    with pytest.raises(AirflowFailException):  # AirflowFailException: Airflow skips the retries
        run_checks()
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", "postgres://postgres@127.0.0.1:9/nowhere")
    with pytest.raises(Exception) as error:  # noqa: PT011 - any driver error, as long as it is retryable
        run_checks()
    assert not isinstance(error.value, AirflowFailException)


@pytest.mark.parametrize(
    ("check", "observed", "expected", "passes"),
    [
        (Check("t", "c", "", compare="="), 5, 5, True),
        (Check("t", "c", "", compare="=", tolerance=0.5), 5.4, 5, True),
        (Check("t", "c", "", compare="=", tolerance=0.5), 5.6, 5, False),
        (Check("t", "c", "", compare="!="), 5, 4, True),
        (Check("t", "c", "", compare="<"), 3, 4, True),
        (Check("t", "c", "", compare="<="), 4, 4, True),
        (Check("t", "c", "", compare=">"), 4, 4, False),
        (Check("t", "c", "", compare=">="), 4, 4, True),
        (Check("t", "c", "", compare="between"), 7, (1, 10), True),
        (Check("t", "c", "", compare="between"), 11, (1, 10), False),
        (Check("t", "c", "", compare="between", tolerance=1), 11, (1, 10), True),
        (Check("t", "c", "", compare="="), None, 0, False),
    ],
)
def test_comparisons(check, observed, expected, passes) -> None:
    assert check.passes(observed, expected) is passes


def test_a_custom_sql_check_with_a_comparison(loaded) -> None:
    plays = rows(loaded, "select count(*) from songplays")[0][0]
    custom = Check(
        "songplays", "plays_in_range", "select count(*) from songplays", expected=(1, plays - 1), compare="between"
    )
    with pytest.raises(
        AirflowFailException,
        match=rf"plays_in_range \(table, error\): observed {plays}, "
        rf"expected between 1 and {plays - 1}",
    ):
        DataQualityOperator(task_id="c", checks=[custom]).execute(CONTEXT)


def test_malformed_check_files_are_refused(tmp_path) -> None:
    path = tmp_path / "users.yml"
    header = "table: users\nkind: dimension\ngrain: one row per user\nprimary_key: [user_id]\nload: upsert\n"
    path.write_text(header + "checks:\n  - no_such_check: [user_id]\n")
    with pytest.raises(CheckDefinitionError, match="unknown check kind 'no_such_check'"):
        load_table_checks(path)
    path.write_text(header + "checks:\n  - not_null: [user_id]\n    scope: window\n")
    with pytest.raises(CheckDefinitionError, match="needs time_column"):
        load_table_checks(path)
    path.write_text(header.replace("load: upsert", "load: sometimes") + "checks: []\n")
    with pytest.raises(CheckDefinitionError, match=r"users\.yml: load 'sometimes' is not one of"):
        load_table_checks(path)
