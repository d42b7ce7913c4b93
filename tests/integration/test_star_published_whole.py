"""A star published whole or not at all: when a dimension's load or gate fails, the fact rows that would
reference its rows are not published either (issue 18), on both targets.

A user with a gender outside the catalogue's accepted values passes staging (an unknown vocabulary value is
kept and counted, never dropped) and fails the users load's gate. The run then publishes no songplays: the
fact loads only after the dimensions it references. The time dimension too: it is built from the staged
window and loads before the fact, so a time load that fails leaves no play whose start_time has no row.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from urllib.parse import quote

import pytest
from generate_demo_data import generate
from support import faults
from support.moto_server import s3_client, upload_folder
from support.runner import dag_test, run_window, task_states
from support.warehouse_state import rows, snapshot

UTC = dt.UTC


@pytest.mark.usefixtures("airflow_db")
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


# -- the time dimension: loaded before the fact, on both targets ---------------------------------------

#: every published play with a start_time that has no time row, or a user, song or artist that has no row:
#: written here, independently of the pipeline's own relationship checks
ORPHAN_PLAYS = """
select count(*) from songplays as sp
where
    not exists (select 1 from time as t where t.start_time = sp.start_time)
    or (sp.user_id is not null and not exists (select 1 from users as u where u.user_id = sp.user_id))
    or (sp.song_id is not null and not exists (select 1 from songs as s where s.song_id = sp.song_id))
    or (sp.artist_id is not null and not exists (select 1 from artists as a where a.artist_id = sp.artist_id))
"""


@pytest.fixture(scope="module")
def small_source(tmp_path_factory):
    out = tmp_path_factory.mktemp("published-whole")
    generate(out, songs=20, users=8, days=1, events_per_day=150, seed=3)
    return out


@pytest.fixture(params=["postgres", "redshift"])
def target_source(request, small_source, db):
    """The source as the target reads it: the folder, or on Redshift a bucket the emulator's COPY reads."""
    if request.param == "postgres":
        return str(small_source)
    s3_endpoint = request.getfixturevalue("s3_endpoint")
    emulator = request.getfixturevalue("redshift_emulator")
    request.getfixturevalue("aws_connection")
    bucket = f"published-whole-{id(request) % 100_000}"
    upload_folder(s3_endpoint, small_source, bucket, "raw")
    s3_client(s3_endpoint).create_bucket(
        Bucket=f"{bucket}-work", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    role = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"  # the role the emulator fixture creates
    extras = f"iam_role={quote(role, safe='')}&workspace={quote(f's3://{bucket}-work/etl', safe='')}"
    request.getfixturevalue("monkeypatch").setenv("AIRFLOW_CONN_REDSHIFT", f"{emulator.uri(db.info.dbname)}?{extras}")
    return f"s3://{bucket}/raw"


def test_a_time_load_that_fails_holds_back_the_fact(dag, small_source, target_source, db) -> None:
    start = dt.datetime(2018, 11, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=1)
    run_window(dag, start, end, target_source, only=("create_tables",))
    # the time load fails (a constraint no row meets, on the table itself: the same on both targets)
    db.execute("alter table time add constraint refuse_every_row check (false)")

    with pytest.raises(Exception, match="refuse_every_row"):
        run_window(dag, start, end, target_source)
    assert rows(db, ORPHAN_PLAYS) == [(0,)], "plays published whose time (or user, song, artist) is missing"
    assert rows(db, "select count(*) from songplays") == [(0,)], "the plays wait for their time rows"
    staged = "select count(*) from staging_events where page = 'NextSong'"
    assert rows(db, staged)[0][0] > 0, "the plays were staged: only their publication waits"

    # the repair: the time load works again; the rerun publishes the whole star
    db.execute("alter table time drop constraint refuse_every_row")
    run_window(dag, start, end, target_source)
    assert snapshot(db) == faults.oracle_tables(small_source, start, end)
    assert rows(db, ORPHAN_PLAYS) == [(0,)]
