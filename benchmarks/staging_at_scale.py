#!/usr/bin/env python3
"""Does staging_events need a BRIN index on ts, partitions by day, or a retention policy at 10 M rows?

    python -m benchmarks.staging_at_scale [--events 1000000] [--copies 10]

staging keeps history, so after ``copies`` months it holds ``copies × events`` rows. Built from the
end-to-end benchmark's month (its floor CSV, ``.local/bench-<events>/floor-staged-events.csv``): copies 1..n-1
are the same rows moved 30, 60, … days into the past, so the real month is the newest. For each layout
of staging_events (same columns, in a schema of its own, beside the month's staged songs):

* ``btree``: today's three btree indexes (ts; user_id, ts; _source_key);
* ``brin``: a BRIN index on ts instead of the btree on ts (the other two kept);
* ``daily``: partitioned by range of ts, one partition per day, today's three indexes on each;

it measures: index and table sizes; COPY of the newest month's first 29 days into the history, then of
its last day (an hourly run's stage); the hourly loads' queries for one hour of that day (the songplays
and users models and the loaded_equals_staged check, EXPLAIN ANALYZE, best of three); and retention,
removing the oldest 30 days (DELETE, or DROP of 30 partitions). Prints a table; writes
``.local/bench-<events>/staging-at-scale.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benchmarks import settings
from benchmarks.dataset import ensure_dataset, floor_csv

LAYOUTS = ("btree", "brin", "daily")
NEWEST_DAY = "2018-11-30"
HOUR = ("2018-11-30 12:00:00", "2018-11-30 13:00:00")
MONTH_START = dt.datetime(2018, 11, 1)
INDEXES = {
    "btree": [
        "create index on {t} (ts)",
        "create index on {t} (user_id, ts)",
        "create index on {t} (_source_key)",
    ],
    "brin": [
        "create index on {t} using brin (ts)",
        "create index on {t} (user_id, ts)",
        "create index on {t} (_source_key)",
    ],
}
INDEXES["daily"] = INDEXES["btree"]


def split_csv(csv_path: Path) -> tuple[Path, Path]:
    """The month's CSV as its first 29 days and its last day."""
    early, last = csv_path.with_name("scale-first-29-days.csv"), csv_path.with_name("scale-last-day.csv")
    if not last.is_file():
        marker = f',"{NEWEST_DAY} '
        with csv_path.open() as rows, early.open("w") as out_early, last.open("w") as out_last:
            for line in rows:
                (out_last if marker in line else out_early).write(line)
    return early, last


def copy_file(conn: psycopg.Connection, table: str, path: Path) -> float:
    started = time.perf_counter()
    with conn.cursor() as cursor, cursor.copy(f"copy {table} from stdin (format csv)") as copy, path.open("rb") as src:
        while chunk := src.read(1 << 20):
            copy.write(chunk)
    conn.commit()
    return time.perf_counter() - started


def build_history(conn: psycopg.Connection, csv_path: Path, copies: int) -> int:
    """``public.history``: copies-1 months of past rows, unindexed, built once per database."""
    conn.execute("drop table if exists month_rows, history")
    conn.execute("create table month_rows (like staging_events including defaults)")
    conn.commit()
    copy_file(conn, "month_rows", csv_path)
    conn.execute("create table history (like staging_events including defaults)")
    for k in range(1, copies):
        conn.execute(
            "insert into history select artist, auth, first_name, gender, item_in_session, last_name, length,"
            " level, location, method, page, registration, session_id, song, status,"
            f" ts - interval '{30 * k} days', user_agent, user_id, _source_key || '#{k}' from month_rows"
        )
        conn.commit()
    return conn.execute("select count(*) from history").fetchone()[0]


def create_layout(conn: psycopg.Connection, layout: str, copies: int) -> float:
    """Schema ``layout`` with staging_events holding the history (indexes built after the rows)."""
    started = time.perf_counter()
    conn.execute(f"drop schema if exists {layout} cascade")
    conn.execute(f"create schema {layout}")
    table = f"{layout}.staging_events"
    if layout == "daily":
        conn.execute(f"create table {table} (like public.staging_events including defaults) partition by range (ts)")
        first = MONTH_START - dt.timedelta(days=30 * (copies - 1))
        for n in range(30 * copies):
            day = first + dt.timedelta(days=n)
            conn.execute(
                f"create table {layout}.staging_events_{day:%Y%m%d} partition of {table}"
                f" for values from ('{day:%Y-%m-%d}') to ('{day + dt.timedelta(days=1):%Y-%m-%d}')"
            )
    else:
        conn.execute(f"create table {table} (like public.staging_events including defaults)")
    conn.execute(f"insert into {table} select * from public.history")
    for statement in INDEXES[layout]:
        conn.execute(statement.format(t=table))
    conn.execute(f"create table {layout}.staging_songs (like public.staging_songs including all)")
    conn.execute(f"insert into {layout}.staging_songs select * from public.staging_songs")
    conn.commit()
    conn.autocommit = True
    conn.execute(f"vacuum analyze {table}")
    conn.execute(f"analyze {layout}.staging_songs")
    conn.autocommit = False
    return time.perf_counter() - started


def sizes(conn: psycopg.Connection, layout: str) -> dict[str, int]:
    """Bytes of the table and of each index kind (summed over partitions)."""
    rows = conn.execute(
        """
        with parts as (
            select c.oid from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = %s and c.relkind = 'r' and c.relname like 'staging_events%%'
        )
        select 'table' as what, sum(pg_relation_size(oid)) from parts
        union all
        select pg_get_indexdef(i.indexrelid) as what, pg_relation_size(i.indexrelid)
        from pg_index as i where i.indrelid in (select oid from parts)
        """,
        (layout,),
    ).fetchall()
    out: dict[str, int] = {}
    for what, size in rows:
        if what != "table":
            kind = "brin" if "using brin" in what.lower() else "btree"
            columns = what[what.rindex("(") + 1 : what.rindex(")")]
            what = f"{kind} ({columns})"
        out[what] = out.get(what, 0) + int(size or 0)
    return out


def timed_queries(conn: psycopg.Connection, layout: str) -> dict[str, Any]:
    from sparkify.models.sql_files import render_sql
    from sparkify.quality import load_checks

    params = {"window_start": HOUR[0], "window_end": HOUR[1]}
    expected = next(c for c in load_checks(["songplays"]) if c.name == "loaded_equals_staged").expected_sql
    queries = {
        "songplays model (hour)": render_sql("models/songplays.sql", "postgres"),
        "users model (hour)": render_sql("models/users.sql", "postgres"),
        "loaded_equals_staged (hour)": expected,
    }
    conn.execute(f"set search_path = {layout}, public")
    cursor = psycopg.ClientCursor(conn)
    out = {}
    for name, sql in queries.items():
        best, access = float("inf"), ""
        for _ in range(3):
            cursor.execute(f"explain (analyze, format json) {sql}", params)
            plan = cursor.fetchone()[0][0]
            best = min(best, (plan["Execution Time"] + plan["Planning Time"]) / 1000)
            access = _staging_access(plan["Plan"])
        out[name] = {"seconds": best, "staging_events_access": access}
    conn.rollback()
    return out


def _staging_access(node: dict[str, Any]) -> str:
    found = []

    def walk(n: dict[str, Any]) -> None:
        if str(n.get("Relation Name", "")).startswith("staging_events"):
            found.append(f"{n['Node Type']}" + (f" using {n['Index Name']}" if n.get("Index Name") else ""))
        for child in n.get("Plans", []):
            walk(child)

    walk(node)
    return "; ".join(sorted(set(found))) or "-"


def retention(conn: psycopg.Connection, layout: str, copies: int) -> float:
    """Remove the oldest 30 days: DELETE on a plain table, DROP of 30 partitions on a partitioned one."""
    oldest = MONTH_START - dt.timedelta(days=30 * (copies - 1))
    started = time.perf_counter()
    if layout == "daily":
        for n in range(30):
            conn.execute(f"drop table {layout}.staging_events_{oldest + dt.timedelta(days=n):%Y%m%d}")
    else:
        conn.execute(f"delete from {layout}.staging_events where ts < %s", (oldest + dt.timedelta(days=30),))
    conn.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the month (the data set to use)")
    parser.add_argument("--copies", type=int, default=10, help="months of history in staging_events")
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--database", default="sparkify_bench_scale")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    settings.ensure_server()
    dataset = ensure_dataset(args.events)
    csv_path = floor_csv(dataset)
    early, last = split_csv(csv_path)
    dsn = settings.fresh_database(args.database)

    import os

    from benchmarks.dag_runs import airflow_env

    os.environ.update(
        airflow_env(settings.LOCAL / "airflow-bench", settings.DEFAULT_AIRFLOW_DB, settings.airflow_conn_uri(dsn))
    )
    from sparkify.operators import StageToRedshiftOperator

    StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=str(dataset.folder),
        prefix="song_data/",
        json_format="auto",
    ).execute({})

    results: dict[str, Any] = {"events_per_month": dataset.events_month, "copies": args.copies, "layouts": {}}
    with psycopg.connect(dsn) as conn:
        conn.execute("set timezone = 'UTC'")
        started = time.perf_counter()
        history = build_history(conn, csv_path, args.copies)
        results["history_rows"] = history
        results["history_build_seconds"] = time.perf_counter() - started
        print(f"history: {history:,} rows in {results['history_build_seconds']:.0f} s", flush=True)
        for layout in args.layouts.split(","):
            r: dict[str, Any] = {"build_seconds": create_layout(conn, layout, args.copies)}
            table = f"{layout}.staging_events"
            r["copy_29_days_seconds"] = copy_file(conn, table, early)
            r["copy_last_day_seconds"] = copy_file(conn, table, last)
            conn.autocommit = True
            conn.execute(f"analyze {table}")
            conn.autocommit = False
            r["rows"] = conn.execute(f"select count(*) from {table}").fetchone()[0]
            r["sizes_bytes"] = sizes(conn, layout)
            r["queries"] = timed_queries(conn, layout)
            r["retention_30_days_seconds"] = retention(conn, layout, args.copies)
            results["layouts"][layout] = r
            print(json.dumps({layout: r}, indent=1, default=str), flush=True)
            conn.execute(f"drop schema {layout} cascade")
            conn.commit()
    if not args.keep:
        settings.drop_database(args.database)
    out = dataset.folder.parent / "staging-at-scale.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(report(results))
    print(f"\nresults: {out}")


def report(results: dict[str, Any]) -> str:
    lines = [
        "",
        f"staging_events at {results['history_rows'] + results['events_per_month']:,} rows"
        f" ({results['copies']} months of {results['events_per_month']:,} events)",
    ]
    layouts = results["layouts"]
    names = list(layouts)
    lines.append(f"   {'':<42}" + "".join(f"{n:>14}" for n in names))

    def row(label: str, values: list[str]) -> None:
        lines.append(f"   {label:<42}" + "".join(f"{v:>14}" for v in values))

    row("COPY 29 days (s)", [f"{layouts[n]['copy_29_days_seconds']:.1f}" for n in names])
    row(
        f"COPY 1 day into {results['copies']} months (s)", [f"{layouts[n]['copy_last_day_seconds']:.2f}" for n in names]
    )
    for query in next(iter(layouts.values()))["queries"]:
        row(f"{query} (s)", [f"{layouts[n]['queries'][query]['seconds']:.3f}" for n in names])
    kinds = sorted({k for n in names for k in layouts[n]["sizes_bytes"]})
    for kind in kinds:
        row(f"{kind} (MiB)", [f"{layouts[n]['sizes_bytes'].get(kind, 0) / 2**20:.1f}" for n in names])
    row("drop oldest 30 days (s)", [f"{layouts[n]['retention_30_days_seconds']:.1f}" for n in names])
    for n in names:
        for query, q in layouts[n]["queries"].items():
            lines.append(f"   {n}: {query}: {q['staging_events_access']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
