"""The Sparkify view in a real Airflow: a run loads a window (one record quarantined), an admin logs in
through the UI in headless Chromium, opens *Sparkify* from the navigation and sees the star tables' rows,
the songplays chart and the quarantined count that SQL counts; an anonymous request to the plugin's API
is refused. The test's screenshot is docs/images/sparkify-view.png.

Skipped, with the reason, where Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from support.airflow_stack import running_airflow
from support.paths import ROOT

pytestmark = pytest.mark.slow
UTC = dt.UTC
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / "docs" / "images" / "sparkify-view.png"
BAD_DAY = "log_data/2018/11/2018-11-02-events.json"
START, END = dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 2, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def airflow(postgres_server, demo_source, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    with running_airflow("view", demo_source, tmp_path_factory.mktemp("airflow-view")) as stack:
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


def count(dsn: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchone()[0]


def test_an_anonymous_request_to_the_view_is_refused(airflow) -> None:
    for path in ("/sparkify/api/summary", "/sparkify/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{airflow.url}{path}", timeout=30)  # noqa: S310 - our own local server
        assert refused.value.code in (401, 403)


def test_the_view_shows_the_loaded_window(airflow, source_with_a_bad_record) -> None:
    from playwright.sync_api import expect, sync_playwright

    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
    conf = {
        "window_start": START.isoformat(),
        "window_end": END.isoformat(),
        "source": str(source_with_a_bad_record),
        "bad_records": "quarantine",
    }
    run_id = airflow.api("POST", "/api/v2/dags/sparkify_etl/dagRuns", {"logical_date": None, "conf": conf})[
        "dag_run_id"
    ]
    run = airflow.wait_for_run("sparkify_etl", run_id, ("success", "failed"), timeout=400)
    airflow.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": True})
    assert run["state"] == "success", f"run {run_id} {run['state']} (logs in {airflow.home})"

    rows = {t: count(airflow.warehouse, f"select count(*) from {t}") for t in ("songplays", "users", "time")}
    quarantined = count(airflow.warehouse, "select count(*) from quarantined_records")
    assert rows["songplays"] > 0 and quarantined == 1

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(airflow.url)
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(airflow.password)
        page.get_by_role("button", name="Sign in").click()

        page.get_by_role("link", name="Sparkify").first.click()  # the plugin's entry in the navigation
        page.wait_for_url("**/plugin/sparkify", timeout=30_000)
        view = page.frame_locator("iframe").first
        for table, expected in rows.items():
            expect(view.locator(f'#star-tables tr[data-table="{table}"] td.rows')).to_have_text(f"{expected:,}")
        expect(view.locator("#quarantine-total")).to_have_text(str(quarantined))
        expect(view.locator("#quarantine td.reason").first).to_be_visible()
        chart = view.locator("svg#songplays-per-hour")
        expect(chart).to_be_visible()
        assert chart.locator("rect.bar").count() == 72  # three days, every hour
        expect(view.locator("#quality tbody tr").first).to_be_visible()
        expect(view.locator('#ledger-tables tr[data-table="staging_events"]')).to_be_visible()
        page.screenshot(path=str(SCREENSHOT))
        browser.close()
