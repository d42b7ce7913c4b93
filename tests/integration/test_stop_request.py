"""A stop request (SIGTERM) during staging stops the task cleanly (issue 10, item 12).

Airflow's task runner only calls ``on_kill()`` on SIGTERM, so under ``airflow dags test`` (no supervisor
to kill the task) staging ran on to its end. The signal is sent here from inside staging, at a known
point (in the third day file's transaction, before it commits), to this process, as ``kill`` would send it.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowTaskTerminated
from generate_demo_data import generate
from support import faults
from support.runner import as_rendered, run_window
from support.warehouse_state import recreate_tables, rows, snapshot

from sparkify.staging.ledger import StagingLedger

if TYPE_CHECKING:
    from pathlib import Path

START, END = dt.datetime(2018, 11, 1, tzinfo=dt.UTC), dt.datetime(2018, 11, 7, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def six_days(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stop-request")
    generate(out, songs=20, users=8, days=6, events_per_day=120, seed=3)
    return out


def test_sigterm_during_staging_stops_the_task_and_keeps_what_committed(dag, six_days, db, monkeypatch) -> None:
    recreate_tables(db)
    context = {"params": {"window_start": START.isoformat(), "window_end": END.isoformat()}, "run_id": "stop"}
    as_rendered(dag.get_task("create_tables"), six_days).execute(context)
    stage = as_rendered(dag.get_task("stage_events"), six_days)
    stage.batch_bytes = 1  # a commit per day file: the ones read before the signal stay staged

    real_record = StagingLedger.record
    recorded: list[int] = []

    def record_then_stop(self, cursor, staged) -> None:
        real_record(self, cursor, staged)
        recorded.append(len(staged))
        if len(recorded) == 3:  # inside the third object's transaction, before its commit
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(StagingLedger, "record", record_then_stop)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(AirflowTaskTerminated, match="stage_events: stopped by a stop request"):
        stage.execute(context)
    assert signal.getsignal(signal.SIGTERM) is before, "the task's handler is removed when it ends"

    # every object in the ledger is staged whole, none is half there, and the stop came before the end
    ledger = rows(db, "select object_key, row_count from staging_ledger where table_name = 'staging_events'")
    staged = dict(rows(db, "select _source_key, count(*) from staging_events group by _source_key"))
    assert len(ledger) == 2, "the two objects committed before the signal stay; the third rolled back"
    assert {key: count for key, count in ledger} == staged
    for key, count in ledger:
        assert count == len(faults.lines(six_days / key))
    assert rows(
        db,
        "select count(*) from pg_stat_activity where datname = current_database() and state = 'active'"
        " and pid <> pg_backend_pid()",
    ) == [(0,)], "no statement left running on the server"

    # a rerun goes on from there and loads the whole window
    monkeypatch.setattr(StagingLedger, "record", real_record)
    run_window(dag, START, END, six_days)
    assert snapshot(db) == faults.oracle_tables(six_days, START, END)
