"""The planner's view of every model and every quality check, with and without statistics.

Right after a bulk stage a table has never been analysed, and the planner guesses its row counts; the
songplays join then became a nested loop (680 s against 2.2 s). To show that deterministically, the
warehouse's tables are copied into a schema ``unanalysed`` with autovacuum off (the state of a table
right after a bulk load), each statement is planned there, then the copies are analysed and each is
planned again. Each statement is also run under ``EXPLAIN ANALYZE`` with a statement timeout, so the
figures are times, not only the planner's own estimates; a plan that runs past the timeout is reported
as such.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

# stale_hours: read by the songplays check hours_to_reload; truncated_values: by truncated_staged_values;
# quarantined_records, quality_results and staging_ledger: by the health checks (quarantine, volume history)
TABLES = (
    "staging_events",
    "staging_songs",
    "songplays",
    "users",
    "songs",
    "artists",
    "time",
    "stale_hours",
    "truncated_values",
    "quarantined_records",
    "quality_results",
    "staging_ledger",
)
STAR_TABLES = ("songplays", "users", "songs", "artists", "time")
SCHEMA = "unanalysed"


@dataclass(frozen=True)
class Statement:
    name: str
    sql: str

    @property
    def windowed(self) -> bool:
        return "%(window_" in self.sql


def statements() -> list[Statement]:
    """Every model's SELECT (what the loads run) and every check's queries (what the checks run)."""
    from sparkify.models.sql_files import render_sql
    from sparkify.quality import load_checks

    found = [Statement(f"model {t}", render_sql(f"models/{t}.sql", "postgres")) for t in STAR_TABLES]
    for check in load_checks(STAR_TABLES):
        found.append(Statement(f"check {check.table}: {check.name}", check.sql))
        if check.expected_sql:
            found.append(Statement(f"check {check.table}: {check.name} (expected)", check.expected_sql))
    return found


def copy_without_statistics(dsn: str) -> None:
    """Copies of the warehouse's tables that have never been analysed, and never will be by autovacuum."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.execute(f"create schema {SCHEMA}")
        for table in TABLES:
            conn.execute(
                f"create table {SCHEMA}.{table} (like public.{table} including all) with (autovacuum_enabled = false)"
            )
            conn.execute(f"insert into {SCHEMA}.{table} select * from public.{table}")


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an ``EXPLAIN (FORMAT JSON)`` plan, the node itself first."""
    nodes = [node]
    for child in node.get("Plans", []):
        nodes.extend(plan_nodes(child))
    return nodes


def _summary(plan: dict[str, Any]) -> dict[str, Any]:
    nodes = plan_nodes(plan)
    joins = [
        f"{n['Node Type']} (est. {n['Plan Rows']:,} rows)"
        for n in nodes
        if n["Node Type"] in ("Nested Loop", "Hash Join", "Merge Join")
    ]
    big_scans = [
        n["Relation Name"]
        for n in nodes
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in ("staging_events", "songplays")
    ]
    return {
        "total_cost": plan["Total Cost"],
        "estimated_rows": plan["Plan Rows"],
        "joins": joins,
        "nested_loop": any(n["Node Type"] == "Nested Loop" for n in nodes),
        "full_scans_of_big_tables": big_scans,
        # what the plan relies on: the indexes it reads, and the tables it reads whole (their statistics
        # decide the join methods and sizes: a hash join sized from a guess is what collapsed before)
        "indexes": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
        "seq_scans": sorted({n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}),
    }


def _plan(conn: psycopg.Connection, sql: str, params: dict | None, timeout_s: float) -> dict[str, Any]:
    cursor = psycopg.ClientCursor(conn)  # values inlined: the planner sees the window, as in a custom plan
    cursor.execute(f"explain (format json) {sql}", params)
    plan = cursor.fetchone()[0][0]["Plan"]
    text_cursor = psycopg.ClientCursor(conn)
    text_cursor.execute(f"explain {sql}", params)
    text = "\n".join(row[0] for row in text_cursor.fetchall())
    result = {**_summary(plan), "plan": text}
    conn.execute(f"set statement_timeout = {int(timeout_s * 1000)}")
    started = time.perf_counter()
    try:
        cursor.execute(f"explain (analyze, format json) {sql}", params)
        analysed = cursor.fetchone()[0][0]
        result["seconds"] = analysed["Execution Time"] / 1000 + analysed.get("Planning Time", 0) / 1000
        result["timed_out"] = False
    except psycopg.errors.QueryCanceled:
        conn.rollback()
        result["seconds"] = time.perf_counter() - started
        result["timed_out"] = True
    conn.execute("set statement_timeout = 0")
    return result


def explain_everything(dsn: str, windows: dict[str, tuple[str, str]], timeout_s: float) -> list[dict[str, Any]]:
    """Plan (and run, under a timeout) each statement per window, on unanalysed then analysed copies."""
    copy_without_statistics(dsn)
    found = statements()
    results: list[dict[str, Any]] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"set search_path = {SCHEMA}")
        conn.execute("set timezone = 'UTC'")
        for state in ("no statistics", "analysed"):
            if state == "analysed":
                for table in TABLES:
                    conn.execute(f"analyze {SCHEMA}.{table}")
            for statement in found:
                for window_name, (start, end) in windows.items() if statement.windowed else [("-", (None, None))]:
                    params = {"window_start": start, "window_end": end} if statement.windowed else None
                    if "%(run_id)s" in statement.sql:  # a check about this run's own records (quarantine)
                        params = {**(params or {}), "run_id": "benchmark-plans"}
                    planned = _plan(conn, statement.sql, params, timeout_s)
                    results.append({"statement": statement.name, "window": window_name, "statistics": state, **planned})
        conn.execute(f"drop schema {SCHEMA} cascade")
    return results


def compare(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per statement and window: seconds and plan shape without statistics and analysed."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault((r["statement"], r["window"]), {"statement": r["statement"], "window": r["window"]})
        key = "without" if r["statistics"] == "no statistics" else "with"
        row[f"seconds_{key}_stats"] = r["seconds"]
        row[f"timed_out_{key}_stats"] = r["timed_out"]
        row[f"nested_loop_{key}_stats"] = r["nested_loop"]
        row[f"joins_{key}_stats"] = r["joins"]
        row[f"indexes_{key}_stats"] = r.get("indexes", [])
        row[f"seq_scans_{key}_stats"] = r.get("seq_scans", [])
    for row in rows.values():
        row["ratio"] = row["seconds_without_stats"] / max(row["seconds_with_stats"], 1e-6)
    return list(rows.values())
