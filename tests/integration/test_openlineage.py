"""OpenLineage from a real Airflow run: ``airflow dags test`` with the file transport, events read back.

What a lineage consumer (Marquez, DataHub, a catalogue) relies on: each custom task's COMPLETE event
names the source objects it read and the tables it wrote the way the OpenLineage naming spec does, the
fact table carries column lineage, and the quality task carries one assertion per check with its
outcome; a failing check shows as success false on the task's FAIL event. Expected values come from
the data set, the warehouse and the model SQL as read by a person, never from the lineage code.
"""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import urlparse

import psycopg
import pytest
from support import oracle
from support.openlineage import dags_test_with_lineage, datasets, read_events, task_event
from support.postgres import PORT, SERVER, admin
from support.warehouse_state import rows

# its two runs of `airflow dags test` are module fixtures: the module runs on one worker (tests/conftest.py)
pytestmark = pytest.mark.slow
UTC = dt.UTC
# noon to noon: the window touches two day files
START = dt.datetime(2018, 11, 1, 12, tzinfo=UTC)
END = dt.datetime(2018, 11, 2, 12, tzinfo=UTC)
STAR = ("songplays", "users", "songs", "artists", "time")


@pytest.fixture(scope="module")
def warehouse(postgres_server):
    """A warehouse database for this module's runs (each run is a fresh ``airflow dags test``)."""
    database = f"sparkify_lineage_{os.getpid()}"
    with admin() as conn:
        conn.execute(f"drop database if exists {database} with (force)")
        conn.execute(f"create database {database}")
    yield f"{SERVER}/{database}"
    with admin() as conn:
        conn.execute(f"drop database if exists {database} with (force)")


@pytest.fixture(scope="module")
def db(warehouse):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def lineage_run(airflow_db, demo_source, warehouse, tmp_path_factory):
    """One successful run over the window; its events, the warehouse's namespace, and table names."""
    events = tmp_path_factory.mktemp("lineage") / "events.jsonl"
    done = dags_test_with_lineage(warehouse=warehouse, source=demo_source, start=START, end=END, events=events)
    assert "state=success" in done.stdout, (done.stdout + done.stderr)[-4000:]
    database = urlparse(warehouse).path.lstrip("/")
    return read_events(events), f"postgres://127.0.0.1:{PORT}", lambda table: f"{database}.public.{table}"


@pytest.fixture(scope="module")
def failing_run(lineage_run, warehouse, demo_source, db, tmp_path_factory):
    """A rerun of the same window after a song with an impossible duration was planted: its events."""
    # a song id that is in no staged file, so no load replaces it
    db.execute("insert into songs (song_id, title, artist_id, year, duration) values ('SOBROKEN', 'x', null, null, -1)")
    events = tmp_path_factory.mktemp("lineage") / "rerun.jsonl"
    done = dags_test_with_lineage(warehouse=warehouse, source=demo_source, start=START, end=END, events=events)
    assert "state=failed" in done.stdout, (done.stdout + done.stderr)[-4000:]
    return read_events(events)


def assertions(event: dict, warehouse: str, name) -> dict[str, list[dict]]:
    """``{table: [assertion, …]}`` of the quality task's event."""
    found = {}
    for table in STAR:
        dataset = datasets(event, "inputs")[warehouse, name(table)]
        found[table] = dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
    return found


def test_staging_reports_the_day_files_and_the_song_prefix_it_read(lineage_run, demo_source, db) -> None:
    events, warehouse, name = lineage_run

    stage_events = task_event(events, "stage_events", "COMPLETE")
    # the window's two days, and the day after (stage_events also stages the days around its window; the
    # day before, 31 October, has no file)
    day_files = [demo_source / f"log_data/2018/11/2018-11-0{day}-events.json" for day in (1, 2, 3)]
    inputs = datasets(stage_events, "inputs")
    assert set(inputs) == {("file", str(path)) for path in day_files}
    for path in day_files:
        statistics = inputs["file", str(path)]["inputFacets"]["inputStatistics"]
        assert statistics["rowCount"] == len(path.read_text().splitlines())  # one event a line
        assert statistics["size"] == path.stat().st_size
    outputs = datasets(stage_events, "outputs")
    assert set(outputs) == {(warehouse, name("staging_events"))}
    staged = rows(db, "select count(*) from staging_events")[0][0]
    assert outputs[warehouse, name("staging_events")]["outputFacets"]["outputStatistics"]["rowCount"] == staged

    stage_songs = task_event(events, "stage_songs", "COMPLETE")
    song_files = sorted((demo_source / "song_data").rglob("*.json"))
    inputs = datasets(stage_songs, "inputs")
    assert set(inputs) == {("file", str(demo_source / "song_data"))}, "many song files are one dataset, the prefix"
    statistics = inputs["file", str(demo_source / "song_data")]["inputFacets"]["inputStatistics"]
    assert statistics["fileCount"] == len(song_files) > 1
    assert statistics["size"] == sum(p.stat().st_size for p in song_files)
    assert set(datasets(stage_songs, "outputs")) == {(warehouse, name("staging_songs"))}


def test_start_and_complete_events_name_only_the_warehouse_and_the_source_files(lineage_run) -> None:
    events, warehouse, _ = lineage_run
    # never the placeholder URIs of the tasks' outlets; the files read are known once they are read
    for event_type, expected in (("START", {warehouse}), ("COMPLETE", {warehouse, "file"})):
        named = [e.get("inputs", []) + e.get("outputs", []) for e in events if e["eventType"] == event_type]
        assert {d["namespace"] for found in named for d in found} == expected, event_type


def test_loads_name_their_inputs_and_outputs_and_songplays_has_column_lineage(lineage_run, demo_source, db) -> None:
    events, warehouse, name = lineage_run
    built_from = {
        "load_songplays_fact": ({"staging_events", "staging_songs"}, "songplays"),
        "load_users_dim": ({"staging_events"}, "users"),
        "load_songs_dim": ({"staging_songs"}, "songs"),
        "load_artists_dim": ({"staging_songs"}, "artists"),
        "load_time_dim": ({"staging_events"}, "time"),
    }
    for task_id, (sources, table) in built_from.items():
        event = task_event(events, task_id, "COMPLETE")
        assert set(datasets(event, "inputs")) == {(warehouse, name(s)) for s in sources}, task_id
        assert set(datasets(event, "outputs")) == {(warehouse, name(table))}, task_id

    fact = datasets(task_event(events, "load_songplays_fact", "COMPLETE"), "outputs")[warehouse, name("songplays")]
    expected_plays = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), START, END)
    assert fact["outputFacets"]["outputStatistics"]["rowCount"] == len(expected_plays) > 0

    lineage = {
        column: {(f["namespace"], f["name"], f["field"]) for f in spec["inputFields"]}
        for column, spec in fact["facets"]["columnLineage"]["fields"].items()
    }
    columns = rows(db, "select column_name from information_schema.columns where table_name = 'songplays'")
    assert set(lineage) == {c for (c,) in columns}, "every column of the fact table has its sources"
    # as read off sql/models/songplays.sql
    plays, songs = name("staging_events"), name("staging_songs")
    assert lineage["start_time"] == {(warehouse, plays, "ts")}
    assert lineage["song_id"] == {(warehouse, songs, "song_id")}
    assert lineage["artist_id"] == {(warehouse, songs, "artist_id")}
    assert lineage["songplay_id"] == {(warehouse, plays, c) for c in ("session_id", "item_in_session", "user_id", "ts")}
    assert lineage["user_agent"] == {(warehouse, plays, "user_agent")}


def test_quality_assertions_on_each_checked_table(lineage_run, db) -> None:
    events, warehouse, name = lineage_run
    event = task_event(events, "run_quality_checks", "COMPLETE")
    assert set(datasets(event, "inputs")) == {(warehouse, name(t)) for t in STAR}
    assert set(datasets(event, "outputs")) == {(warehouse, name("quality_results"))}
    found = assertions(event, warehouse, name)
    for table in STAR:
        assert found[table] and all(a["success"] is True for a in found[table]), table

    songplays = {a["name"]: a for a in found["songplays"]}
    assert songplays["not_null(user_id)"]["assertion"] == "not_null"
    assert songplays["not_null(user_id)"]["column"] == "user_id"
    assert songplays["accepted_values(level)"]["actual"] == "0"
    # the primary key PostgreSQL enforces is not checked again, so it is no assertion
    assert "unique(songplay_id)" not in songplays and "not_null(songplay_id)" not in songplays
    assert songplays["row_count"]["actual"] == str(rows(db, "select count(*) from songplays")[0][0])
    assert "column" not in songplays["loaded_equals_staged"], "a custom check tests the whole table"


def test_a_failing_check_is_success_false_on_the_fail_event(lineage_run, failing_run) -> None:
    _, warehouse, name = lineage_run
    events = failing_run
    assert not [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith("run_quality_checks")]
    found = assertions(task_event(events, "run_quality_checks", "FAIL"), warehouse, name)
    failed = [
        (table, a["assertion"], a["column"], a["actual"]) for table in STAR for a in found[table] if not a["success"]
    ]
    assert failed == [("songs", "range", "duration", "1")]

    # the rerun found both day files already staged: it read nothing, and staged no row
    stage_events = task_event(events, "stage_events", "COMPLETE")
    assert datasets(stage_events, "inputs") == {}
    output = datasets(stage_events, "outputs")[warehouse, name("staging_events")]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 0
