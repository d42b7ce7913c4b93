"""Running the DAG with OpenLineage's file transport, and reading back the events it wrote.

Airflow reads its OpenLineage configuration when the provider first loads, so the transport is set in
the environment of a fresh ``airflow dags test`` process rather than in the test's own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path


def dags_test_with_lineage(
    *, warehouse: str, source: Path, start: dt.datetime, end: dt.datetime, events: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``airflow dags test sparkify_etl`` over ``[start, end)`` against the warehouse URI ``warehouse``,
    with every OpenLineage event appended to ``events`` (one JSON document a line). Returns the finished
    process; the caller checks it."""
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    conf = {"window_start": start.isoformat(), "window_end": end.isoformat(), "source": str(source)}
    env = {
        **os.environ,
        "AIRFLOW_CONN_REDSHIFT": warehouse.replace("postgresql://", "postgres://"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
    }
    env.pop("AIRFLOW__OPENLINEAGE__DISABLED", None)
    return subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "sparkify_etl", end.isoformat(), "--conf", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event of the file, in the order written."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def task_event(events: list[dict[str, Any]], task_id: str, event_type: str) -> dict[str, Any]:
    """The one ``event_type`` event (``COMPLETE``, ``FAIL``) of the task ``task_id``."""
    found = [e for e in events if e["eventType"] == event_type and e["job"]["name"] == f"sparkify_etl.{task_id}"]
    assert len(found) == 1, f"{len(found)} {event_type} events for {task_id}: {[e['job']['name'] for e in events]}"
    return found[0]


def datasets(event: dict[str, Any], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(namespace, name): dataset}`` of the event's ``inputs`` or ``outputs``."""
    return {(d["namespace"], d["name"]): d for d in event.get(kind, [])}
