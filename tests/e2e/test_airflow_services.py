"""The package as its users run it: a real Airflow (API server and UI, scheduler, DAG processor,
triggerer), a trigger through the UI's form in headless Chromium, and a backfill run by the scheduler.

Skipped, with the reason, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from support import oracle
from support.airflow_stack import running_airflow
from support.paths import ROOT
from support.runner import run_window
from support.warehouse_state import rows

pytestmark = pytest.mark.slow(minutes=4)  # UI trigger, two backfills, two demo runs
UTC = dt.UTC
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="module")
def airflow(postgres_server, demo_source, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    with running_airflow("e2e", demo_source, tmp_path_factory.mktemp("airflow-e2e")) as stack:
        yield stack


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
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
    backfill = airflow.api(
        "POST",
        "/api/v2/backfills",
        {
            "dag_id": "sparkify_etl",
            "from_date": start.isoformat(),
            "to_date": (end - dt.timedelta(hours=1)).isoformat(),
            "max_active_runs": 2,
            "reprocess_behavior": "completed",
            "run_backwards": False,
        },
    )
    assert backfill["id"]

    def backfill_done(runs: list[dict]) -> bool:
        mine = [r for r in runs if r["run_type"] == "backfill"]
        return len(mine) == 4 and all(r["state"] == "success" for r in mine)

    runs = airflow.wait_for(backfill_done, "the backfill's 4 hourly runs")
    intervals = sorted((r["data_interval_start"], r["data_interval_end"]) for r in runs if r["run_type"] == "backfill")
    assert intervals[0][0].startswith("2018-11-03T08:00") and intervals[-1][1].startswith("2018-11-03T12:00")

    run_window(dag, start, end, demo_source)  # one run over the same span, in a fresh warehouse
    assert songplays_between(airflow.warehouse, start, end) == rows(db, "select * from songplays order by songplay_id")


def test_a_backfill_after_demo_runs_loads_every_hour(airflow, demo_source) -> None:
    """Issue 10, item 13: demo runs must not occupy a logical date whose hour they did not load.

    Two `make demo` runs load 10:00–11:00 and 11:00–12:00; a backfill of the logical dates 10:00 to
    12:00 then skips the dates that have a run (reprocess "none", Airflow's default). Every hour of
    [10:00, 13:00) must be loaded: the skipped ones by the demo runs, the rest by the backfill.
    """
    day = dt.datetime(2018, 11, 1, tzinfo=UTC)
    hours = [day + dt.timedelta(hours=h) for h in (10, 11, 12, 13)]
    env = {**airflow.env, "SPARKIFY_HOME": str(Path(airflow.env["AIRFLOW_HOME"]))}
    # paused while demo runs: the scheduler would otherwise end their runs (dagrun_timeout counts from the
    # 2018 logical date that `airflow dags test` gives as a run's start)
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": True})
    for start, end in ((hours[0], hours[1]), (hours[1], hours[2])):
        demo = subprocess.run(
            [str(ROOT / "scripts" / "demo.sh"), str(demo_source), start.isoformat(), end.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert demo.returncode == 0 and "sparkify_etl succeeded" in demo.stdout, demo.stdout[-2000:] + demo.stderr

    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
    backfill = airflow.api(
        "POST",
        "/api/v2/backfills",
        {
            "dag_id": "sparkify_etl",
            "from_date": hours[0].isoformat(),
            "to_date": hours[2].isoformat(),
            "max_active_runs": 2,
            "reprocess_behavior": "none",
            "run_backwards": False,
        },
    )

    def backfill_done(runs: list[dict]) -> bool:
        mine = [r for r in runs if r["run_type"] == "backfill" and r["logical_date"].startswith("2018-11-01")]
        finished = airflow.api("GET", f"/api/v2/backfills/{backfill['id']}").get("completed_at") is not None
        return finished and all(r["state"] == "success" for r in mine)

    airflow.wait_for(backfill_done, "the backfill after the demo runs")
    expected = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), hours[0], hours[3])
    for start, end in itertools.pairwise(hours):
        lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)
        wanted = sorted((p for p in expected.values() if lo <= p[0] < hi), key=repr)
        loaded = sorted((r[1:] for r in songplays_between(airflow.warehouse, start, end)), key=repr)
        assert loaded == wanted, f"hour {start:%H:%M} loaded {len(loaded)} plays of {len(wanted)}"
        assert wanted, f"the generated data should have plays at {start:%H:%M}"


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
