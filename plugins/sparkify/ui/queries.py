"""What the Sparkify view shows, read from the warehouse in one read-only transaction.

Every statement is portable between PostgreSQL and Redshift: ``case`` sums instead of ``FILTER``,
``row_number()`` instead of ``DISTINCT ON``, ``date_trunc`` and ``cast(... as date)``, bounds computed in
Python and passed as parameters (no interval arithmetic), ``limit``. Table names come from the catalogue
or from this module, never from a request. A table that does not exist yet (no run has created it) is
reported missing instead of failing the page.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sparkify.models.catalogue import load_catalogue
from sparkify.ui.snapshot import CheckHistory, Snapshot, StarTable

if TYPE_CHECKING:
    from sparkify.warehouses import Warehouse

#: how far back the data-quality history and the load history go
HISTORY_DAYS = 14
#: a star table whose last checked load is older than this is shown as stale (the DAG runs hourly)
FRESH_WITHIN = dt.timedelta(hours=2)
#: the columns of quality_results that may hold a failing check's sample rows, in order of preference
SAMPLE_COLUMNS = ("sample", "failing_sample", "sample_rows", "failing_rows", "offending_rows")
#: at most this many rows of the quarantine summary and of the ledger's recent objects
MAX_ROWS = 200
RECENT_LOADS = 50


def _int(value: Any) -> int:
    return int(value or 0)


def status_of(passed: bool, severity: str) -> str:
    """``pass``, ``warn`` (a failed check of severity warn) or ``fail``."""
    if passed:
        return "pass"
    return "warn" if severity == "warn" else "fail"


def existing_tables(cursor: Any) -> set[str]:
    cursor.execute(
        "select table_name from information_schema.tables where table_schema = current_schema()"
        " and table_type = 'BASE TABLE'"
    )
    return {str(row[0]).lower() for row in cursor.fetchall()}


def star_tables(cursor: Any, present: set[str], now: dt.datetime) -> list[StarTable]:
    catalogue = load_catalogue()
    out = []
    for name in catalogue.star_names:
        spec = catalogue[name]
        table = StarTable(name=name, kind=spec.kind, exists=name in present, time_column=spec.time_column)
        out.append(table)
        if not table.exists:
            continue
        if spec.time_column:
            cursor.execute(f"select count(*), max({spec.time_column}) from {name}")
            count, table.newest = cursor.fetchone()
        else:
            cursor.execute(f"select count(*) from {name}")
            (count,) = cursor.fetchone()
        table.rows = _int(count)
        if "quality_results" in present:
            cursor.execute(
                "select run_id, window_start, window_end, checked_at from quality_results"
                " where table_name = %s order by checked_at desc limit 1",
                (name,),
            )
            last = cursor.fetchone()
            if last:
                table.last_run_id, table.last_window_start, table.last_window_end, table.last_checked_at = last
                age = now - table.last_checked_at
                table.age_seconds = max(0, int(age.total_seconds()))
                table.fresh = age <= FRESH_WITHIN
    return out


def sample_column(cursor: Any) -> str | None:
    """The column of quality_results that holds a failing check's sample rows, if the table has one."""
    cursor.execute("select * from quality_results where 1 = 0")
    names = {str(d[0]).lower() for d in cursor.description}
    return next((name for name in SAMPLE_COLUMNS if name in names), None)


def quality_history(cursor: Any, now: dt.datetime) -> tuple[list[CheckHistory], list[dt.date]]:
    first_day = now.date() - dt.timedelta(days=HISTORY_DAYS - 1)
    since = dt.datetime.combine(first_day, dt.time())
    days = [first_day + dt.timedelta(days=n) for n in range(HISTORY_DAYS)]
    cursor.execute(
        "select table_name, check_name, cast(checked_at as date) as day,"
        " sum(case when passed then 1 else 0 end),"
        " sum(case when not passed and severity = 'warn' then 1 else 0 end),"
        " sum(case when not passed and severity <> 'warn' then 1 else 0 end)"
        " from quality_results where checked_at >= %s"
        " group by table_name, check_name, cast(checked_at as date)",
        (since,),
    )
    per_day: dict[tuple[str, str], dict[dt.date, tuple[int, int, int]]] = {}
    for table, check, day, passed, warned, failed in cursor.fetchall():
        per_day.setdefault((table, check), {})[day] = (_int(passed), _int(warned), _int(failed))

    latest = (
        "select table_name, check_name, severity, passed, observed, expected, checked_at, run_id{extra} from ("
        " select table_name, check_name, severity, passed, observed, expected, checked_at, run_id{extra},"
        " row_number() over (partition by table_name, check_name order by checked_at desc) as rank_"
        " from quality_results where checked_at >= %s{where}) ranked where rank_ = 1"
    )
    sample = sample_column(cursor)
    extra = f", {sample}" if sample else ""
    cursor.execute(latest.format(extra=extra, where=""), (since,))
    checks: dict[tuple[str, str], CheckHistory] = {}
    for row in cursor.fetchall():
        table, check, severity, passed, observed, expected, checked_at = row[:7]
        history = CheckHistory(table_name=table, check_name=check, severity=severity)
        history.last_status = status_of(passed, severity)
        history.last_observed, history.last_expected, history.last_checked_at = observed, expected, checked_at
        counts = per_day.get((table, check), {})
        for day in days:
            passed_n, warned_n, failed_n = counts.get(day, (0, 0, 0))
            history.days.append({"day": day, "pass": passed_n, "warn": warned_n, "fail": failed_n})
            history.passed += passed_n
            history.warned += warned_n
            history.failed += failed_n
        checks[(table, check)] = history
    cursor.execute(latest.format(extra=extra, where=" and not passed"), (since,))
    for row in cursor.fetchall():
        table, check, severity, _passed, observed, expected, checked_at, run_id = row[:8]
        if (table, check) in checks:
            checks[(table, check)].last_failure = {
                "run_id": run_id,
                "checked_at": checked_at,
                "observed": observed,
                "expected": expected,
                "sample": None if not sample or row[8] is None else str(row[8]),
            }
    return [checks[key] for key in sorted(checks)], days


def quarantine(cursor: Any) -> tuple[int, list[dict[str, Any]]]:
    cursor.execute("select count(*) from quarantined_records")
    (total,) = cursor.fetchone()
    cursor.execute(
        "select table_name, reason, object_key, count(*), min(line_number), max(quarantined_at)"
        " from quarantined_records group by table_name, reason, object_key"
        f" order by 4 desc, 1, 2, 3 limit {MAX_ROWS}"
    )
    groups = [
        {
            "table_name": table,
            "reason": reason,
            "object_key": key,
            "records": _int(count),
            "first_line": first_line,
            "last_quarantined_at": last,
        }
        for table, reason, key, count, first_line, last in cursor.fetchall()
    ]
    return _int(total), groups


def songplays_per_hour(cursor: Any, days: int) -> list[tuple[dt.datetime, int]]:
    """Songplays per hour over the last ``days`` days that hold plays (ending with the newest play's day),
    every hour listed, hours without plays as 0."""
    cursor.execute("select max(start_time) from songplays")
    (newest,) = cursor.fetchone()
    if newest is None:
        return []
    start = dt.datetime.combine(newest.date() - dt.timedelta(days=days - 1), dt.time())
    end = dt.datetime.combine(newest.date() + dt.timedelta(days=1), dt.time())
    cursor.execute(
        "select date_trunc('hour', start_time), count(*) from songplays"
        " where start_time >= %s and start_time < %s group by 1",
        (start, end),
    )
    counts = {hour: _int(count) for hour, count in cursor.fetchall()}
    hours = [start + dt.timedelta(hours=n) for n in range(int((end - start).total_seconds() // 3600))]
    return [(hour, counts.get(hour, 0)) for hour in hours]


def ledger(cursor: Any, now: dt.datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    cursor.execute(
        "select table_name, count(*), sum(row_count), sum(object_size), max(loaded_at)"
        " from staging_ledger group by table_name order by table_name"
    )
    tables = [
        {"table_name": t, "objects": _int(n), "rows": _int(r), "bytes": _int(b), "last_loaded_at": last}
        for t, n, r, b, last in cursor.fetchall()
    ]
    since = dt.datetime.combine(now.date() - dt.timedelta(days=HISTORY_DAYS - 1), dt.time())
    cursor.execute(
        "select cast(loaded_at as date), table_name, count(*), sum(row_count) from staging_ledger"
        " where loaded_at >= %s group by cast(loaded_at as date), table_name order by 1 desc, 2",
        (since,),
    )
    days = [{"day": d, "table_name": t, "objects": _int(n), "rows": _int(r)} for d, t, n, r in cursor.fetchall()]
    cursor.execute(
        "select table_name, object_key, row_count, object_size, loaded_at from staging_ledger"
        f" order by loaded_at desc, table_name, object_key limit {RECENT_LOADS}"
    )
    recent = [
        {"table_name": t, "object_key": k, "rows": r, "bytes": b, "loaded_at": at}
        for t, k, r, b, at in cursor.fetchall()
    ]
    return tables, days, recent


def read_snapshot(warehouse: Warehouse, *, days: int = 3, now: dt.datetime | None = None) -> Snapshot:
    """Everything the view shows, from ``warehouse``; ``now`` (naive UTC, as the tables store it) for tests."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with warehouse.transaction() as cursor:
        present = existing_tables(cursor)
        wanted = ["quality_results", "quarantined_records", "staging_ledger", *load_catalogue().star_names]
        missing = [name for name in wanted if name not in present]
        star = star_tables(cursor, present, now)
        quality, quality_days = quality_history(cursor, now) if "quality_results" in present else ([], [])
        total, groups = quarantine(cursor) if "quarantined_records" in present else (0, [])
        hours = songplays_per_hour(cursor, days) if "songplays" in present else []
        tables, load_days, recent = ledger(cursor, now) if "staging_ledger" in present else ([], [], [])
    return Snapshot(
        target=warehouse.name,
        now=now,
        days=days,
        missing_tables=missing,
        star=star,
        quality=quality,
        quality_days=quality_days,
        quarantine_total=total,
        quarantine=groups,
        hours=hours,
        ledger_tables=tables,
        ledger_days=load_days,
        ledger_recent=recent,
    )
