"""The package as its users run it: a real Airflow (API server and UI, scheduler, DAG processor,
triggerer), a trigger through the UI's form in headless Chromium, and a backfill run by the scheduler.

Skipped, with the reason, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import oracle
import psycopg
import pytest
from conftest import ROOT, SERVER, _admin
from runner import run_window
from support.local_airflow import free_port, local_env, started
from warehouse_state import rows

pytestmark = pytest.mark.slow
UTC = dt.UTC
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="module")
def airflow(postgres_server, demo_source, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    home = tmp_path_factory.mktemp("airflow-e2e")
    with _admin() as conn:
        for name in ("airflow_e2e", "sparkify_e2e"):
            conn.execute(f"drop database if exists {name} with (force)")
            conn.execute(f"create database {name}")
    port = free_port()
    env = local_env(home, port, "airflow_e2e", "sparkify_e2e", demo_source)
    with started(env, f"http://127.0.0.1:{port}", f"{SERVER}/sparkify_e2e") as running:
        yield running


def songplays_between(dsn: str, start: dt.datetime, end: dt.datetime) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select * from songplays where start_time >= %s and start_time < %s order by songplay_id",
            (start.replace(tzinfo=None), end.replace(tzinfo=None)),
        ).fetchall()


def test_trigger_a_window_from_the_ui(airflow, demo_source) -> None:
    from playwright.sync_api import sync_playwright

    start, end = dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 2, 6, tzinfo=UTC)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(airflow.url)
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(airflow.password)
        page.get_by_role("button", name="Sign in").click()

        page.get_by_role("link", name="Dags").first.click()
        page.get_by_role("link", name="sparkify_etl").first.wait_for()  # the DAG is listed
        page.goto(f"{airflow.url}/dags/sparkify_etl")
        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        for label, moment in (("window_start", start), ("window_end", end)):
            field = dialog.get_by_role("group").filter(has=page.locator("label", has_text=label))
            field.get_by_test_id("datetime-input").click()
            page.get_by_placeholder("YYYY/MM/DD").fill(moment.strftime("%Y/%m/%d"))
            page.get_by_placeholder("HH:mm").fill(moment.strftime("%H:%M"))
            page.keyboard.press("Escape")  # closes the date picker, not the dialog
            page.get_by_placeholder("YYYY/MM/DD").wait_for(state="hidden")
        page.screenshot(path=str(ARTIFACTS / "ui-trigger-form.png"))
        page.get_by_test_id("trigger-dag-submit").click()
        page.wait_for_url("**/runs/manual__*", timeout=30_000)
        run_id = page.url.rsplit("/runs/", 1)[1]

        runs = airflow.wait_for(
            lambda rs: any(r["dag_run_id"] == run_id and r["state"] == "success" for r in rs), f"run {run_id}"
        )
        page.reload()
        page.get_by_text("success").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "ui-run-succeeded.png"), full_page=True)
        browser.close()

    run = next(r for r in runs if r["dag_run_id"] == run_id)
    assert run["conf"]["window_start"].startswith("2018-11-02T00:00")
    expected = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), start, end)
    assert len(songplays_between(airflow.warehouse, start, end)) == len(expected) > 0


def test_a_scheduler_backfill_equals_one_run_over_the_span(airflow, dag, demo_source, db) -> None:
    start, end = dt.datetime(2018, 11, 3, 8, tzinfo=UTC), dt.datetime(2018, 11, 3, 12, tzinfo=UTC)
    backfill = airflow.backfill(start.isoformat(), (end - dt.timedelta(hours=1)).isoformat(), max_active_runs=2)
    assert backfill["id"]

    def backfill_done(runs: list[dict]) -> bool:
        mine = [r for r in runs if r["run_type"] == "backfill"]
        return len(mine) == 4 and all(r["state"] == "success" for r in mine)

    runs = airflow.wait_for(backfill_done, "the backfill's 4 hourly runs")
    intervals = sorted((r["data_interval_start"], r["data_interval_end"]) for r in runs if r["run_type"] == "backfill")
    assert intervals[0][0].startswith("2018-11-03T08:00") and intervals[-1][1].startswith("2018-11-03T12:00")

    run_window(dag, start, end, demo_source)  # one run over the same span, in a fresh warehouse
    assert songplays_between(airflow.warehouse, start, end) == rows(db, "select * from songplays order by songplay_id")


def test_an_api_trigger_without_logical_date_or_window_fails_fast_and_says_why(airflow) -> None:
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
    run_id = airflow.api("POST", "/api/v2/dags/sparkify_etl/dagRuns", {"logical_date": None})["dag_run_id"]

    deadline = time.monotonic() + 180
    while (state := airflow.api("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{run_id}")["state"]) not in ("failed",):
        assert state != "success", "a run without a window must not succeed"
        assert time.monotonic() < deadline, f"run {run_id} still {state}"
        time.sleep(2)
    task = airflow.api("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{run_id}/taskInstances/stage_events")
    assert (task["state"], task["try_number"]) == ("failed", 1)  # no retries burnt on a missing window
    log = airflow.api("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{run_id}/taskInstances/stage_events/logs/1")
    assert "pass window_start and window_end as run params" in json.dumps(log)


@pytest.mark.usefixtures("airflow_db")  # the CLI runs against the suite's own metadata database
def test_airflow_dags_test_processes_the_hour_before_the_logical_date(demo_source, warehouse_dsn, db) -> None:
    env = {**os.environ, "AIRFLOW_VAR_SPARKIFY_SOURCE": str(demo_source)}
    done = subprocess.run(
        ["airflow", "dags", "test", "sparkify_etl", "2018-11-02T10:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "DagRun Finished" in done.stdout and "state=success" in done.stdout, done.stdout[-3000:]

    hour = (dt.datetime(2018, 11, 2, 9, tzinfo=UTC), dt.datetime(2018, 11, 2, 10, tzinfo=UTC))
    expected = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), *hour)
    loaded = rows(db, "select min(start_time), max(start_time), count(*) from songplays")[0]
    assert loaded[2] == len(expected) > 0
    assert hour[0].replace(tzinfo=None) <= loaded[0] and loaded[1] < hour[1].replace(tzinfo=None)
