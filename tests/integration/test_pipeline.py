"""The DAG, run by Airflow against the real PostgreSQL, loads what the JSON says."""

from __future__ import annotations

import datetime as dt

import pytest
from support import oracle
from support.runner import dag_test, task_states
from support.star_schema import assert_star_schema_matches
from support.warehouse_state import rows

UTC = dt.UTC
pytestmark = pytest.mark.usefixtures("airflow_db")


def test_generated_data_over_a_span(dag, demo_source, db) -> None:
    start, end = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 4, tzinfo=UTC)
    dag_run = dag_test(dag, start=start, end=end, source=demo_source)

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert_star_schema_matches(db, demo_source, start, end)
    failed = rows(db, "select table_name, check_name from quality_results where not passed and severity = 'error'")
    assert failed == []


def test_scheduled_run_processes_the_hour_before_its_logical_date(dag, demo_source, db) -> None:
    # no window params: the run's data interval [09:00, 10:00) is the window
    dag_run = dag_test(
        dag, start=None, end=None, source=demo_source, logical_date=dt.datetime(2018, 11, 2, 10, tzinfo=UTC)
    )

    assert str(dag_run.state) == "success", task_states(dag_run)
    hour = (dt.datetime(2018, 11, 2, 9, tzinfo=UTC), dt.datetime(2018, 11, 2, 10, tzinfo=UTC))
    expected = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), *hour)
    assert expected, "the generated data should have plays in this hour"
    assert rows(
        db,
        "select count(*), min(start_time) >= %s, max(start_time) < %s from songplays",
        (hour[0].replace(tzinfo=None), hour[1].replace(tzinfo=None)),
    )[0] == (len(expected), True, True)


def test_udacity_sample_for_the_whole_month(dag, udacity_source, db) -> None:
    start, end = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 12, 1, tzinfo=UTC)
    dag_run = dag_test(dag, start=start, end=end, source=udacity_source)

    assert str(dag_run.state) == "success", task_states(dag_run)
    assert rows(db, "select count(*) from staging_events")[0][0] == 8056
    assert rows(db, "select count(*) from staging_songs")[0][0] == 71
    assert_star_schema_matches(db, udacity_source, start, end)
    # the 56 hourly checks of the five yml files, less the 10 their primary keys imply (PostgreSQL enforces
    # them); the warn-level ones pass too (the health checks: no volume history yet, source freshness not
    # checked on an explicit window, nothing quarantined) (issue 18: no conflicting versions, truncations, unknown page
    # values or plays naming a song with another length in the sample)
    assert rows(db, "select count(*), count(*) filter (where not passed) from quality_results")[0] == (46, 0)
