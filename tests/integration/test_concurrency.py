"""Runs of overlapping windows at the same time lose and double nothing (max_active_runs > 1)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.runner import run_window
from support.warehouse_state import recreate_tables, rows, snapshot

UTC = dt.UTC
DAY = dt.datetime(2018, 11, 1, tzinfo=UTC)
WINDOWS = [  # overlapping spans, and several runs touching the same day files
    (DAY, DAY + dt.timedelta(hours=30)),
    (DAY + dt.timedelta(hours=12), DAY + dt.timedelta(hours=40)),
    (DAY + dt.timedelta(hours=20), DAY + dt.timedelta(hours=72)),
    (DAY + dt.timedelta(hours=6), DAY + dt.timedelta(hours=7)),
]


@pytest.mark.usefixtures("aws_connection")
def test_parallel_overlapping_runs_equal_serial_runs(dag, demo_bucket, db) -> None:
    for start, end in WINDOWS:
        run_window(dag, start, end, demo_bucket)
    serial = snapshot(db)
    serial_staged = rows(db, "select count(*), count(distinct _source_key) from staging_events")[0]
    assert serial["songplays"]

    recreate_tables(db)
    with ThreadPoolExecutor(max_workers=len(WINDOWS)) as pool:
        futures = [pool.submit(run_window, dag, start, end, demo_bucket) for start, end in WINDOWS]
        results = [f.result() for f in futures]

    assert snapshot(db) == serial
    assert rows(db, "select count(*), count(distinct _source_key) from staging_events")[0] == serial_staged
    # each day file was staged by exactly one of the runs that needed it
    staged_objects = sum(r["stage_events"]["objects_staged"] for r in results)
    assert staged_objects == serial_staged[1] == 3
