"""Failure alerts by email from a real Airflow run, and session timeouts that end a stuck load clearly."""

from __future__ import annotations

import datetime as dt
import json
import time
from email import message_from_bytes

import psycopg
import pytest
from aiosmtpd.controller import Controller
from support.net import free_port
from support.runner import dag_test, task_states
from support.warehouse_state import recreate_tables

from sparkify.operators import LoadFactOperator

UTC = dt.UTC


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def mailbox(monkeypatch):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARKIFY_ALERTS",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": controller.port,
                "extra": {"to": "data-oncall@example.com", "disable_ssl": True, "disable_tls": True},
            }
        ),
    )
    yield box
    controller.stop()


@pytest.mark.usefixtures("airflow_db")
def test_a_failed_task_emails_the_on_call(dag, mailbox, warehouse_dsn, tmp_path) -> None:
    missing = tmp_path / "no-such-source"
    dag_run = dag_test(
        dag, start=dt.datetime(2018, 11, 1, tzinfo=UTC), end=dt.datetime(2018, 11, 1, 1, tzinfo=UTC), source=missing
    )
    assert str(dag_run.state) == "failed", task_states(dag_run)

    deadline = time.monotonic() + 30
    while not mailbox.messages and time.monotonic() < deadline:
        time.sleep(0.5)
    failed_tasks = {t for t, s in task_states(dag_run).items() if s == "failed"}
    subjects = [message["Subject"] for _, message in mailbox.messages]
    assert failed_tasks and all(any(f"sparkify_etl.{t} failed" in s for s in subjects) for t in failed_tasks), subjects
    recipients, message = mailbox.messages[0]
    assert recipients == ["data-oncall@example.com"]
    body = "".join(
        part.get_payload(decode=True).decode() for part in message.walk() if part.get_content_maintype() == "text"
    )
    assert str(missing) in body, "the error says what went wrong"


def test_a_stuck_lock_fails_the_load_clearly_instead_of_hanging(warehouse_dsn, db, monkeypatch) -> None:
    recreate_tables(db)
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDSHIFT", warehouse_dsn.replace("postgresql://", "postgres://") + "?lock_timeout=1s"
    )
    blocker = psycopg.connect(warehouse_dsn)
    blocker.execute("lock table songplays in access exclusive mode")  # an orphaned session holding the lock
    context = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-11-01T01:00:00Z"}}
    started = time.monotonic()
    try:
        with pytest.raises(psycopg.errors.LockNotAvailable, match="lock timeout"):
            LoadFactOperator(task_id="load_songplays_fact", table="songplays").execute(context)
    finally:
        blocker.close()
    assert time.monotonic() - started < 30, "the lock timeout ended the wait"
    # a lock is worth retrying (it is not bad data): the error is raised as is, not as AirflowFailException


def test_a_vacuum_in_progress_holds_up_neither_create_tables_nor_an_hourly_load(warehouse_dsn, db, monkeypatch) -> None:
    from sparkify.operators import CreateTablesOperator

    recreate_tables(db)
    db.execute("drop index songplays_start_time_idx")  # dropped by hand: create_tables builds it again
    db.execute(  # history: an hour's load into it keeps the indexes (no bulk rebuild, decision 0019)
        "insert into songplays (songplay_id, start_time) select md5(cast(n as varchar)),"
        " timestamp '2018-10-01' + n * interval '1 second' from generate_series(1, 1000) as n"
    )
    db.execute("analyze songplays")
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDSHIFT", warehouse_dsn.replace("postgresql://", "postgres://") + "?lock_timeout=1s"
    )
    vacuum = psycopg.connect(warehouse_dsn)
    # the lock (auto)vacuum holds on each star table while it runs; a writer's table lock would wait for it
    for table in ("songplays", "time", "users"):
        vacuum.execute(f"lock table {table} in share update exclusive mode")
    context = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-11-01T01:00:00Z"}}
    try:
        with pytest.raises(psycopg.errors.LockNotAvailable):  # the dropped index needs the table's SHARE lock
            CreateTablesOperator(task_id="create_tables").execute({})
        vacuum.rollback()
        db.execute("create index songplays_start_time_idx on songplays (start_time)")
        for table in ("songplays", "time", "users"):
            vacuum.execute(f"lock table {table} in share update exclusive mode")
        CreateTablesOperator(task_id="create_tables").execute({})  # every index exists: no table lock taken
        assert LoadFactOperator(task_id="load_songplays_fact", table="songplays").execute(context) == {
            "rows_deleted": 0,
            "rows_inserted": 0,
        }
    finally:
        vacuum.close()
