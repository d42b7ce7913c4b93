"""What a volume check knows of the periods before its window: which a run checked, the counts it recorded
of them, and the counts taken again, each for all the periods in one statement (``sparkify.quality.health``).

Every query is portable to Redshift (no ``filter``, no date arithmetic in SQL).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sparkify.identifiers import check_identifier


def covered(cursor: Any, results_table: str, windows: list[dict[str, Any]]) -> list[bool]:
    """For each of ``windows``: a run recorded checks for a window holding it (its data was loaded then).

    One statement for all of them: a volume check asks this of each of the ``history_days`` windows
    before its own, every hour, so its round trips would be a fixed cost of every run; the results
    table's index on ``window_end`` finds each answer in the rows of the windows since, not in the
    whole history of checks (a year of hourly runs is some 400,000 rows)."""
    if not windows:
        return []
    table = check_identifier(results_table)
    asked = " union all ".join(
        f"select {n} as k, cast(%(window_start_{n})s as timestamp) as window_start,"
        f" cast(%(window_end_{n})s as timestamp) as window_end"
        for n in range(len(windows))
    )
    cursor.execute(
        f"select w.k from ({asked}) as w where exists (select 1 from {table} as r"
        " where r.window_end >= w.window_end and r.window_start <= w.window_start)",
        _numbered(windows),
    )
    found = {row[0] for row in cursor.fetchall()}
    return [n in found for n in range(len(windows))]


def recorded(cursor: Any, results_table: str, table: str, check: str, windows: list[dict[str, Any]]) -> list[Any]:
    """For each of ``windows``, what the check ``table``.``check`` recorded of it: the value (``observed_value``)
    when its latest result covering the window was for that very window; ``COVERED`` when that latest result
    was for a wider window (a month's run, a backfill: the count must be taken again); ``None`` when the
    check recorded nothing covering it.

    An hourly run finds the value of each of the 7 days before here, in one statement over the check's own
    results (``quality_results_check_idx``), instead of counting each day's rows again: the hour after a
    year costs what the hour after a week does, and what the first hour does. The value is the window's as
    it was last checked; a run that reloads it records the new one."""
    if not windows:
        return []
    cursor.execute(
        f"select r.window_start, r.window_end, r.checked_at, r.observed_value from {check_identifier(results_table)}"
        " as r where r.table_name = %(table)s and r.check_name = %(check)s"
        " and r.window_end >= %(oldest_end)s and r.window_start <= %(newest_start)s",
        {
            "table": table,
            "check": check,
            "oldest_end": min(w["window_end"] for w in windows),
            "newest_start": max(w["window_start"] for w in windows),
        },
    )
    found = cursor.fetchall()
    answers: list[Any] = []
    for window in windows:
        start, end = _naive(window["window_start"]), _naive(window["window_end"])
        holding = [row for row in found if row[0] <= start and row[1] >= end]
        if not holding:
            answers.append(None)
            continue
        first, last, _, value = max(holding, key=lambda row: row[2])
        answers.append(value if (first, last) == (start, end) and value is not None else COVERED)
    return answers


#: :func:`recorded`'s answer for a window that the check's latest result holds in a wider window
COVERED = "covered"


def _naive(moment: Any) -> dt.datetime:
    # the results table holds UTC without a zone (timestamp); a window's bounds may carry one
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def counts(cursor: Any, sql: str, windows: list[dict[str, Any]]) -> list[int]:
    """``sql`` (a count over ``%(window_start)s`` and ``%(window_end)s``) for each of ``windows``, in one
    statement (one round trip, not one per window)."""
    if not windows:
        return []
    parts = " union all ".join(f"select {n} as k, ({_renamed(sql, n)}) as n" for n in range(len(windows)))
    cursor.execute(parts, _numbered(windows))
    by_key = {k: n for k, n in cursor.fetchall()}
    return [int(by_key.get(n) or 0) for n in range(len(windows))]


def _renamed(sql: str, n: int) -> str:
    return sql.replace("%(window_start)s", f"%(window_start_{n})s").replace("%(window_end)s", f"%(window_end_{n})s")


def _numbered(windows: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"{name}_{n}": window[name] for n, window in enumerate(windows) for name in ("window_start", "window_end")}
