"""Hourly cost as history grows (issue 23): the hour after 30 days, and after 60, 90... of them.

After the month under test, the benchmark (``--history-months M``) loads months 2..M through the whole
DAG, as production would have, retiring staged events past the retention horizon after each month as the
daily ``sparkify_audit`` DAG does (decision 0014), and then runs the DAG for the first hour after the last
month. Each such hour is compared with the first hour on an empty warehouse: its loads and checks (the
tasks whose cost could grow with the tables) must cost the same. Staging is left out of that sum: every
one of these hours stages a whole new day file, the first hour too.

Each hour compared runs :data:`HOUR_RUNS` times: the first run stages its day file, the others load the
same hour again (staging finds nothing new). A load or check task's seconds are the least of its runs
(:func:`best_of`), as the floor is the best of its rounds: at 10 M events these tasks take 0.1 to 0.7 s
each and one run's figure moved by a third between runs of the same code on this machine.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from benchmarks import settings
from benchmarks.dag_runs import TASK_ORDER

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

#: the tasks whose cost may grow with history: the loads and the checks, in the DAG's order
LOADS_AND_CHECKS = tuple(t for t in TASK_ORDER if t.startswith("load_") or t == "run_quality_checks")
#: runs of each hour compared (the first stages its day file; the others load the same hour again)
HOUR_RUNS = 3


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One hour measured by several runs of it: the first run's record (the one that staged its day file;
    its whole-run time and other tasks stand as they ran), each load's and check's seconds the least of the
    runs'. ``runs_loads_and_checks`` keeps every run's sum of those tasks, in order."""
    best = copy.deepcopy(runs[0])
    for task in LOADS_AND_CHECKS:
        seconds = [r["tasks"][task]["seconds"] for r in runs if r["tasks"].get(task, {}).get("seconds") is not None]
        if seconds and task in best["tasks"]:
            best["tasks"][task]["seconds"] = min(seconds)
    best["runs_loads_and_checks"] = [loads_and_checks_seconds(r["tasks"]) for r in runs]
    return best


def retire_staged_events(dsn: str) -> dict[str, Any]:
    """What the daily audit DAG does to staging_events: the retention operator, its default horizon."""
    from sparkify.operators import StagingRetentionOperator

    os.environ["AIRFLOW_CONN_REDSHIFT"] = settings.airflow_conn_uri(dsn)
    return dict(StagingRetentionOperator(task_id="retire_staged_events", retention_days=35).execute({}) or {})


def staged_rows(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("select count(*) from staging_events").fetchone()[0]


def load_history(
    *, months: int, month_window: Callable[[int], tuple[dt.datetime, dt.datetime]], run_month: Callable, dsn: str
) -> list[dict[str, Any]]:
    """Months 2..``months`` through the DAG, each followed by retention; what each cost and left staged."""
    history = []
    for month in range(2, months + 1):
        start, end = month_window(month)
        run = run_month(start, end, f"dag-month-{month}.log")
        history.append(
            {
                "month": month,
                "window": [start.isoformat(), end.isoformat()],
                "seconds": run["seconds"],
                "state": run["state"],
                "retention": retire_staged_events(dsn),
                "staged_events_after_retention": staged_rows(dsn),
            }
        )
    return history


def loads_and_checks_seconds(tasks: dict[str, Any]) -> float | None:
    """The seconds of the loads and checks of one run, None when one of them has no time."""
    values = [tasks.get(task, {}).get("seconds") for task in LOADS_AND_CHECKS]
    return None if any(v is None for v in values) else sum(values)


def hour_ratios(first: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """A later hour against the first: per task, the loads and checks together, the whole run."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or a <= 0 else b / a

    per_task = {t: ratio(first["tasks"][t]["seconds"], later["tasks"][t]["seconds"]) for t in first["tasks"]}
    worst = max(
        ((t, r) for t, r in per_task.items() if r is not None and t not in ("begin", "end")),
        key=lambda item: item[1],
        default=(None, None),
    )
    return {
        "per_task": per_task,
        "worst_task": worst[0],
        "worst": worst[1],
        "loads_and_checks": ratio(loads_and_checks_seconds(first["tasks"]), loads_and_checks_seconds(later["tasks"])),
        "whole_run": ratio(first["seconds"], later["seconds"]),
        "target_at_most_loads_and_checks": 1.1,
    }


def hour_label(days: int) -> str:
    return f"after_{days}_days"


def later_hours(hourly: dict[str, Any]) -> list[tuple[str, int]]:
    """The measured later hours, in order: (key, days of history)."""
    keys = [k for k in hourly if k.startswith("after_") and k.endswith("_days")]
    return sorted(((k, int(k.split("_")[1])) for k in keys), key=lambda item: item[1])
