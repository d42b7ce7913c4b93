"""What `make demo` shows a user: the failing task and its exception's message, and one demo at a time.

`scripts/demo.sh` is run as `make demo` runs it (a real ``airflow dags test``), against the test warehouse and
the test metadata database instead of the developer's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.warehouse_state import rows

ROOT = Path(__file__).resolve().parents[2]


def run_demo(source: Path, home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SPARKIFY_HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "AIRFLOW_VAR_SPARKIFY_SOURCE": str(source),
    }
    return subprocess.run(
        [str(ROOT / "scripts" / "demo.sh"), str(source), "2018-11-01T00:00:00+00:00", "2018-11-02T00:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_a_failed_demo_prints_the_failing_task_and_its_message(
    airflow_db, warehouse_dsn, db, demo_source, tmp_path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(demo_source, source)
    day = source / "log_data" / "2018" / "11" / "2018-11-01-events.json"
    lines = day.read_text().splitlines()
    record = json.loads(lines[6])
    record["ts"] = "yesterday"
    lines[6] = json.dumps(record)
    day.write_text("\n".join(lines) + "\n")

    result = run_demo(source, tmp_path / "home")

    assert result.returncode == 1
    assert "FAILED stage_events:" in result.stderr
    # the exception's own words: object, line and field, on the console, not only in the log
    assert f"{day}" in result.stderr or "2018-11-01-events.json" in result.stderr
    assert "line 7" in result.stderr and "ts" in result.stderr
    assert "the whole log is" in result.stderr
    assert rows(db, "select count(*) from songplays") == [(0,)]


def test_a_second_demo_waits_for_the_first_and_says_so(tmp_path) -> None:
    lock, marks = tmp_path / "demo.lock", tmp_path / "marks"
    script = str(ROOT / "scripts" / "one_at_a_time.sh")
    slow_first = f"echo first-start >> {marks}; sleep 2; echo first-end >> {marks}"
    first = subprocess.Popen([script, str(lock), "make demo", "bash", "-c", slow_first])
    time.sleep(0.5)
    second = subprocess.run(
        [script, str(lock), "make demo", "bash", "-c", f"echo second >> {marks}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert first.wait(timeout=30) == 0
    assert "another 'make demo' is running in this folder: waiting" in second.stderr
    assert marks.read_text().split() == ["first-start", "first-end", "second"]


def test_a_server_the_first_demo_leaves_running_does_not_hold_the_lock(tmp_path) -> None:
    """make demo starts PostgreSQL and leaves it running: the next make demo must not wait for that server."""
    lock, marks = tmp_path / "demo.lock", tmp_path / "marks"
    script = str(ROOT / "scripts" / "one_at_a_time.sh")
    server = tmp_path / "server.pid"
    # the first "demo" starts a long-lived background process (as pg.sh starts the server) and returns
    subprocess.run(
        [script, str(lock), "make demo", "bash", "-c", f"(sleep 60 & echo $! > {server}); echo first >> {marks}"],
        check=True,
        timeout=30,
    )
    try:
        second = subprocess.run(
            [script, str(lock), "make demo", "bash", "-c", f"echo second >> {marks}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    finally:
        subprocess.run(["kill", server.read_text().strip()], check=False)
    assert "waiting" not in second.stderr
    assert marks.read_text().split() == ["first", "second"]


def test_the_command_exit_status_is_the_wrappers(tmp_path) -> None:
    script = str(ROOT / "scripts" / "one_at_a_time.sh")
    failed = subprocess.run([script, str(tmp_path / "l"), "make demo", "bash", "-c", "exit 3"], check=False)
    assert failed.returncode == 3
