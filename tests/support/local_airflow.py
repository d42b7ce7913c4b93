"""A local Airflow started by ``scripts/airflow.sh`` (what ``make airflow`` runs), driven over its REST API.

The e2e tests start it with their own ``AIRFLOW_HOME``, metadata database and warehouse on the project's
PostgreSQL, so they never touch the developer's local stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "airflow.sh")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server() -> str:
    """The project's PostgreSQL cluster (``scripts/pg.sh``), as tests/conftest.py points it."""
    return f"postgresql://postgres@127.0.0.1:{os.environ.get('SPARKIFY_PG_PORT', '55432')}"


def local_env(home: Path, port: int, metadata_db: str, warehouse_db: str, source: Path) -> dict[str, str]:
    """The environment of a local Airflow of its own: home, ports, metadata database, warehouse, source."""
    pg = server()
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "SPARKIFY_AIRFLOW_PORT": str(port),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{pg.replace('postgresql', 'postgresql+psycopg2')}/{metadata_db}",
        "AIRFLOW_CONN_REDSHIFT": f"{pg}/{warehouse_db}".replace("postgresql://", "postgres://"),
        "AIRFLOW_VAR_SPARKIFY_SOURCE": str(source),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "SPARKIFY_CATCHUP": "false",  # unpausing must not queue every hour since 2018
    }


class Airflow:
    """A running local Airflow and the warehouse it writes to."""

    def __init__(self, url: str, env: dict[str, str], warehouse: str) -> None:
        self.url, self.env, self.warehouse = url, env, warehouse
        self.home = Path(env["AIRFLOW_HOME"])
        self.password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())["admin"]
        self._token: str | None = None

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        if self._token is None:
            self._token = self._request(
                "POST", "/auth/token", {"username": "admin", "password": self.password}, auth=False
            )["access_token"]
        return self._request(method, path, body)

    def _request(self, method: str, path: str, body: dict | None, auth: bool = True) -> dict:
        request = urllib.request.Request(  # noqa: S310 - our own local server
            f"{self.url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None
        )
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own local server
            return json.loads(response.read() or b"{}")

    def runs(self) -> list[dict]:
        return self.api("GET", "/api/v2/dags/sparkify_etl/dagRuns?limit=100")["dag_runs"]

    def wait_for(self, predicate: Callable[[list[dict]], bool], what: str, timeout: float = 300) -> list[dict]:
        """Poll the runs until ``predicate(runs)`` holds; fail on a failed run or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.runs()
            failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
            assert not failed, f"runs failed while waiting for {what}: {failed} (logs in {self.home})"
            if predicate(runs):
                return runs
            time.sleep(2)
        pytest.fail(f"timed out waiting for {what}; runs: {[(r['dag_run_id'], r['state']) for r in self.runs()]}")

    def backfill(self, start: str, end: str, max_active_runs: int) -> dict:
        """Unpause ``sparkify_etl`` and backfill the hourly runs whose logical dates are in [start, end]."""
        self.api("PATCH", "/api/v2/dags/sparkify_etl", {"is_paused": False})
        return self.api(
            "POST",
            "/api/v2/backfills",
            {
                "dag_id": "sparkify_etl",
                "from_date": start,
                "to_date": end,
                "max_active_runs": max_active_runs,
                "reprocess_behavior": "completed",
                "run_backwards": False,
            },
        )


@contextlib.contextmanager
def started(env: dict[str, str], url: str, warehouse: str) -> Iterator[Airflow]:
    """``scripts/airflow.sh start`` with ``env``; stopped (the whole process group) on exit."""
    run = subprocess.run([SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert run.returncode == 0, run.stdout + run.stderr
        yield Airflow(url, env, warehouse)
    finally:
        subprocess.run([SCRIPT, "stop"], env=env, capture_output=True, timeout=120)
