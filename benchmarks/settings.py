"""Where the benchmarks put things, and the databases they use on the project's PostgreSQL cluster.

The benchmarks never touch the developer's warehouse (``sparkify``) or Airflow metadata (``airflow``):
they create warehouse databases named ``<prefix>_<purpose>`` and use a metadata database of their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]

PORT = os.environ.get("SPARKIFY_PG_PORT", "55432")
SERVER = f"postgresql://postgres@127.0.0.1:{PORT}"
LOCAL = ROOT / ".local"
DEFAULT_AIRFLOW_DB = f"postgresql+psycopg2://postgres@127.0.0.1:{PORT}/airflow_bench"


def admin() -> psycopg.Connection:
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def fresh_database(name: str, *, tables: bool = True) -> str:
    """Drop and create the warehouse database ``name``; with ``tables``, create the project's tables."""
    with admin() as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")
    dsn = f"{SERVER}/{name}"
    if tables:
        from sparkify.models.ddl import ddl_statements

        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in ddl_statements("postgres"):
                conn.execute(statement)
    return dsn


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(f"drop database if exists {name} with (force)")


def airflow_conn_uri(dsn: str) -> str:
    """The ``AIRFLOW_CONN_REDSHIFT`` form of a libpq URI."""
    return dsn.replace("postgresql://", "postgres://", 1)


def ensure_server() -> None:
    """The project's PostgreSQL, started if it is not running (``scripts/pg.sh up``)."""
    import subprocess

    subprocess.run([str(ROOT / "scripts" / "pg.sh"), "up"], check=True, capture_output=True)


def settle(dsn: str) -> float:
    """Write out what the work before left dirty, and return the seconds it took: the server's buffers
    (``CHECKPOINT``), then the kernel's page cache (``sync``). Each timed part starts after it, the floor's
    rounds included, so that no part pays for the writeback of the part before it (the floor's COPYs leave
    gigabytes that the kernel writes while the next part runs)."""
    import time

    began = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("checkpoint")
    os.sync()
    return time.perf_counter() - began


def wait_for_autovacuum(dsn: str, timeout: float = 600.0) -> dict[str, float]:
    """Wait until no autovacuum worker runs in the database of ``dsn``, up to ``timeout`` seconds.

    A month's bulk load leaves autovacuum working on the big tables for minutes after it (on two cores, it
    takes one): an hour measured then pays for the load before it. Returns the seconds waited and the most
    workers seen, which the report prints beside the hour."""
    import time

    began, most = time.perf_counter(), 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.perf_counter() - began < timeout:
            (workers,) = conn.execute(
                "select count(*) from pg_stat_activity"
                " where backend_type = 'autovacuum worker' and datname = current_database()"
            ).fetchone()
            most = max(most, workers)
            if not workers:
                break
            time.sleep(1.0)
    return {"seconds": time.perf_counter() - began, "workers": most}
