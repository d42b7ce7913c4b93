"""The Sparkify view (plugins/sparkify_ui.py, sparkify.ui) served by Airflow's own API app, in process: it
needs Airflow's login, its JSON and page show what independent SQL counts over a warehouse loaded by a
real run, what needs attention comes first, hostile values come out escaped, no response carries a
credential, and on the Redshift target (the emulator) it gives the same answers, shows the rows SQL counts
and no credential, with only portable SQL."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest
from support.paths import ROOT
from support.postgres import SERVER, admin
from support.runner import run_window

UTC = dt.UTC
START, END = dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC)
RUN_ID = f"test__{START.isoformat()}__{END.isoformat()}"  # what support.runner.run_window calls its run
HOSTILE = "<script>alert('x')</script>"
# ignored by the trust authentication of the test cluster, so the warehouse answers; must never be shown
PASSWORD = "Pw-d0-not-SHOW-4711"
EXTRA_SECRET = "arn:aws:iam::123456789012:role/never-shown-role"
NOW = dt.datetime.now(UTC).replace(tzinfo=None)
pytestmark = pytest.mark.usefixtures("airflow_db")


def connection_uri(host_and_port: str, database: str) -> str:
    return f"postgres://postgres:{PASSWORD}@{host_and_port}/{database}?iam_role={quote(EXTRA_SECRET, safe='')}"


@pytest.fixture(scope="module")
def warehouse(postgres_server, demo_source):
    """A warehouse loaded by one run over 2018-11-02, plus hostile quarantine and quality rows; the
    connection ``redshift`` points at it with a password and an extra that must never be shown."""
    from airflow.dag_processing.dagbag import DagBag

    name = f"sparkify_view_test_{os.getpid()}"  # one per worker: `make test` may run this module on several
    with admin() as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    dsn = f"{SERVER}/{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_REDSHIFT", connection_uri(SERVER.rsplit("@", 1)[1], name))
        dag = DagBag(dag_folder=str(ROOT / "dags")).dags["sparkify_etl"]
        run_window(dag, START, END, demo_source)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.cursor().executemany(
                "insert into quarantined_records (table_name, object_key, line_number, field, reason, record,"
                " run_id, quarantined_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    ("staging_events", f"log_data/{HOSTILE}.json", 3, "sessionId", f"bad {HOSTILE}", "{}", "r", NOW),
                    ("staging_events", f"log_data/{HOSTILE}.json", 9, "sessionId", f"bad {HOSTILE}", "{}", "r", NOW),
                    ("staging_songs", "song_data/A/B/x.json", 1, "duration", "not a number", "{}", "r", NOW),
                ],
            )
            old = NOW - dt.timedelta(days=20)
            conn.cursor().executemany(
                "insert into quality_results (run_id, window_start, window_end, table_name, check_name, severity,"
                " passed, observed, expected, checked_at) values (%s, null, null, %s, %s, %s, %s, %s, %s, %s)",
                [
                    ("manual__x", "songplays", HOSTILE, "error", False, f"3 {HOSTILE}", "0", NOW),
                    ("manual__x", "songplays", HOSTILE, "error", True, "0", "0", NOW - dt.timedelta(days=2)),
                    ("manual__x", "users", "level_values_warn", "warn", False, "1", "0", NOW),
                    ("manual__old", "users", "outside_the_history", "error", False, "1", "0", old),
                ],
            )
        yield {"dsn": dsn, "name": name, "patch": patch}
    with admin() as conn:
        conn.execute(f"drop database if exists {name} with (force)")


@pytest.fixture(scope="module")
def api(warehouse):
    """Airflow's API app as the API server builds it (plugins from plugins/), and an admin's token."""
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def sql(dsn: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def summary(api) -> dict:
    response = api.get("/sparkify/api/summary")
    assert response.status_code == 200, response.text
    return response.json()


def test_anonymous_and_forged_requests_are_refused(api) -> None:
    for path in ("/sparkify/", "/sparkify/api/summary", "/sparkify/chart.svg"):
        assert api.get(path, headers={"Authorization": ""}).status_code == 401
        assert api.get(path, headers={"Authorization": "Bearer not.a.jwt"}).status_code == 403
        # the UI's cookie is honoured like the header, and checked the same way
        cookie = api.get(path, headers={"Authorization": "", "Cookie": "_token=forged"})
        assert cookie.status_code == 403


def test_the_ui_cookie_opens_the_page(api) -> None:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    response = api.get("/sparkify/", headers={"Authorization": "", "Cookie": f"_token={token}"})
    assert response.status_code == 200
    assert "Sparkify warehouse" in response.text


def test_the_plugin_is_registered_with_its_navigation_entry(api) -> None:
    plugins = api.get("/api/v2/plugins").json()["plugins"]
    mine = next(p for p in plugins if p["name"] == "sparkify_ui")
    assert mine["fastapi_apps"][0]["url_prefix"] == "/sparkify"
    assert mine["external_views"][0]["href"] == "/sparkify/"
    assert mine["external_views"][0]["url_route"] == "sparkify"


def test_star_tables_rows_last_load_and_freshness(api, warehouse) -> None:
    star = {t["name"]: t for t in summary(api)["star"]}
    assert set(star) == {"songplays", "users", "songs", "artists", "time"}
    for name, table in star.items():
        assert table["rows"] == sql(warehouse["dsn"], f"select count(*) from {name}")[0][0] > 0, name
        last = sql(
            warehouse["dsn"],
            "select run_id, checked_at from quality_results where table_name = %s order by checked_at desc limit 1",
            (name,),
        )[0]
        assert (table["last_run_id"], table["last_checked_at"]) == (last[0], last[1].isoformat()), name
        assert table["fresh"] is True and table["age_seconds"] < 3600
    newest = sql(warehouse["dsn"], "select max(start_time) from songplays")[0][0]
    assert star["songplays"]["newest"] == newest.isoformat()
    assert star["users"]["newest"] is None  # a dimension without a time column


def test_quality_history_counts_and_failures(api, warehouse) -> None:
    data = summary(api)
    checks = {(c["table_name"], c["check_name"]): c for c in data["quality"]}
    since = dt.datetime.combine(NOW.date() - dt.timedelta(days=13), dt.time())
    expected = sql(
        warehouse["dsn"],
        "select table_name, check_name, count(*) filter (where passed),"
        " count(*) filter (where not passed and severity = 'warn'),"
        " count(*) filter (where not passed and severity <> 'warn')"
        " from quality_results where checked_at >= %s group by 1, 2",
        (since,),
    )
    assert len(expected) == len(checks) > 10
    for table, check, passed, warned, failed in expected:
        got = checks[(table, check)]
        assert (got["passed"], got["warned"], got["failed"]) == (passed, warned, failed), (table, check)
        assert len(got["days"]) == 14
        assert sum(d["pass"] + d["warn"] + d["fail"] for d in got["days"]) == passed + warned + failed
    assert ("users", "outside_the_history") not in checks  # 20 days old
    hostile = checks[("songplays", HOSTILE)]
    assert (hostile["last_status"], hostile["passed"], hostile["failed"]) == ("fail", 1, 1)
    assert hostile["last_failure"]["observed"] == f"3 {HOSTILE}"
    assert checks[("users", "level_values_warn")]["last_status"] == "warn"


def test_quarantine_by_reason_and_object(api, warehouse) -> None:
    data = summary(api)
    assert data["quarantine_total"] == sql(warehouse["dsn"], "select count(*) from quarantined_records")[0][0] == 3
    expected = sql(
        warehouse["dsn"],
        "select table_name, reason, object_key, count(*) from quarantined_records group by 1, 2, 3",
    )
    got = {(q["table_name"], q["reason"], q["object_key"]): q["records"] for q in data["quarantine"]}
    assert got == {row[:3]: row[3] for row in expected}


def test_songplays_per_hour_and_the_chart(api, warehouse) -> None:
    data = summary(api)
    hours = {h["hour"]: h["songplays"] for h in data["hours"]}
    assert len(hours) == 3 * 24  # the newest play's day and the two before it, every hour
    counts = sql(
        warehouse["dsn"], "select date_trunc('hour', start_time), count(*) from songplays group by 1 order by 1"
    )
    assert counts and {h.isoformat(): n for h, n in counts}.items() <= hours.items()
    assert sum(hours.values()) == sql(warehouse["dsn"], "select count(*) from songplays")[0][0]

    one_day = api.get("/sparkify/api/summary?days=1").json()
    assert len(one_day["hours"]) == 24
    assert api.get("/sparkify/api/summary?days=99").status_code == 422

    svg = api.get("/sparkify/chart.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    bars = re.findall(r'<rect class="bar"[^>]*data-plays="(\d+)"', svg.text)
    assert len(bars) == 72 and sum(map(int, bars)) == sum(hours.values())


def test_load_history_from_the_ledger(api, warehouse) -> None:
    data = summary(api)
    expected = sql(
        warehouse["dsn"],
        "select table_name, count(*), sum(row_count) from staging_ledger group by 1 order by 1",
    )
    assert [(t["table_name"], t["objects"], t["rows"]) for t in data["ledger_tables"]] == [
        (t, n, int(r)) for t, n, r in expected
    ]
    total = sql(warehouse["dsn"], "select count(*) from staging_ledger")[0][0]
    assert len(data["ledger_recent"]) == min(total, 50)
    assert sum(d["objects"] for d in data["ledger_days"]) == total  # all staged today


def test_the_page_escapes_what_it_shows(api) -> None:
    response = api.get("/sparkify/")
    assert response.status_code == 200
    page = response.text
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert 'id="songplays-per-hour"' in page and page.count('<rect class="bar"') == 72
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert re.search(r'id="quarantine-total">3<', page)
    for table in ("songplays", "users", "songs", "artists", "time"):
        assert f'<tr data-table="{table}">' in page


def test_the_page_lists_what_needs_attention_first(api, warehouse) -> None:
    page = api.get("/sparkify/").text
    assert page.index('id="attention"') < page.index('id="star-tables"')
    attention = page.split('id="attention"', 1)[1].split("</table>", 1)[0]
    since = dt.datetime.combine(NOW.date() - dt.timedelta(days=13), dt.time())
    latest_not_passed = sql(
        warehouse["dsn"],
        "select table_name, check_name, severity from (select table_name, check_name, severity, passed,"
        " rank() over (partition by table_name, check_name order by checked_at desc) as r"
        " from quality_results where checked_at >= %s) latest where r = 1 and not passed",
        (since,),
    )
    assert len(latest_not_passed) >= 2  # the hostile failure and the users warning, at least
    shown = re.findall(r'<tr data-check="([^"]+)">\s*<td>.*?</td>\s*<td>.*?</td>\s*<td class="(\w+)">', attention, re.S)
    assert sorted((html.unescape(check), status) for check, status in shown) == sorted(
        (f"{t}.{c}", "warn" if severity == "warn" else "fail") for t, c, severity in latest_not_passed
    )


def test_no_response_carries_a_credential(api, warehouse) -> None:
    secrets = (PASSWORD, EXTRA_SECRET, quote(EXTRA_SECRET, safe=""), "postgres://", "postgresql://")
    responses = [api.get(p) for p in ("/sparkify/", "/sparkify/api/summary", "/sparkify/chart.svg")]
    # an unreachable warehouse: the driver's message would name host and port; the answer names neither
    with moved_connection(warehouse, connection_uri("127.0.0.1:1", warehouse["name"])):
        broken = [api.get(p) for p in ("/sparkify/", "/sparkify/api/summary")]
    assert [r.status_code for r in broken] == [503, 503]
    assert "OperationalError" in broken[1].json()["error"]
    for response in responses + broken:
        for secret in (*secrets, "127.0.0.1"):
            assert secret not in response.text, (response.url, secret)


@contextmanager
def moved_connection(warehouse: dict, uri: str):
    patch = warehouse["patch"]
    patch.setenv("AIRFLOW_CONN_REDSHIFT", uri)
    try:
        yield
    finally:
        patch.setenv("AIRFLOW_CONN_REDSHIFT", connection_uri(SERVER.rsplit("@", 1)[1], warehouse["name"]))


PG_ONLY = re.compile(
    r"\bfilter\s*\(|string_agg|on\s+conflict|generate_series|distinct\s+on|::|\binterval\b|\bilike\b", re.IGNORECASE
)


def test_the_redshift_target_gives_the_same_answers_with_portable_sql(api, warehouse, redshift_emulator) -> None:
    on_postgres = summary(api)
    first = len(redshift_emulator.statement_texts())
    with moved_connection(warehouse, redshift_emulator.uri(warehouse["name"])):
        on_redshift = summary(api)
    assert on_redshift["target"] == "redshift" and on_postgres["target"] == "postgres"
    for data in (on_postgres, on_redshift):
        for table in data["star"]:
            table.pop("age_seconds")  # seconds apart
    for key in ("star", "quality", "quarantine", "quarantine_total", "hours", "ledger_tables", "ledger_recent"):
        assert on_redshift[key] == on_postgres[key], key
    sent = redshift_emulator.statement_texts()[first:]
    assert any("quality_results" in s for s in sent)
    assert not [s for s in sent if PG_ONLY.search(s)]


def test_on_the_redshift_target_the_view_shows_the_rows_and_no_credential(api, warehouse, redshift_emulator) -> None:
    dsn, user = warehouse["dsn"], "IAM:sparkify_viewer"
    uri = f"{redshift_emulator.uri(warehouse['name'], user=user, password=PASSWORD)}?iam_role={quote(EXTRA_SECRET)}"
    first = len(redshift_emulator.statement_texts())
    with moved_connection(warehouse, uri):
        data = summary(api)
        page, svg = api.get("/sparkify/"), api.get("/sparkify/chart.svg")
        # a database the emulator's server does not have: the driver's message would name it and the user
        missing = uri.replace(f"/{warehouse['name']}?", "/no_such_warehouse?")
        with moved_connection(warehouse, missing):
            broken = [api.get(p) for p in ("/sparkify/", "/sparkify/api/summary")]
    sent = redshift_emulator.statement_texts()[first:]
    assert any("from songplays" in s for s in sent), "the view read the warehouse through the emulator"

    assert data["target"] == "redshift" and page.status_code == svg.status_code == 200
    assert re.search(r'id="target">redshift<', page.text)
    for table in data["star"]:
        expected = sql(dsn, f"select count(*) from {table['name']}")[0][0]
        assert table["rows"] == expected > 0, table["name"]
        assert re.search(rf'<tr data-table="{table["name"]}">.*?class="num rows">{expected:,}<', page.text, re.S)
    plays = sql(dsn, "select count(*) from songplays")[0][0]
    assert sum(h["songplays"] for h in data["hours"]) == plays
    assert sum(map(int, re.findall(r'data-plays="(\d+)"', svg.text))) == plays
    assert data["quarantine_total"] == 3 and re.search(r'id="quarantine-total">3<', page.text)
    staged = sql(dsn, "select table_name, count(*) from staging_ledger group by 1 order by 1")
    assert [(t["table_name"], t["objects"]) for t in data["ledger_tables"]] == staged
    warned = {(c["table_name"], c["check_name"]): c["last_status"] for c in data["quality"]}
    assert warned[("users", "level_values_warn")] == "warn"

    assert [r.status_code for r in broken] == [503, 503]
    secrets = (PASSWORD, EXTRA_SECRET, quote(EXTRA_SECRET), "sparkify_viewer", "redshift://", "no_such_warehouse")
    for response in (page, svg, *broken):
        for secret in (*secrets, f":{redshift_emulator.port}"):
            assert secret not in response.text, (response.url, secret)
