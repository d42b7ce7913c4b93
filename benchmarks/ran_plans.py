"""The plans of the statements a DAG run actually ran, as PostgreSQL executed them (``auto_explain``).

``benchmarks.plans`` plans every model and check again afterwards, on copies; this module records what
the pipeline itself ran, inside its own tasks: ``auto_explain`` is loaded into every session of the
benchmark's warehouse database (``ALTER DATABASE … SET session_preload_libraries``) and logs, for each
statement slower than a threshold, its plan with the estimated and the actual rows of every node
(``log_analyze`` with ``log_timing`` off, so the overhead is a row count per node). The plans are read
back from the embedded server's log (``$SPARKIFY_HOME/pg/server.log``, as ``scripts/pg.sh`` writes it):
the lines a run added, parsed as JSON.

For each statement the report says what the plan relies on: the indexes it reads, and the tables it
reads whole with the planner's estimate against the rows it found (the statistics that sized its joins
and sorts; an estimate far off means the statistics were missing or stale).
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import settings
from benchmarks.plans import plan_nodes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_START = re.compile(r"LOG:  duration: ([0-9.]+) ms  plan:\s*$")
_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} ")
#: the statements that load tables (the rest are checks and bookkeeping)
LOADS = ("insert", "delete", "update", "create temp", "merge")
BOOKKEEPING = ("quality_results", "stale_hours", "staging_ledger", "quarantined_records", "truncated_values")
#: an estimate this many times off the actual rows (either way) is reported as a misestimate
MISESTIMATE = 10


def server_log() -> Path:
    return Path(os.environ.get("SPARKIFY_HOME", settings.LOCAL)) / "pg" / "server.log"


def enable(database: str, min_ms: int) -> None:
    """Log the plan of every statement of ``database`` that runs ``min_ms`` or longer (new sessions)."""
    with settings.admin() as conn:
        for statement in (
            f"alter database {database} set session_preload_libraries = 'auto_explain'",
            f"alter database {database} set auto_explain.log_min_duration = {int(min_ms)}",
            f"alter database {database} set auto_explain.log_analyze = on",
            f"alter database {database} set auto_explain.log_timing = off",
            f"alter database {database} set auto_explain.log_format = 'json'",
        ):
            conn.execute(statement)


@contextmanager
def captured(database: str, min_ms: int) -> Iterator[list[dict[str, Any]]]:
    """Plans of the statements ``database`` runs in the block, slower than ``min_ms``: the list is filled
    when the block ends (empty when the server's log is not where ``scripts/pg.sh`` puts it)."""
    log = server_log()
    found: list[dict[str, Any]] = []
    if min_ms < 0:  # not asked for: the run is not instrumented at all
        yield found
        return
    enable(database, min_ms)
    offset = log.stat().st_size if log.is_file() else None
    yield found
    if offset is not None:
        with log.open("rb") as handle:
            handle.seek(offset)
            found.extend(summary(plan) for plan in parse(handle.read().decode("utf-8", "replace")))


def parse(text: str) -> list[dict[str, Any]]:
    """The ``auto_explain`` JSON entries of a stretch of server log, each with its ``seconds``."""
    entries: list[dict[str, Any]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = _START.search(lines[index])
        index += 1
        if not match:
            continue
        body: list[str] = []
        while index < len(lines) and not _LOG_LINE.match(lines[index]):
            body.append(lines[index])
            index += 1
        try:
            entry = json.loads("\n".join(body))
        except ValueError:
            continue
        entry["seconds"] = float(match.group(1)) / 1000
        entries.append(entry)
    return entries


def _actual(node: dict[str, Any]) -> int:
    return int(node.get("Actual Rows", 0) * max(node.get("Actual Loops", 1), 1))


def _line(node: dict[str, Any]) -> str:
    where = ""
    if "Relation Name" in node:
        where += f" on {node['Relation Name']}"
    if "Index Name" in node:
        where += f" using {node['Index Name']}"
    extra = f", {node['Sort Method']}" if "Sort Method" in node else ""
    kind = node["Operation"] if node["Node Type"] == "ModifyTable" else node["Node Type"]  # Insert, Delete …
    if node.get("Join Type", "Inner") != "Inner":
        join = node["Join Type"]  # as EXPLAIN prints it: Hash Left Join, Nested Loop Anti Join
        kind = kind.replace(" Join", f" {join} Join") if "Join" in kind else f"{kind} {join} Join"
    if node.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    return f"{kind}{where} (est. {node['Plan Rows']:,}, actual {_actual(node):,}{extra})"


def _tree(node: dict[str, Any], depth: int = 0) -> list[str]:
    lines = ["  " * depth + ("-> " if depth else "") + _line(node)]
    for child in node.get("Plans", []):
        lines.extend(_tree(child, depth + 1))
    return lines


def is_load(statement: str) -> bool:
    """Whether a statement (its first line) writes a table of the pipeline, not the pipeline's own records."""
    words = statement.lower()
    return words.startswith(LOADS) and not any(table in words for table in BOOKKEEPING)


def statement_name(query: str) -> str:
    """The statement's first line that is not a comment, e.g. ``insert into songplays``."""
    for line in query.splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line[:100]
    return "?"


def summary(entry: dict[str, Any]) -> dict[str, Any]:
    plan = entry["Plan"]
    scans = []
    for node in plan_nodes(plan):
        if "Relation Name" not in node or node["Node Type"] == "ModifyTable":
            continue
        estimated, actual = node["Plan Rows"] * max(node.get("Actual Loops", 1), 1), _actual(node)
        off = max(estimated, 1) / max(actual, 1)
        scans.append(
            {
                "table": node["Relation Name"],
                "index": node.get("Index Name"),
                "estimated_rows": int(estimated),
                "actual_rows": actual,
                "misestimate": off > MISESTIMATE or off < 1 / MISESTIMATE,
            }
        )
    return {
        "statement": statement_name(entry.get("Query Text", "")),
        "seconds": entry["seconds"],
        # what the top node was given: the rows an insert wrote, or a select returned
        "rows": _actual(plan["Plans"][0] if plan["Node Type"] == "ModifyTable" and plan.get("Plans") else plan),
        "scans": scans,
        "plan": _tree(plan),
    }


def relies_on(plan: dict[str, Any]) -> str:
    """Each table the plan reads: through which index, or whole; and whether the planner's row estimate
    (from the table's statistics) held against the rows it found."""
    parts = []
    for scan in plan["scans"]:
        how = f"through index {scan['index']}" if scan["index"] else "read whole"
        verdict = (
            f"off by over {MISESTIMATE}x: statistics missing or stale, or a filter they cannot size"
            if scan["misestimate"]
            else "statistics hold"
        )
        parts.append(
            f"{scan['table']} {how} (est. {scan['estimated_rows']:,} vs {scan['actual_rows']:,} rows: {verdict})"
        )
    return "; ".join(parts) or "no table read (constants)"


def report(title: str, plans: list[dict[str, Any]], add: Callable[[str], None]) -> None:
    add("")
    add(title)
    if not plans:
        add(f"   none captured (auto_explain writes to {server_log()}; a server elsewhere logs elsewhere)")
    for plan in plans:
        add(f"   {plan['seconds']:8.2f} s  {plan['statement']}")
        add(f"              relies on: {relies_on(plan)}")
        for line in plan["plan"]:
            add(f"              {line}")
