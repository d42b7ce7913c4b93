"""Hourly checks read only their window where a table grows with history; the full-table checks run in
the daily audit (sparkify_audit), and catch what lies outside any one hour."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.runner import run_window
from support.warehouse_state import rows

from sparkify.operators import DataQualityOperator
from sparkify.quality import load_checks

UTC = dt.UTC
DAY_ONE = (dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 2, tzinfo=UTC))
LATER_HOUR = (dt.datetime(2018, 11, 3, 10, tzinfo=UTC), dt.datetime(2018, 11, 3, 11, tzinfo=UTC))
TABLES = ["songplays", "users", "songs", "artists", "time"]


def context(window: tuple[dt.datetime, dt.datetime]) -> dict:
    return {"params": {"window_start": window[0].isoformat(), "window_end": window[1].isoformat()}, "run_id": "r"}


def test_hourly_checks_of_growing_tables_are_window_scoped_and_daily_ones_read_the_table() -> None:
    checks = load_checks(TABLES)
    hourly = [c for c in checks if c.cadence == "hourly" and c.table in ("songplays", "time")]
    # every hourly check that reads a growing table reads its window; hours_to_reload reads the small
    # stale_hours table only (the hours a changed source left to reload), never songplays, and
    # truncated_staged_values the small truncated_values table (a row per object and column cut)
    # (freshness checks read the newest value of a sort key: an index's last entry, a block's zone map)
    reads_table = [
        c for c in hourly if c.name not in ("hours_to_reload", "truncated_staged_values") and c.kind != "freshness"
    ]
    assert all(c.sql.startswith("select max(") for c in hourly if c.kind == "freshness")
    assert reads_table and all(c.scope == "window" and "%(window_start)s" in c.sql for c in reads_table)
    (to_reload,) = [c for c in hourly if c.name == "hours_to_reload"]
    assert "from stale_hours" in to_reload.sql and "songplays" not in to_reload.sql
    (truncated,) = [c for c in hourly if c.name == "truncated_staged_values"]
    assert "from truncated_values" in truncated.sql and "staging_events" not in truncated.sql.split("where")[0]
    daily = {(c.table, c.name) for c in checks if c.cadence == "daily"}
    assert ("songplays", "unique(songplay_id)") in daily and ("time", "unique(start_time)") in daily
    assert all(c.scope == "table" for c in checks if c.cadence == "daily")


def test_a_bad_row_outside_the_hour_fails_the_audit_not_the_hourly_run(dag, demo_source, db) -> None:
    run_window(dag, *DAY_ONE, demo_source, skip=("run_quality_checks",))
    run_window(dag, *LATER_HOUR, demo_source, skip=("run_quality_checks",))
    # a row of day one goes bad after it was checked (a manual fix gone wrong, say)
    db.execute(
        "update songplays set user_id = null where songplay_id = (select min(songplay_id) from songplays"
        " where start_time < %s)",
        (DAY_ONE[1].replace(tzinfo=None),),
    )
    assert rows(db, "select count(*) from songplays where user_id is null")[0][0] == 1

    hourly = DataQualityOperator(task_id="run_quality_checks", tables=TABLES).execute(context(LATER_HOUR))
    assert hourly["failed"] == 0, "the hourly run checks its own hour, which is clean"

    audit = DataQualityOperator(task_id="audit_star_schema", tables=TABLES, cadences=("hourly", "daily"))
    with pytest.raises(AirflowFailException, match=r"songplays: not_null\(user_id\) \(table, error\): observed 1"):
        audit.execute(context(LATER_HOUR))
    recorded = rows(db, "select count(*) from quality_results where check_name = 'not_null(user_id)' and not passed")
    assert recorded[0][0] == 1
