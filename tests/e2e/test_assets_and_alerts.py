"""Airflow's ecosystem around the DAG, in a real Airflow: assets that mean "checked", a downstream DAG
scheduled on them, failure alerts to a webhook, and a deadline alert for a late run."""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest
from support import oracle
from support.airflow_stack import running_airflow
from support.webhook import Webhook

pytestmark = pytest.mark.slow
UTC = dt.UTC


@pytest.fixture(scope="module")
def sink():
    sink = Webhook()  # a stand-in for a chat webhook
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def airflow(postgres_server, demo_source, tmp_path_factory, sink):
    with running_airflow(
        "ecosystem",
        demo_source,
        tmp_path_factory.mktemp("airflow-ecosystem"),
        AIRFLOW_CONN_SPARKIFY_ALERTS=sink.connection(),
        SPARKIFY_LATE_AFTER_MINUTES="0",  # every run is late at once: the deadline alert must fire
    ) as stack:
        yield stack


def trigger(airflow, start: dt.datetime, end: dt.datetime) -> str:
    body = {"logical_date": end.isoformat(), "conf": {"window_start": start.isoformat(), "window_end": end.isoformat()}}
    return airflow.api("POST", "/api/v2/dags/sparkify_etl/dagRuns", body)["dag_run_id"]


def analytics_runs(airflow) -> list[dict]:
    return airflow.api("GET", "/api/v2/dags/sparkify_analytics/dagRuns?limit=100")["dag_runs"]


def songplays_events_of(airflow, run_id: str) -> list[dict]:
    events = airflow.api("GET", "/api/v2/assets/events?source_dag_id=sparkify_etl&limit=100")["asset_events"]
    return [e for e in events if e["source_run_id"] == run_id and e["name"] == "sparkify.songplays"]


def test_checked_assets_drive_the_downstream_dag_and_failures_alert(airflow, sink, demo_source) -> None:
    for dag_id in ("sparkify_etl", "sparkify_analytics"):
        airflow.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    # 1. a passing run publishes checked assets, and the analytics DAG refreshes from them
    start, end = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 2, tzinfo=UTC)
    first = trigger(airflow, start, end)
    assert airflow.wait_for_run("sparkify_etl", first, ("success", "failed"))["state"] == "success"
    deadline = time.monotonic() + 240
    while not any(r["state"] == "success" for r in analytics_runs(airflow)):
        assert time.monotonic() < deadline, f"no successful sparkify_analytics run: {analytics_runs(airflow)}"
        time.sleep(3)
    songplays_events = songplays_events_of(airflow, first)
    assert len(songplays_events) == 1
    assert songplays_events[0]["source_task_id"] == "run_quality_checks"
    extra = songplays_events[0]["extra"]
    assert extra["window"] == [start.isoformat(), end.isoformat()]
    assert (
        extra["checks"]["total"] > 0
        and extra["checks"]["passed"] + extra["checks"]["warnings"] == extra["checks"]["total"]
    )
    expected_plays = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), start, end)
    assert extra["load"]["rows_inserted"] == len(expected_plays)
    with psycopg.connect(airflow.warehouse) as conn:
        per_hour = conn.execute("select sum(plays) from analytics_plays_per_hour").fetchone()[0]
    assert per_hour == len(expected_plays), "the analytics table was refreshed from the checked songplays"

    # 2. a run whose checks fail publishes nothing: no new asset event, no analytics run, and an alert
    with psycopg.connect(airflow.warehouse, autocommit=True) as conn:
        conn.execute(
            "update staging_songs set artist_latitude = 200"
            " where song_id = (select min(song_id) from staging_songs where artist_id is not null)"
        )
    # unpausing also started the latest scheduled hour: let every other run settle before counting
    for run in airflow.runs():
        airflow.wait_for_run("sparkify_etl", run["dag_run_id"], ("success", "failed"))
    time.sleep(10)
    analytics_before = len(analytics_runs(airflow))
    second = trigger(airflow, end, end + dt.timedelta(days=1))
    assert airflow.wait_for_run("sparkify_etl", second, ("success", "failed"))["state"] == "failed"
    # the artists load checks the rows it would publish before committing: it is refused, at try 1
    gate = airflow.api("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{second}/taskInstances/load_artists_dim")
    assert (gate["state"], gate["try_number"]) == ("failed", 1)
    checks = airflow.api("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{second}/taskInstances/run_quality_checks")
    assert checks["state"] == "upstream_failed"
    time.sleep(15)  # give the scheduler time to (wrongly) start an analytics run
    assert len(analytics_runs(airflow)) == analytics_before
    assert songplays_events_of(airflow, second) == []

    failures = [a for a in sink.of_kind("failure") if a.get("run_id") == second]
    assert failures, f"no failure alert for {second}: {sink.received}"
    assert failures[0]["task_id"] == "load_artists_dim" and set(sink.paths) == {"/hook"}  # the connection's endpoint
    assert "range(latitude" in failures[0]["text"]

    # 3. the deadline alert (0 minutes here) fired through the triggerer for the late runs
    deadline = time.monotonic() + 120
    while not sink.of_kind("deadline"):
        assert time.monotonic() < deadline, f"no deadline alert: {sink.received}"
        time.sleep(2)
    assert "has not finished" in sink.of_kind("deadline")[0]["text"]
