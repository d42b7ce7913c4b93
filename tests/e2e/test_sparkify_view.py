"""The Sparkify view and the health checks' warnings in a real Airflow, checked in headless Chromium: the
view shows the loaded window (star tables' rows, songplays chart, quarantined count) and refuses anonymous
requests; a real backfill over an old hour gives no freshness warning while the scheduled run that
unpausing creates does; after a week of history, a day with half the usual plays succeeds with a volume
warning shown in the view, carried in the asset event's extra and posted to the alerts webhook.

An admin logs in through the UI's form and opens *Sparkify* from the navigation; the last test's
screenshot is docs/images/sparkify-view.png. Run types come from Airflow itself (backfill, scheduled).
Expected numbers come from the generated JSON (tests/support/oracle.py), not from the checks' SQL.
Skipped, with the reason, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from generate_demo_data import generate
from support import faults, oracle
from support.airflow_stack import running_airflow
from support.paths import ROOT
from support.webhook import Webhook

pytestmark = pytest.mark.slow
UTC = dt.UTC
DAY = dt.timedelta(days=1)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / "docs" / "images" / "sparkify-view.png"
BAD_DAY = "log_data/2018/11/2018-11-02-events.json"
START, END = dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 2, 6, tzinfo=UTC)
# a backfilled hour a day after the demo source's last event (2018-11-03): its data is old because it is
OLD_HOUR = dt.datetime(2018, 11, 4, 12, tzinfo=UTC)
# a week of history after the demo data, then a day with every other event line removed
WEEK = [dt.date(2018, 11, 10) + n * DAY for n in range(8)]
HALVED = WEEK[-1]


@pytest.fixture(scope="module")
def alerts():
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture(scope="module")
def airflow(postgres_server, demo_source, tmp_path_factory, alerts):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    home = tmp_path_factory.mktemp("airflow-view")
    with running_airflow("view", demo_source, home, AIRFLOW_CONN_SPARKIFY_ALERTS=alerts.connection()) as stack:
        yield stack


@pytest.fixture(scope="module")
def source_with_a_bad_record(demo_source, tmp_path_factory) -> Path:
    """The demo data with line 5 of the 2nd's day file given a sessionId that is not a number."""
    folder = tmp_path_factory.mktemp("view-source") / "raw"
    shutil.copytree(demo_source, folder)
    day_file = folder / BAD_DAY
    lines = day_file.read_text().splitlines(keepends=True)
    record = json.loads(lines[4])
    record["sessionId"] = "not-a-number"
    lines[4] = json.dumps(record) + "\n"
    day_file.write_text("".join(lines))
    return folder


@pytest.fixture(scope="module")
def week_source(tmp_path_factory) -> Path:
    """Eight days of events from WEEK[0]; the eighth keeps every other line: half its usual volume."""
    out = tmp_path_factory.mktemp("view-week") / "raw"
    generate(out, songs=150, users=30, days=len(WEEK), events_per_day=600, seed=7, start=WEEK[0])
    path = faults.day_file(out, HALVED)
    faults.write_lines(path, faults.lines(path)[::2])
    return out


@pytest.fixture(scope="module")
def loaded_window(airflow, source_with_a_bad_record) -> str:
    """The demo data's window START to END loaded by a manual run (one record quarantined): its run id.

    Unpausing for it also lets the scheduler create the current hour's scheduled run (catchup off)."""
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
    run_id = run_window(airflow, START, END, source=str(source_with_a_bad_record), bad_records="quarantine")
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": True})
    return run_id


def count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


def check_result(dsn: str, run_id: str, name: str) -> tuple:
    """(passed, severity, observed, expected) of check ``name`` in run ``run_id``, from quality_results."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "select passed, severity, observed, expected from quality_results where run_id = %s and check_name = %s",
            (run_id, name),
        ).fetchall()
    assert len(found) == 1, f"{name} in {run_id}: {found}"
    return found[0]


def task(airflow, run_id: str, task_id: str) -> dict:
    return airflow.api("GET", f"/api/v2/dags/sparkify_etl/dagRuns/{quote(run_id)}/taskInstances/{task_id}")


def staged_before(airflow, loading_run: str, checking_run: str) -> bool:
    """Whether ``loading_run`` had staged its events before ``checking_run`` started its checks."""
    staged = dt.datetime.fromisoformat(task(airflow, loading_run, "stage_events")["end_date"])
    return staged < dt.datetime.fromisoformat(task(airflow, checking_run, "run_quality_checks")["start_date"])


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def run_window(airflow, start: dt.datetime, end: dt.datetime, **conf: str) -> str:
    """Trigger a manual run of ``sparkify_etl`` over [start, end) and wait for it to succeed; its id."""
    body = {"logical_date": None, "conf": {"window_start": start.isoformat(), "window_end": end.isoformat(), **conf}}
    run_id = airflow.api("POST", "/api/v2/dags/sparkify_etl/dagRuns", body)["dag_run_id"]
    run = airflow.wait_for_run("sparkify_etl", run_id, ("success", "failed"), timeout=400)
    assert run["state"] == "success", f"run {run_id} {run['state']} (logs in {airflow.home})"
    return run_id


def open_view(playwright, airflow, height: int = 1000):
    """Log in through the UI's form in headless Chromium and open *Sparkify*: (browser, page, view frame)."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    )
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.goto(airflow.url)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(airflow.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Sparkify").first.click()  # the plugin's entry in the navigation
    page.wait_for_url("**/plugin/sparkify", timeout=30_000)
    return browser, page, page.frame_locator("iframe").first


def test_an_anonymous_request_to_the_view_is_refused(airflow) -> None:
    for path in ("/sparkify/api/summary", "/sparkify/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{airflow.url}{path}", timeout=30)  # noqa: S310 - our own local server
        assert refused.value.code in (401, 403)


@pytest.mark.usefixtures("loaded_window")
def test_the_view_shows_the_loaded_window(airflow) -> None:
    from playwright.sync_api import expect, sync_playwright

    rows = {t: count(airflow.warehouse, f"select count(*) from {t}") for t in ("songplays", "users", "time")}
    quarantined = count(airflow.warehouse, "select count(*) from quarantined_records")
    assert rows["songplays"] > 0 and quarantined == 1

    with sync_playwright() as playwright:
        browser, _, view = open_view(playwright, airflow)
        for table, expected in rows.items():
            expect(view.locator(f'#star-tables tr[data-table="{table}"] td.rows')).to_have_text(f"{expected:,}")
        expect(view.locator("#quarantine-total")).to_have_text(str(quarantined))
        expect(view.locator("#quarantine td.reason").first).to_be_visible()
        chart = view.locator("svg#songplays-per-hour")
        expect(chart).to_be_visible()
        assert chart.locator("rect.bar").count() == 72  # three days, every hour
        expect(view.locator("#quality tbody tr").first).to_be_visible()
        expect(view.locator('#ledger-tables tr[data-table="staging_events"]')).to_be_visible()
        browser.close()


def test_an_old_source_warns_on_the_scheduled_run_and_not_on_a_backfill(
    airflow, alerts, demo_source, loaded_window
) -> None:
    # a real backfill of one hour (it unpauses the DAG); unpausing also makes the scheduler create the
    # current hour's scheduled run (catchup off), over the demo source whose newest event is years old
    airflow.backfill(OLD_HOUR.isoformat(), OLD_HOUR.isoformat(), max_active_runs=1)

    def settled(runs: list[dict]) -> bool:
        kinds = {r["run_type"] for r in runs}
        return {"backfill", "scheduled"} <= kinds and all(r["state"] in ("success", "failed") for r in runs)

    runs = airflow.wait_for(settled, "the backfill and the scheduled run", timeout=420)
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": True})
    (backfilled,) = [r for r in runs if r["run_type"] == "backfill"]
    scheduled = [r for r in runs if r["run_type"] == "scheduled"]

    # the backfill staged the demo's 3rd of November (the day before its window): stale, and not warned about
    assert backfilled["logical_date"].startswith(OLD_HOUR.strftime("%Y-%m-%dT%H:%M"))
    passed, _, observed, expected = check_result(airflow.warehouse, backfilled["dag_run_id"], "source_freshness")
    assert (passed, observed) == (True, "skipped") and expected.startswith("not checked on a backfill")
    assert not any("source_freshness" in m["text"] for m in alerts.warnings_of(backfilled["dag_run_id"]))

    newest = oracle.moment(max(e["ts"] for e in oracle.events(demo_source)))
    summary = airflow.api("GET", "/sparkify/api/summary")
    shown = next(c for c in summary["quality"] if c["check_name"] == "source_freshness")
    shown_observed = set()
    for run in scheduled:
        window_end = dt.datetime.fromisoformat(run["data_interval_end"]).replace(tzinfo=None)
        age = f"{(window_end - newest) / dt.timedelta(hours=1):.2f} h old"
        passed, severity, observed, expected = check_result(airflow.warehouse, run["dag_run_id"], "source_freshness")
        assert (passed, severity) == (False, "warn") and expected == "age vs the window's end: warn after 6 h"
        (message,) = alerts.warnings_of(run["dag_run_id"])
        assert f"songplays: source_freshness (window, warn): observed {observed}" in message["text"]
        shown_observed.add(observed)
        # the run created on the first unpause may have checked before the demo data was staged: its
        # newest event is then unknown here (still old: a warning). Otherwise it is the demo's newest.
        if staged_before(airflow, loaded_window, run["dag_run_id"]):
            assert observed.startswith(f"{age} (newest {newest}")
    # the view: a scheduled run's warning is the check's last failure, and counted among its warnings
    assert shown["last_failure"]["observed"] in shown_observed and shown["warned"] >= len(scheduled)


def test_half_the_usual_plays_warns_in_the_view_the_asset_event_and_the_alert(airflow, alerts, week_source) -> None:
    from playwright.sync_api import expect, sync_playwright

    all_events, all_songs = oracle.events(week_source), oracle.songs(week_source)

    def plays(day: dt.date) -> int:
        return len(oracle.songplays(all_events, all_songs, midnight(day), midnight(day) + DAY))

    usual = statistics.median(plays(day) for day in WEEK[:-1])
    today = plays(HALVED)
    assert today / usual < 0.6, "the generated day must be an anomaly: the check warns under 0.6 × the median"
    expected_observed = f"{today}: {today / usual:.2f} × the median {usual:g} of "

    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
    # the week in one run: its checks' window covers each day before the halved one, so each is history
    run_window(airflow, midnight(WEEK[0]), midnight(HALVED), source=str(week_source))
    halved = run_window(airflow, midnight(HALVED), midnight(HALVED) + DAY, source=str(week_source))
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": True})

    passed, severity, observed, _ = check_result(airflow.warehouse, halved, "songplays_volume")
    assert (passed, severity) == (False, "warn") and observed.startswith(expected_observed)

    # the asset event of songplays, as Airflow's REST API gives it
    query = urlencode({"source_dag_id": "sparkify_etl", "source_run_id": halved, "limit": 100})
    events = airflow.api("GET", f"/api/v2/assets/events?{query}")["asset_events"]
    (event,) = [e for e in events if e["source_run_id"] == halved and e["name"] == "sparkify.songplays"]
    warned = {w["check"]: w for w in event["extra"]["warnings"]}
    assert warned["songplays_volume"]["observed"].startswith(expected_observed)
    assert event["extra"]["checks"]["warnings"] == len(warned)

    # the notifier's message, as the webhook received it
    (message,) = alerts.warnings_of(halved)
    assert message["text"].startswith("[sparkify warning] ")
    assert f"songplays: songplays_volume (window, warn): observed {expected_observed}" in message["text"]

    # the view, in Chromium: the check's row with its warning and numbers, the halved day in the chart
    with sync_playwright() as playwright:
        browser, page, view = open_view(playwright, airflow, height=1600)
        row = view.locator('#quality tr[data-check="songplays.songplays_volume"]')
        expect(row).to_contain_text(expected_observed)
        assert int(row.locator("td").nth(5).inner_text()) >= 1  # the warn count
        bars = view.locator("svg#songplays-per-hour rect.bar")
        expect(bars).to_have_count(72)
        per_day = {}
        for bar in bars.all():
            day = dt.date.fromisoformat(bar.get_attribute("data-hour")[:10])
            per_day[day] = per_day.get(day, 0) + int(bar.get_attribute("data-plays"))
        assert per_day == {day: plays(day) for day in WEEK[-3:]}
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
        browser.close()
