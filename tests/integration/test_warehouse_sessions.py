"""A task's transactions share one database session (``Warehouse.session``), as the server counts them.

A connection costs a server process here and, on Redshift, an IAM credentials call; an hourly run used to
open one per transaction (about twenty). The counts come from PostgreSQL's own statistics
(``pg_stat_database.sessions``), not from the code under test.
"""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest
from support.runner import run_window

from sparkify.warehouses import open_warehouse

UTC = dt.UTC


def sessions_opened(db: psycopg.Connection) -> int:
    """Sessions the server has counted for ``db``'s database, once every closed one has reported."""
    last = -1
    for _ in range(50):
        db.execute("select pg_stat_clear_snapshot()")
        now = db.execute("select sessions from pg_stat_database where datname = current_database()").fetchone()[0]
        if now == last:
            return now
        last = now
        time.sleep(0.3)
    return last


def backend(cursor) -> int:
    cursor.execute("select pg_backend_pid()")
    return cursor.fetchone()[0]


def test_an_hourly_runs_tasks_open_one_session_each(dag, demo_source, db) -> None:
    start = dt.datetime(2018, 11, 1, 10, tzinfo=UTC)
    run_window(dag, start, start + dt.timedelta(hours=1), demo_source)  # creates the tables, stages the day
    before = sessions_opened(db)
    run_window(dag, start + dt.timedelta(hours=1), start + dt.timedelta(hours=2), demo_source)
    tasks = [t for t in dag.tasks if t.task_type != "EmptyOperator"]
    opened = sessions_opened(db) - before
    assert 0 < opened <= len(tasks), f"{opened} sessions for {len(tasks)} tasks"
    assert db.execute("select count(*) from songplays").fetchone()[0] > 0


def insert_then_fail(warehouse) -> None:
    with warehouse.transaction() as cursor:
        cursor.execute("insert into kept values (1)")
        cursor.execute("select 1 / 0")


@pytest.mark.usefixtures("warehouse_dsn")
def test_a_failed_transaction_closes_the_shared_session_and_a_nested_one_has_its_own(db) -> None:
    warehouse = open_warehouse("redshift")
    with warehouse.session():
        with warehouse.transaction() as cursor:
            first = backend(cursor)
            cursor.execute("create table kept (x int)")
        with warehouse.transaction() as cursor:
            assert backend(cursor) == first
            cursor.execute("select current_setting('timezone')")
            assert cursor.fetchone()[0] == "UTC"  # the session's settings hold in every transaction

        with pytest.raises(psycopg.errors.DivisionByZero):
            insert_then_fail(warehouse)
        assert db.execute("select count(*) from kept").fetchone()[0] == 0  # rolled back

        with warehouse.transaction() as outer:
            second = backend(outer)
            assert second != first  # the failed transaction's session was closed
            outer.execute("insert into kept values (2)")
            with warehouse.transaction() as inner:  # the shared session is busy: a session of its own
                assert backend(inner) != second
                inner.execute("insert into kept values (3)")
            # the inner commit is its own: the outer row is not visible to others yet
            assert [r[0] for r in db.execute("select x from kept order by x")] == [3]
        assert [r[0] for r in db.execute("select x from kept order by x")] == [2, 3]

    for _ in range(50):  # a backend leaves pg_stat_activity a moment after its client closed
        alive = db.execute("select count(*) from pg_stat_activity where pid = any(%s)", ([first, second],))
        if alive.fetchone()[0] == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the sessions must end with the block")
