"""The project's local PostgreSQL cluster as the tests reach it (``SPARKIFY_PG_PORT``, default 55432)."""

from __future__ import annotations

import os

import psycopg

PORT = os.environ.setdefault("SPARKIFY_PG_PORT", "55432")
SERVER = f"postgresql://postgres@127.0.0.1:{PORT}"
# under `pytest -n N` (pytest-xdist) each worker has its own Airflow metadata database (and Airflow home)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
METADATA_DB = f"airflow_test_{WORKER}" if WORKER else "airflow_test"


def admin() -> psycopg.Connection:
    """An autocommit connection to the cluster's ``postgres`` database, for creating databases."""
    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)
