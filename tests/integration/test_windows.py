"""Idempotency, hourly-versus-span equivalence, out-of-order hours and empty windows."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from support import oracle
from support.runner import run_window
from support.warehouse_state import recreate_tables, rows, snapshot

from sparkify.window import WindowError

UTC = dt.UTC
DAY = dt.datetime(2018, 11, 2, tzinfo=UTC)
HOURS = [(DAY + dt.timedelta(hours=h), DAY + dt.timedelta(hours=h + 1)) for h in range(24)]


def test_rerunning_a_window_changes_nothing(dag, demo_source, db) -> None:
    run_window(dag, DAY, DAY + dt.timedelta(days=1), demo_source)
    first = snapshot(db)
    staged = rows(db, "select count(*) from staging_events")[0][0]

    results = run_window(dag, DAY, DAY + dt.timedelta(days=1), demo_source)

    assert snapshot(db) == first
    assert rows(db, "select count(*) from staging_events")[0][0] == staged
    assert results["stage_events"]["objects_staged"] == 0  # the ledger skipped the day file


def test_24_hourly_runs_in_any_order_equal_one_run_over_the_day(dag, demo_source, db) -> None:
    run_window(dag, DAY, DAY + dt.timedelta(days=1), demo_source)
    one_span = snapshot(db)
    assert one_span["songplays"], "the day should have plays"

    recreate_tables(db)
    shuffled = HOURS[:]
    random.Random(3).shuffle(shuffled)
    for start, end in shuffled:
        run_window(dag, start, end, demo_source)

    assert snapshot(db) == one_span


def test_an_hourly_fact_load_takes_only_its_hour(dag, demo_source, db) -> None:
    start, end = HOURS[14]
    run_window(dag, start, end, demo_source)

    expected = oracle.songplays(oracle.events(demo_source), oracle.songs(demo_source), start, end)
    naive = (start.replace(tzinfo=None), end.replace(tzinfo=None))
    assert rows(db, "select count(*) from songplays where start_time >= %s and start_time < %s", naive)[0][0] == len(
        expected
    )
    assert rows(db, "select count(*) from songplays")[0][0] == len(expected)
    # staging kept the whole day file, and the files of the days around it (an event filed under the
    # neighbouring day is staged before its own window loads), so a later hour needs no new staging
    assert rows(db, "select distinct _source_key from staging_events order by 1") == [
        (f"log_data/2018/11/2018-11-0{d}-events.json",) for d in (1, 2, 3)
    ]


def test_reprocessing_an_old_hour_never_rolls_a_user_back(dag, demo_source, db) -> None:
    history = oracle.events(demo_source, {DAY.date()})
    changes = {e["userId"] for e in history if e["page"] in ("Submit Upgrade", "Submit Downgrade")}
    assert changes, "the generated day should have level changes"

    run_window(dag, *HOURS[23], demo_source)
    run_window(dag, DAY, DAY + dt.timedelta(hours=23), demo_source)
    run_window(dag, *HOURS[0], demo_source)  # an old hour, again

    # a user is described by their latest staged event: the day's runs also stage the days around it
    staged = oracle.events(demo_source, {DAY.date() + dt.timedelta(days=d) for d in (-1, 0, 1)})
    latest = oracle.users(history, staged)
    loaded = dict(rows(db, "select user_id, level from users"))
    assert loaded == {uid: attrs[3] for uid, attrs in latest.items()}


def test_a_window_without_events_succeeds_and_loads_nothing(dag, demo_source, db) -> None:
    # the generated data covers 1–3 Nov; the 10th has no log file at all
    start = dt.datetime(2018, 11, 10, 5, tzinfo=UTC)
    results = run_window(dag, start, start + dt.timedelta(hours=1), demo_source)

    assert results["stage_events"]["objects_listed"] == 0
    assert results["load_songplays_fact"] == {"rows_deleted": 0, "rows_inserted": 0}
    assert rows(db, "select count(*) from songplays")[0][0] == 0


def test_a_zero_length_window_is_refused(dag, demo_source, db) -> None:
    with pytest.raises(WindowError, match="empty window"):
        run_window(dag, DAY, DAY, demo_source)
