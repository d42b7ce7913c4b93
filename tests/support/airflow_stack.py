"""A real local Airflow (API server, scheduler, DAG processor, triggerer) for end-to-end tests.

It runs on the project's PostgreSQL with databases of its own, started by ``scripts/airflow.sh`` as a
user would with ``make airflow``, and is driven through its REST API.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.net import free_port
from support.paths import ROOT
from support.postgres import SERVER, admin

#: between two looks at a run's state
POLL_SECONDS = 2

if TYPE_CHECKING:
    from collections.abc import Iterator


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

    def unpause(self, *dag_ids: str) -> None:
        """Unpause ``dag_ids`` and have their files parsed again: Airflow hands an asset watcher to the
        triggerer when it parses the file of an unpaused DAG, and test stacks parse each file only once."""
        for dag_id in dag_ids:
            self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        for token in {self.api("GET", f"/api/v2/dags/{dag_id}/details")["file_token"] for dag_id in dag_ids}:
            self.api("PUT", f"/api/v2/parseDagFile/{token}")

    def runs(self) -> list[dict]:
        return self.api("GET", "/api/v2/dags/sparkify_etl/dagRuns?limit=100")["dag_runs"]

    def wait_for(self, predicate, what: str, timeout: float = 300) -> list[dict]:
        """Poll the runs until ``predicate(runs)`` holds; fail on a failed run or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                runs = self.runs()
            except TimeoutError:  # a busy API server (make test runs several stacks at once): look again
                continue
            failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
            assert not failed, f"runs failed while waiting for {what}: {failed} (logs in {self.env['AIRFLOW_HOME']})"
            if predicate(runs):
                return runs
            time.sleep(POLL_SECONDS)
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

    def wait_for_run(self, dag_id: str, run_id: str, states: tuple[str, ...], timeout: float = 300) -> dict:
        """Poll one run until it reaches one of ``states``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            except TimeoutError:  # a busy API server: look again
                continue
            if run["state"] in states:
                return run
            time.sleep(POLL_SECONDS)
        pytest.fail(f"run {dag_id}/{run_id} did not reach {states} in {timeout} s")


def metadata_url(name: str) -> str:
    """The SQLAlchemy URL of the metadata database of ``running_airflow(name, ...)``."""
    return f"{SERVER.replace('postgresql', 'postgresql+psycopg2')}/airflow_{name}"


@contextmanager
def running_airflow(name: str, source: Path, home: Path, **settings: str) -> Iterator[Airflow]:
    """Start a local Airflow whose metadata and warehouse databases are ``airflow_<name>`` and
    ``sparkify_<name>``; ``settings`` are further environment variables. Stopped afterwards."""
    with admin() as conn:
        for database in (f"airflow_{name}", f"sparkify_{name}"):
            conn.execute(f"drop database if exists {database} with (force)")
            conn.execute(f"create database {database}")
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "SPARKIFY_AIRFLOW_PORT": str(port),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(name),
        "AIRFLOW_CONN_REDSHIFT": f"{SERVER}/sparkify_{name}".replace("postgresql://", "postgres://"),
        "AIRFLOW_VAR_SPARKIFY_SOURCE": str(source),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "SPARKIFY_CATCHUP": "false",  # unpausing must not queue every hour since 2018
        # the DAG files do not change while a test runs: parse each once at start, not every 30 s (the
        # re-parses were 5 % of `make test`'s CPU across the e2e stacks)
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        **settings,
    }
    script = str(ROOT / "scripts" / "airflow.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield Airflow(f"http://127.0.0.1:{port}", env, f"{SERVER}/sparkify_{name}")
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)
