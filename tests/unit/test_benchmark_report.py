"""The benchmark's report: later hours against the first, and its own run written into the docs."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks import docs_region
from benchmarks.end_to_end import _report_runs, ratios, report
from benchmarks.history import LOADS_AND_CHECKS, best_of

TASKS = ["begin", "stage_events", *LOADS_AND_CHECKS, "end"]


def run(seconds: dict[str, float], window: str) -> dict:
    return {
        "seconds": sum(seconds.values()),
        "window": [window, window],
        "events": 40,
        "plays": 30,
        "staged_events_total": 1000,
        "tasks": {task: {"seconds": seconds[task]} for task in TASKS},
    }


@pytest.fixture
def results() -> dict:
    first = {task: 1.0 for task in TASKS}
    after_30 = {**first, "load_songplays_fact": 1.5}  # loads and checks: 6.5 s against 6 s
    after_90 = {**first, "run_quality_checks": 4.0, "stage_events": 9.0}  # 9 s against 6; staging is not counted
    return {
        "machine": {
            "nproc": 2,
            "cpu": "x",
            "memory_gib": 1,
            "postgresql": "15",
            "airflow": "3",
            "python": "3.11",
            "load_average_at_start": [0.1],
        },
        "dataset": {"events_month": 1200, "day_files_mib": 1.0, "song_files": 10, "users": 4},
        "autovacuum_on_staging_tables": "off",
        "hourly": {
            "first_hour": run(first, "2018-11-01T00:00"),
            "after_30_days": run(after_30, "2018-12-01T00:00"),
            "after_90_days": run(after_90, "2019-01-30T00:00"),
        },
        "history": [],
    }


def test_each_later_hour_is_compared_by_its_loads_and_checks(results) -> None:
    r = ratios(results)
    # by hand: six loads and checks of 1 s each in the first hour
    assert r["hourly_after_30_days_over_first"]["loads_and_checks"] == pytest.approx(6.5 / 6)
    assert r["hourly_after_90_days_over_first"]["loads_and_checks"] == pytest.approx(9 / 6)
    assert r["hourly_after_90_days_over_first"]["worst_task"] == "stage_events"
    results["ratios"] = r
    text = report(results, None, explain=False)
    assert "hour after 30 d / first hour: loads and checks 1.08 x (target <= 1.1)" in text
    assert "hour after 90 d / first hour: loads and checks 1.50 x (target <= 1.1)" in text
    assert "after 90d" in text and "loads and checks" in text


def test_an_hour_of_several_runs_takes_each_load_and_check_at_its_least() -> None:
    first_run = {task: 1.0 for task in TASKS} | {"stage_events": 5.0, "load_songplays_fact": 2.0}
    again = {task: 1.5 for task in TASKS} | {"stage_events": 0.2, "run_quality_checks": 0.5}
    hour = best_of([run(first_run, "2018-12-01T00:00"), run(again, "2018-12-01T00:00")])
    # by hand: the fact 2.0 vs 1.5, the checks 1.0 vs 0.5, the four dimensions 1.0 vs 1.5
    assert hour["tasks"]["load_songplays_fact"]["seconds"] == 1.5
    assert hour["tasks"]["run_quality_checks"]["seconds"] == 0.5
    assert hour["tasks"]["load_users_dim"]["seconds"] == 1.0
    # staging and the whole run are the first run's: the run that staged the day file
    assert hour["tasks"]["stage_events"]["seconds"] == 5.0
    assert hour["seconds"] == sum(first_run.values())
    assert hour["runs_loads_and_checks"] == [1.0 * 5 + 2.0, 1.5 * 5 + 0.5]
    lines: list[str] = []
    _report_runs("first hour", hour, lines.append)
    assert lines == ["   first hour: loads and checks of its runs 7.00 s, 8.00 s"]


def test_the_run_is_written_into_its_own_region_and_replaced_by_the_next(tmp_path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nProse that stays.\n")
    when = dt.datetime(2026, 12, 5, 7, 30, tzinfo=dt.UTC)
    docs_region.write(docs, 1_000_000, "first run figures", "python -m benchmarks.end_to_end --events 1000000", when)
    docs_region.write(docs, 10_000_000, "the 10 M run", "python -m benchmarks.end_to_end --events 10000000", when)
    docs_region.write(docs, 1_000_000, "second run figures", "python -m benchmarks.end_to_end --events 1000000", when)
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nProse that stays.\n")
    assert "first run figures" not in text and text.count("second run figures") == 1
    assert "the 10 M run" in text  # another size's region is left alone
    assert text.count("## Latest run at 1,000,000 events") == 1
    assert "on 2026-12-05 07:30 UTC, commit " in text
    assert "```text\nsecond run figures\n```" in text
