"""A star published whole or not at all: when a dimension's gate fails, the fact rows that would reference
its rows are not published either (issue 18).

A user with a gender outside the catalogue's accepted values passes staging (an unknown vocabulary value is
kept and counted, never dropped) and fails the users load's gate. The run then publishes no songplays: the
fact loads only after the dimensions it references.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from support.runner import dag_test, task_states
from support.warehouse_state import rows

UTC = dt.UTC

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_a_dimension_whose_gate_fails_holds_back_the_fact(dag, demo_source, db, tmp_path) -> None:
    source = tmp_path / "source"
    shutil.copytree(demo_source, source)
    first_day = source / "log_data" / "2018" / "11" / "2018-11-01-events.json"
    user = next(r["userId"] for r in map(json.loads, first_day.read_text().splitlines()) if r["page"] == "NextSong")
    # every event of the user, in every day file: the users model takes the gender of the latest one
    for day in sorted((source / "log_data").rglob("*.json")):
        records = [json.loads(line) for line in day.read_text().splitlines()]
        for record in records:
            if record["userId"] == user:
                record["gender"] = "X"
        day.write_text("".join(json.dumps(record) + "\n" for record in records))
    plays = [r for r in map(json.loads, first_day.read_text().splitlines()) if r["page"] == "NextSong"]

    start = dt.datetime(2018, 11, 1, tzinfo=UTC)
    dag_run = dag_test(dag, start=start, end=start + dt.timedelta(days=1), source=source)

    states = task_states(dag_run)
    assert states["load_users_dim"] == "failed"
    assert states["load_songplays_fact"] == "upstream_failed"
    assert rows(db, "select count(*) from songplays") == [(0,)], "plays published without their users"
    staged_plays = "select count(*) from staging_events where page = 'NextSong' and ts < '2018-11-02'"
    assert rows(db, staged_plays) == [(len(plays),)], "the plays were staged: only their publication waits"
