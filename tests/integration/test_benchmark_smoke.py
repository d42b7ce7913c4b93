"""The end-to-end benchmark still runs: a very small run of it, its figures well-formed.

Nothing here says anything is fast (no timed asserts); it keeps ``make bench`` from rotting.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from support.paths import ROOT

# the benchmark runs once, as a module fixture, for every test here: one worker (tests/conftest.py)
pytestmark = pytest.mark.slow(minutes=2)
TASKS = {
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
}


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def bench_results(tmp_path_factory: pytest.TempPathFactory, postgres_server: str) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "bench-3000"
    command = [
        sys.executable,
        "-m",
        "benchmarks.end_to_end",
        "--events=3000",
        "--song-files=150",
        "--latency-ms=1",
        "--sequential-sample=30",
        "--sweep-sample=60",
        "--workers=4",
        "--explain-timeout=10",
        "--explain",
        "--plans-over-ms=0",
        f"--out={out}",
        f"--airflow-db={os.environ['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}",
        f"--db-prefix=sparkify_test_bench_{os.getpid()}",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), done.stdout


def test_the_floor_copies_every_event_stage_events_reads(bench_results) -> None:
    results, _ = bench_results
    floor = results["floor"]
    data = results["dataset"]
    # the month's events and those of the day after it, whose file the stage task also reads (margin)
    assert floor["rows"] == data["events_month"] + data["events_day_31"] > 2000
    assert len(floor["rounds"]) >= 2 and math.isclose(floor["seconds"], min(floor["rounds"]), abs_tol=0.001)
    assert positive(floor["seconds"]) and positive(floor["seconds_without_indexes"])
    assert floor["indexes"] == 3  # LIKE staging_events INCLUDING ALL kept the three indexes


def test_the_month_run_has_every_task_timed_by_airflow(bench_results) -> None:
    results, _ = bench_results
    month = results["dag_month"]
    assert month["state"] == "success"
    # its inputs were read once before it: the month's day files, every song file and the JSONPaths file
    assert month["inputs_warmed"]["files"] == results["dataset"]["song_files"] + 31 + 1
    assert set(month["tasks"]) == TASKS
    assert all(
        t["state"] == "success" and t["seconds"] is not None and t["seconds"] >= 0 for t in month["tasks"].values()
    )
    assert positive(month["seconds"]) and month["seconds_all"] >= month["seconds"]
    # the stager refreshed the planner's statistics of what it staged before the fact load read it
    assert all(s["analysed"] for s in month["stats_at_fact_load"].values())
    assert set(month["stats_at_fact_load"]) == {"staging_events", "staging_songs"}
    assert positive(results["ratios"]["dag_over_floor"]["value"])
    assert positive(results["ratios"]["stage_events_over_floor"]["value"])


def test_the_hourly_comparison_covers_same_sized_hours_task_by_task(bench_results) -> None:
    results, _ = bench_results
    hourly = results["hourly"]
    first, late = hourly["first_hour"], hourly["after_30_days"]
    assert first["window"][0].startswith("2018-11-01T00:00") and late["window"][0].startswith("2018-12-01T00:00")
    assert late["staged_events_total"] > first["staged_events_total"]  # the month's history is there
    # before the later hour, the same hour of each of the 7 days before ran hourly: the checks' history
    assert late["same_hour_before"]["runs"] == 7 and positive(late["same_hour_before"]["seconds"])
    assert late["autovacuum_waited"]["seconds"] >= 0 and late["autovacuum_waited"]["workers"] >= 0
    # each hour ran three times; a load's or check's seconds are the least of its runs
    for hour in (first, late):
        assert len(hour["runs_loads_and_checks"]) == 3 and all(positive(s) for s in hour["runs_loads_and_checks"])
        loads_and_checks = [t for t in TASKS if t.startswith("load_") or t == "run_quality_checks"]
        assert sum(hour["tasks"][t]["seconds"] for t in loads_and_checks) <= min(hour["runs_loads_and_checks"]) + 1e-9
    per_task = results["ratios"]["hourly_after_30_days_over_first"]["per_task"]
    assert set(per_task) == TASKS and all(positive(r) for r in per_task.values())


def test_memory_s3_and_plans_are_reported(bench_results) -> None:
    results, stdout = bench_results
    memory = results["memory"]
    assert memory["rows"] == results["dataset"]["events_month"]
    assert memory["peak_rss_mib"] >= memory["rss_before_staging_mib"] > 0
    s3 = results["s3"]
    assert s3["concurrent"]["objects"] == 150 and s3["sequential"]["objects"] == 30
    assert positive(s3["ratio"]) and [row["workers"] for row in s3["sweep"]] == [4]
    statements = {row["statement"] for row in results["plans"]}
    assert "model songplays" in statements and "check songplays: unique(songplay_id)" in statements
    assert all(positive(row["seconds_with_stats"]) for row in results["plans"])
    assert "Summary" in stdout and "Plans (EXPLAIN)" in stdout


def test_the_plans_of_the_loads_that_ran_are_reported_with_what_they_rely_on(bench_results) -> None:
    results, stdout = bench_results
    plans = {plan["statement"]: plan for plan in results["dag_month"]["plans"]}
    fact = plans["insert into songplays"]  # the fact load, as load_songplays_fact ran it
    assert fact["rows"] == results["dag_month"]["rows"]["songplays"] > 0  # counted in the warehouse afterwards
    assert any(line.startswith("Insert on songplays") for line in fact["plan"])
    assert "staging_events" in {scan["table"] for scan in fact["scans"]}
    time_load = plans["insert into time"]
    assert time_load["rows"] == results["dag_month"]["rows"]["time"] > 0
    assert "relies on: " in stdout


def test_the_volume_history_benchmark_runs_and_agrees_with_the_former_count(postgres_server: str) -> None:
    # the benchmark asserts that one statement and a count per day find the same 7 days checked
    command = [sys.executable, "-m", "benchmarks.volume_history", "--hours=400", "--checks=3", "--repeat=2"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quality_results: 1,200 rows (400 hourly runs x 3 checks)" in done.stdout
    assert (
        "with quality_results_window_idx" in done.stdout and "former (a count per day, no index) / now:" in done.stdout
    )
    assert "the check's own values of the 7 days before (health.recorded, quality_results_check_idx):" in done.stdout
