"""Peak memory of the staging task, measured alone: ``stage_events`` over the month in a child process.

The child reports its own peak resident set (``VmHWM`` of ``/proc/self/status``) after staging, and its
resident set after importing Airflow and the operator, before staging, so the report can tell the
interpreter's share from what staging itself adds. Not ``wait4``'s ``ru_maxrss``: Linux carries the
parent's high-water mark into a child started with ``vfork`` + ``exec`` (as ``subprocess`` does), so a
benchmark process that once held a large buffer would be reported as the child's peak.

    python -m benchmarks.memory SOURCE START END      (AIRFLOW_CONN_REDSHIFT names the warehouse)
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from benchmarks.dag_runs import run_measured

if TYPE_CHECKING:
    from pathlib import Path


def _vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure_staging_memory(env: dict[str, str], source: Path, start: str, end: str, log: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.memory", str(source), start, end]
    process = run_measured(command, env, log)
    if process["returncode"] != 0:
        raise RuntimeError(f"staging alone failed: see {log}")
    child = json.loads(log.read_text().strip().splitlines()[-1])
    return {
        "peak_rss_mib": child["peak_kib"] / 1024,
        "wait4_maxrss_mib": process["peak_rss_mib"],
        "rss_before_staging_mib": child["rss_before_kib"] / 1024,
        "staging_seconds": child["seconds"],
        "rows": child["rows_staged"],
        "objects": child["objects_staged"],
    }


def main() -> None:
    import logging

    logging.disable(logging.WARNING)
    source, start, end = sys.argv[1:4]
    from sparkify.operators import StageToRedshiftOperator

    operator = StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source=source,
        json_format="log_json_path.json",
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        margin_days=0,  # the month's day files only, not the days around it: rows = the month's events
    )
    before = _vm_hwm_kib()
    started = time.perf_counter()
    summary = operator.execute({"params": {"window_start": start, "window_end": end}})
    seconds = time.perf_counter() - started
    print(json.dumps({"rss_before_kib": before, "peak_kib": _vm_hwm_kib(), "seconds": seconds, **summary}))


if __name__ == "__main__":
    main()
