#!/usr/bin/env python3
"""How fast staging is, against the baselines a course solution would use. Prints figures; asserts nothing.

    python benchmarks/staging_benchmark.py [--days 20] [--events-per-day 5000] [--songs 2000]

1. Local load of event logs into PostgreSQL: the staging operator (COPY JSON rules, COPY FROM STDIN)
   against row-by-row INSERTs of the same parsed rows (``executemany``).
2. Many small song files from an S3 API (moto's server over HTTP): the operator fetching 8 objects at
   a time against the same operator fetching one at a time.

Each figure is measured in the same run on the same data, so the ratios hold whatever the machine.
Needs the local PostgreSQL (``scripts/pg.sh up``); uses its own database ``sparkify_bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "scripts"), str(ROOT / "tests")]
PORT = os.environ.get("SPARKIFY_PG_PORT", "55432")
SERVER = f"postgresql://postgres@127.0.0.1:{PORT}"
os.environ["AIRFLOW_CONN_REDSHIFT"] = f"postgres://postgres@127.0.0.1:{PORT}/sparkify_bench"

import psycopg  # noqa: E402
from generate_demo_data import LOG_JSONPATHS, generate  # noqa: E402


def fresh_database() -> psycopg.Connection:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute("drop database if exists sparkify_bench with (force)")
        admin.execute("create database sparkify_bench")
    conn = psycopg.connect(f"{SERVER}/sparkify_bench", autocommit=True)
    from sparkify.ddl import ddl_statements

    for statement in ddl_statements("postgres"):
        conn.execute(statement)
    return conn


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def row_by_row(conn: psycopg.Connection, source: Path, pipelined: bool = True) -> int:
    """The baselines: parse each line, INSERT each row, one statement at a time or pipelined."""
    columns = (
        "artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method,"
        " page, registration, session_id, song, status, ts, user_agent, user_id, _source_key"
    )
    sql = f"insert into staging_events ({columns}) values ({', '.join(['%s'] * 19)})"
    count = 0
    with conn.transaction(), conn.cursor() as cursor:
        for path in sorted((source / "log_data").rglob("*.json")):
            key = path.relative_to(source).as_posix()
            rows = []
            for line in path.read_text().splitlines():
                event = json.loads(line)
                values = [event.get(name) for name in LOG_JSONPATHS]
                values[15] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(values[15] / 1000))
                rows.append((*[v if v != "" else None for v in values], key))
            if pipelined:
                cursor.executemany(sql, rows)  # psycopg 3 pipelines these: the best case for INSERTs
            else:
                for row in rows:
                    cursor.execute(sql, row)
            count += len(rows)
    return count


def stage(source: str, *, daily: bool, workers: int = 8) -> dict:
    from sparkify.operators import StageToRedshiftOperator

    if daily:
        operator = StageToRedshiftOperator(
            task_id="stage_events",
            table="staging_events",
            source=source,
            json_format="log_json_path.json",
            daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
            max_workers=workers,
        )
        context = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2019-01-01T00:00:00Z"}}
    else:
        operator = StageToRedshiftOperator(
            task_id="stage_songs", table="staging_songs", source=source, prefix="song_data/", max_workers=workers
        )
        context = {}
    return operator.execute(context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--events-per-day", type=int, default=5000)
    parser.add_argument("--songs", type=int, default=2000)
    args = parser.parse_args()
    logging_off()

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder)
        generate(source, songs=args.songs, users=200, days=args.days, events_per_day=args.events_per_day, seed=1)
        events = sum(len(p.read_text().splitlines()) for p in (source / "log_data").rglob("*.json"))
        print(f"data: {events:,} events in {args.days} day files, {args.songs:,} song files")

        conn = fresh_database()
        one_by_one = timed(lambda: row_by_row(conn, source, pipelined=False))
        conn = fresh_database()
        baseline = timed(lambda: row_by_row(conn, source))
        conn = fresh_database()
        ours = timed(lambda: stage(str(source), daily=True))
        print("\n1. events from a folder into PostgreSQL")
        print(f"   INSERT per row         {one_by_one:7.2f} s  {events / one_by_one:10,.0f} rows/s")
        print(f"   pipelined INSERTs      {baseline:7.2f} s  {events / baseline:10,.0f} rows/s")
        print(f"   staging operator       {ours:7.2f} s  {events / ours:10,.0f} rows/s")
        print(
            f"   speed-up               {one_by_one / ours:7.1f} x over INSERT per row, "
            f"{baseline / ours:.1f} x over pipelined INSERTs"
        )

        from support.moto_server import moto_server, upload_folder

        with moto_server() as endpoint:
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": endpoint, "region_name": "us-west-2"},
                }
            )
            upload_folder(endpoint, source, "bench", "raw")
            fresh_database()
            serial = timed(lambda: stage("s3://bench/raw", daily=False, workers=1))
            fresh_database()
            concurrent = timed(lambda: stage("s3://bench/raw", daily=False, workers=8))
        print(f"\n2. {args.songs:,} small song files over the S3 API (moto server)")
        print(f"   one object at a time   {serial:7.2f} s  {args.songs / serial:10,.0f} objects/s")
        print(f"   8 objects at a time    {concurrent:7.2f} s  {args.songs / concurrent:10,.0f} objects/s")
        print(f"   speed-up               {serial / concurrent:7.1f} x")


def logging_off() -> None:
    import logging

    logging.disable(logging.WARNING)


if __name__ == "__main__":
    main()
