"""Scale-out on Celery: a real Redis broker, the scheduler, DAG processor and API server with the
CeleryExecutor, and two Celery workers with distinct names, all on this machine (``scripts/airflow.sh``
starts them as ``make airflow-celery`` does).

A backfill of six hourly runs (three at a time: more tasks at once than one worker takes) must succeed,
both workers must have run tasks by their own records (the Celery result backend, which each worker
writes under its own name, and each worker's log), and the star tables must equal the oracle's.
Skipped, with the reason, where ``redis-server`` is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import psycopg
import pytest
from support.airflow_stack import metadata_url, running_airflow
from support.postgres import SERVER
from support.redis_server import redis_server
from support.star_schema import assert_star_schema_matches

pytestmark = pytest.mark.slow(minutes=2)  # a backfill of 6 hourly runs
UTC = dt.UTC
DAY = dt.datetime(2018, 11, 2, tzinfo=UTC)
WORKERS = ("w1", "w2")
HOURS = 6  # issue 5: "a few hours is enough"; each run's 9 tasks go through Celery
NAME = "celery_e2e"  # databases airflow_celery_e2e and sparkify_celery_e2e


def _worker_log(airflow, name: str) -> str:
    return (airflow.home / f"celery-worker-{name}.log").read_text(errors="replace")


def _wait_until_ready(airflow) -> dict[str, str]:
    """Each worker's full node name (``w1@<host>``), as it announces itself once connected to the broker."""
    import time

    deadline = time.monotonic() + 180
    while True:
        ready = {name: re.search(rf"\b({name}@\S+) ready\.", _worker_log(airflow, name)) for name in WORKERS}
        if all(ready.values()):
            return {name: match.group(1) for name, match in ready.items()}
        if time.monotonic() > deadline:
            pytest.fail(f"Celery workers not ready: {[n for n, m in ready.items() if not m]} (logs in {airflow.home})")
        time.sleep(1)


def _executed_tasks(task_ids: list[str]) -> list[tuple]:
    """(run, task, state, Celery task id, worker, Celery status) of each backfill task instance of ``task_ids``.

    A task instance is success as soon as its task reports to the API server; the worker records the
    Celery task's final status a moment later, so this waits until no result is still STARTED or absent.
    """
    import time

    deadline = time.monotonic() + 120
    with psycopg.connect(f"{SERVER}/airflow_{NAME}", autocommit=True) as meta:
        while True:
            ran = meta.execute(
                """
                select ti.run_id, ti.task_id, ti.state, ti.external_executor_id, m.worker, m.status
                from task_instance ti
                join dag_run dr on dr.dag_id = ti.dag_id and dr.run_id = ti.run_id
                left join celery_taskmeta m on m.task_id = ti.external_executor_id
                where ti.dag_id = 'sparkify_etl' and dr.run_type = 'backfill' and ti.task_id = any(%s)
                """,
                (task_ids,),
            ).fetchall()
            pending = [row for row in ran if row[5] in (None, "PENDING", "STARTED")]
            if not pending or time.monotonic() > deadline:
                return ran
            time.sleep(1)


@pytest.fixture(scope="module")
def celery_airflow(postgres_server, demo_source, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-celery")
    with redis_server(home) as broker:
        settings = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": broker,
            # the result backend in the metadata database; result_extended makes each worker write its
            # own name (column `worker` of celery_taskmeta) next to the task it ran
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url(NAME)}",
            "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"result_extended": True}),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
            "SPARKIFY_CELERY_WORKERS": str(len(WORKERS)),
        }
        with running_airflow(NAME, demo_source, home, **settings) as airflow:
            airflow.workers = _wait_until_ready(airflow)
            yield airflow


def test_a_backfill_on_two_celery_workers_equals_the_oracle(celery_airflow, dag, demo_source) -> None:
    airflow = celery_airflow
    assert len(set(airflow.workers.values())) == 2, airflow.workers

    last = DAY + dt.timedelta(hours=HOURS - 1)
    backfill = airflow.backfill(DAY.isoformat(), last.isoformat(), max_active_runs=3)
    assert backfill["id"]

    def backfill_done(runs: list[dict]) -> bool:
        mine = [r for r in runs if r["run_type"] == "backfill"]
        return len(mine) == HOURS and all(r["state"] == "success" for r in mine)

    runs = airflow.wait_for(backfill_done, f"the backfill's {HOURS} hourly runs", timeout=900)
    intervals = sorted((r["data_interval_start"], r["data_interval_end"]) for r in runs if r["run_type"] == "backfill")
    assert intervals[0][0].startswith("2018-11-02T00:00") and intervals[-1][1].startswith(f"2018-11-02T{HOURS:02d}:00")

    # Every task that goes through the executor (EmptyOperators never do), in every backfill run, joined
    # to the Celery task the executor sent (task_instance.external_executor_id) and to the row the worker
    # that ran it wrote in the result backend.
    executed = {task.task_id for task in dag.tasks if task.task_type != "EmptyOperator"}
    ran = _executed_tasks(sorted(executed))
    assert len(ran) == HOURS * len(executed)
    unfinished = [row for row in ran if (row[2], row[5]) != ("success", "SUCCESS")]
    assert not unfinished, unfinished

    # both workers ran tasks (a Counter holds only names it counted at least once), and no one else did
    per_worker = Counter(worker for *_, worker, _ in ran)
    assert set(per_worker) == set(airflow.workers.values()), per_worker

    # The workers' logs tell the same story: each logged as succeeded exactly the Celery tasks the result
    # backend attributes to it, and none of the other's.
    logged = {
        name: set(re.findall(r"Task execute_workload\[([0-9a-f-]+)\] succeeded", _worker_log(airflow, name)))
        for name in WORKERS
    }
    for name, node in airflow.workers.items():
        attributed = {celery_id for _, _, _, celery_id, worker, _ in ran if worker == node}
        assert attributed <= logged[name], f"{node} did not log {len(attributed - logged[name])} of its tasks"
        others = set().union(*(ids for other, ids in logged.items() if other != name))
        assert not attributed & others

    with psycopg.connect(airflow.warehouse, autocommit=True) as db:
        assert_star_schema_matches(db, demo_source, DAY, DAY + dt.timedelta(hours=HOURS))
        plays_per_hour = db.execute("select count(distinct date_trunc('hour', start_time)) from songplays").fetchone()
        assert plays_per_hour[0] >= HOURS - 1, "the generated data should have plays in (nearly) every hour"
