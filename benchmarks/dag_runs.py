"""Runs of ``sparkify_etl`` with ``airflow dags test``, timed by Airflow itself.

Each run is a subprocess (as ``scripts/demo.sh`` runs it) against the benchmark's own metadata database;
per-task seconds are ``end_date - start_date`` of the run's task instances, read from that database.
While a run goes, a watcher samples ``pg_stat_user_tables`` of the staging tables, so the report can
say whether the planner had statistics when ``load_songplays_fact`` started.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from benchmarks.settings import ROOT

if TYPE_CHECKING:
    from pathlib import Path

TASK_ORDER = (
    "begin",
    "create_tables",
    "stage_events",
    "stage_songs",
    "load_songplays_fact",
    "load_users_dim",
    "load_songs_dim",
    "load_artists_dim",
    "load_time_dim",
    "run_quality_checks",
    "end",
)
STAGING_TABLES = ("staging_events", "staging_songs")


def airflow_env(home: Path, metadata_url: str, warehouse_uri: str) -> dict[str, str]:
    """The environment of the benchmark's Airflow: its own home and metadata DB, the given warehouse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW_CONN_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "SPARKIFY_SQL_DIR": str(ROOT / "sql"),
            "SPARKIFY_CATCHUP": "false",
            "AIRFLOW_CONN_REDSHIFT": warehouse_uri,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT / "plugins"), str(ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    return env


def _pythonpath() -> str:
    return os.pathsep.join(filter(None, [str(ROOT / "plugins"), str(ROOT), os.environ.get("PYTHONPATH")]))


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg2://…`` → ``postgresql://…``."""
    scheme, _, rest = sqlalchemy_url.partition("://")
    if not scheme.startswith("postgresql"):
        raise ValueError("the benchmark reads task durations from a PostgreSQL metadata database")
    return f"postgresql://{rest}"


def migrate(env: dict[str, str], log: Path) -> None:
    with log.open("w") as out:
        subprocess.run(["airflow", "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


def run_measured(command: list[str], env: dict[str, str], log: Path, timeout: float | None = None) -> dict[str, Any]:
    """Run ``command``; return its exit code, wall seconds and peak RSS (MiB, from ``wait4``; an upper
    bound: Linux starts a child's high-water mark at this process's own, see ``benchmarks.memory``)."""
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "returncode": process.returncode,
        "wall_seconds": time.perf_counter() - started,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux: KiB
    }


@dataclass
class StatsWatcher:
    """Samples the staging tables' analyse times and modification counters every ``interval`` seconds."""

    dsn: str
    interval: float = 0.25
    samples: list[tuple[dt.datetime, dict[str, dict[str, Any]]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stats-watcher", daemon=True)

    def __enter__(self) -> StatsWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("set auto_explain.log_min_duration = -1")  # the watcher's polls are not the run's plans
            while not self._stop.is_set():
                rows = conn.execute(
                    "select c.relname, s.last_analyze, s.last_autoanalyze, c.reltuples, s.n_mod_since_analyze,"
                    " exists (select 1 from pg_statistic as st where st.starelid = c.oid)"
                    " from pg_class as c join pg_stat_user_tables as s on s.relid = c.oid"
                    " where c.relname = any(%s)",
                    (list(STAGING_TABLES),),
                ).fetchall()
                snapshot = {
                    r[0]: {
                        "last_analyze": r[1],
                        "last_autoanalyze": r[2],
                        "planner_row_estimate": r[3],
                        "modified_since_analyze": r[4],
                        "column_statistics": r[5],
                    }
                    for r in rows
                }
                self.samples.append((dt.datetime.now(dt.UTC), snapshot))
                conn.execute("select pg_stat_clear_snapshot()")
                self._stop.wait(self.interval)

    def at(self, moment: dt.datetime | None) -> dict[str, dict[str, Any]] | None:
        """The staging tables' statistics state last sampled before ``moment``."""
        if moment is None:
            return None
        before = [snapshot for taken, snapshot in self.samples if taken <= moment]
        if not before:
            return None
        state = {}
        for table, row in before[-1].items():
            state[table] = {
                # reltuples -1 and no pg_statistic rows: the planner guesses sizes and selectivities
                "analysed": bool(row["column_statistics"]),
                "by": "ANALYZE" if row["last_analyze"] else "autovacuum" if row["last_autoanalyze"] else None,
                "planner_row_estimate": row["planner_row_estimate"],
                "modified_since_analyze": row["modified_since_analyze"],
            }
        return state


def task_durations(metadata_dsn: str, logical_date: dt.datetime) -> dict[str, Any]:
    """Per-task seconds and the run's own start and end, from Airflow's metadata database."""
    with psycopg.connect(metadata_dsn) as conn:
        run = conn.execute(
            "select run_id, state, start_date, end_date from dag_run where dag_id = 'sparkify_etl'"
            " and logical_date = %s",
            (logical_date,),
        ).fetchone()
        if run is None:
            raise RuntimeError(f"no sparkify_etl run at {logical_date} in the metadata database")
        run_id, state, started, ended = run
        rows = conn.execute(
            "select task_id, state, start_date, end_date from task_instance"
            " where dag_id = 'sparkify_etl' and run_id = %s",
            (run_id,),
        ).fetchall()
    tasks = {
        task_id: {
            "state": task_state,
            "seconds": (end - start).total_seconds() if start and end else None,
            "start": start,
            "end": end,
        }
        for task_id, task_state, start, end in rows
    }
    first = min((t["start"] for t in tasks.values() if t["start"]), default=started)
    last = max((t["end"] for t in tasks.values() if t["end"]), default=ended)
    # `airflow dags test` starts its in-process execution API inside the first task (``begin``, ~6 s here):
    # a harness cost, not the pipeline's. "seconds" counts from the end of begin; "seconds_all" from its start.
    after_begin = tasks.get("begin", {}).get("end") or first
    return {
        "run_id": run_id,
        "state": state,
        "seconds": (last - after_begin).total_seconds() if after_begin and last else None,
        "seconds_all": (last - first).total_seconds() if first and last else None,
        "tasks": {k: tasks[k] for k in TASK_ORDER if k in tasks},
    }


def run_dag(
    *,
    env: dict[str, str],
    metadata_dsn: str,
    warehouse_dsn: str,
    source: str | Path,
    start: dt.datetime,
    end: dt.datetime,
    log: Path,
    mark_success: str | None = None,
) -> dict[str, Any]:
    """One ``airflow dags test`` run over ``[start, end)``; logical date = ``end``, as the demo does.

    ``mark_success`` (a regex of task ids, ``--mark-success-pattern``) marks those tasks successful
    without running them.
    """
    conf = json.dumps({"window_start": start.isoformat(), "window_end": end.isoformat(), "source": str(source)})
    command = ["airflow", "dags", "test", "sparkify_etl", end.isoformat(), "--conf", conf]
    if mark_success:
        command += ["--mark-success-pattern", mark_success]
    with StatsWatcher(warehouse_dsn) as watcher:
        process = run_measured(command, env, log)
    if process["returncode"] != 0:
        raise RuntimeError(f"airflow dags test failed ({process['returncode']}): see {log}")
    result = task_durations(metadata_dsn, end)
    if result["state"] != "success":
        raise RuntimeError(f"sparkify_etl run {result['run_id']} ended {result['state']}: see {log}")
    fact = result["tasks"].get("load_songplays_fact", {})
    result["stats_at_fact_load"] = watcher.at(fact.get("start"))
    result["process"] = process
    for task in result["tasks"].values():  # datetimes out: the result goes to JSON
        task.pop("start", None)
        task.pop("end", None)
    return result
