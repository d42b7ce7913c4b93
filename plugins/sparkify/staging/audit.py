"""After staging: what the staged rows of a window's day files must satisfy before anything is loaded.

Two faults would otherwise lose rows without a word (issue 10, items 4 and 10):

* **Rows no window will ever load.** A fact load takes the rows whose time column falls in its window.
  A row of a day file whose ``ts`` is missing, or far from the file's day (``-1`` is 1969), is staged and
  then never loaded. Rows up to ``margin`` away from the file's day are fine: the stage task lists the
  neighbouring days' files too (``DayListing.margin_days``), so they are staged before any window that
  holds their ``ts`` is loaded. Further away, the object is refused, naming the line and field.
* **Staged rows that vanished.** The ledger says an object is staged, so it is not staged again; if its
  rows were deleted meanwhile (a ``truncate`` by hand, a restore of an older backup), a rerun would
  replace the window's facts by nothing. The ledger's row count of each object is compared with the rows
  the staging table holds for it, and a difference is refused, saying how to repair it.

Both run on every run over the window's objects, staged now or before, so that a retry or a rerun
fails the same way until the data is repaired: fix the object (its new version is restaged), or forget
the vanished objects (``delete from staging_ledger where ...``, printed in the message) and rerun.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from sparkify.errors import FailNow
from sparkify.identifiers import placeholders
from sparkify.staging.json_copy import StagingDataError, iter_records

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sparkify.sources import Source
    from sparkify.warehouses.base import Warehouse

_EPOCH = dt.datetime(1970, 1, 1)
_NAMED = 5  # objects (and lines per object) named in a message; the rest are counted


def vanished_rows(warehouse: Warehouse, table: str, keys: list[str]) -> list[tuple[str, int, int]]:
    """``(object, rows the ledger recorded, rows staged now)`` for each of ``keys`` that lost rows.

    Two statements, not one join: the ledger's rows first, then one count per load unit, its units given
    as literals. Joined in one statement, the planner sized the join at a thousandth of the rows (it cannot
    know which units the ledger rows name) and sorted every staged row of the units to count them: 0.72 s
    for three day files at 10 M events, every hour; the count by literal units is one index-only scan of
    ``_source_key`` with a hash or group aggregate, 0.08 s."""
    if not keys:
        return []
    with warehouse.transaction() as cursor:
        cursor.execute(
            "select object_key, row_count, load_unit from staging_ledger"
            " where table_name = %s and row_count is not null and retired_at is null"
            f" and object_key in ({placeholders(keys)})",
            (table, *keys),
        )
        recorded = cursor.fetchall()
        units = sorted({unit for _, _, unit in recorded})
        if not units:
            return []
        cursor.execute(
            f"select _source_key, count(*) from {table} where _source_key in ({placeholders(units)})"
            " group by _source_key",
            tuple(units),
        )
        staged = {unit: int(count) for unit, count in cursor.fetchall()}
    return sorted(
        (key, int(count), staged.get(unit, 0)) for key, count, unit in recorded if staged.get(unit, 0) != int(count)
    )


def audited(warehouse: Warehouse, table: str, keys: Iterable[str], margin: dt.timedelta) -> set[str]:
    """The keys among ``keys`` whose staged rows were all found within ``margin`` (or less) of their day."""
    keys = sorted(keys)
    if not keys:
        return set()
    with warehouse.transaction() as cursor:
        cursor.execute(
            "select object_key from staging_ledger where table_name = %s and retired_at is null"
            f" and audited_margin_seconds <= %s and object_key in ({placeholders(keys)})",
            (table, int(margin.total_seconds()), *keys),
        )
        return {row[0] for row in cursor.fetchall()}


def record_audited(warehouse: Warehouse, table: str, keys: list[str], margin: dt.timedelta) -> None:
    """Record that the staged rows of ``keys`` are all within ``margin`` of their day."""
    if not keys:
        return
    with warehouse.transaction() as cursor:
        cursor.execute(
            "update staging_ledger set audited_margin_seconds = %s"
            f" where table_name = %s and object_key in ({placeholders(keys)})",
            (int(margin.total_seconds()), table, *keys),
        )


def unloadable_rows(
    warehouse: Warehouse, table: str, time_column: str, day_of: dict[str, dt.date], margin: dt.timedelta
) -> dict[str, int]:
    """``{object: rows}`` of the rows whose ``time_column`` is NULL or more than ``margin`` from the object's day."""
    by_day: dict[dt.date, list[str]] = defaultdict(list)
    for key, day in day_of.items():
        by_day[day].append(key)
    found: dict[str, int] = {}
    with warehouse.transaction() as cursor:
        for day, keys in sorted(by_day.items()):
            start = dt.datetime.combine(day, dt.time()) - margin
            end = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1) + margin
            cursor.execute(
                f"select _source_key, count(*) from {table}"
                f" where _source_key in ({placeholders(keys)})"
                f" and ({time_column} is null or {time_column} < %s or {time_column} >= %s)"
                " group by _source_key order by _source_key",
                (*keys, start, end),
            )
            found.update((key, int(count)) for key, count in cursor.fetchall())
    return found


def _lines_out_of_day(text: str, where: str, field: str, day: dt.date, margin: dt.timedelta) -> list[str]:
    """``line N, field $['ts']: …`` for each record of ``text`` whose ``field`` no window would take."""
    low = dt.datetime.combine(day, dt.time()) - margin
    high = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1) + margin
    found = []
    try:
        for line, record in iter_records(text, where):
            name = next((k for k in record if str(k).lower() == field), field)
            value = record.get(name)
            if value is None or value == "":
                found.append(f"line {line}, field $['{name}']: no value")
                continue
            try:
                moment = _EPOCH + dt.timedelta(milliseconds=float(value))
            except (TypeError, ValueError, OverflowError):
                continue  # not a time at all: staging would have refused it already
            if not low <= moment < high:
                found.append(f"line {line}, field $['{name}']: {moment.isoformat(sep=' ')}")
    except StagingDataError:
        pass  # the object is not what was staged any more: the counts above still stand
    return found


def check_staged_days(
    *,
    warehouse: Warehouse,
    source: Source,
    table: str,
    time_column: str,
    day_of: dict[str, dt.date],
    margin: dt.timedelta,
    staged_now: frozenset[str] = frozenset(),
) -> None:
    """Refuse (:class:`~sparkify.errors.FailNow`) a window whose day files lost staged rows or hold rows
    that no window will load. ``day_of`` maps each of the window's objects to its day. ``staged_now``: the
    objects this run has just staged, whose rows the ledger counted in the transaction that committed
    them; their rows are not counted again (for a month of day files, a join over a million rows)."""
    keys = sorted(set(day_of) - staged_now)
    vanished = vanished_rows(warehouse, table, keys)
    if vanished:
        listing = "; ".join(f"{source.locate(k)}: {s} of {r} rows" for k, r, s in vanished[:_NAMED])
        more = f" and {len(vanished) - _NAMED} more" if len(vanished) > _NAMED else ""
        forget = ", ".join(f"'{k}'" for k, _, _ in vanished[:_NAMED])
        raise FailNow(
            f"{table} holds fewer rows than the staging ledger recorded for {len(vanished)} object(s): "
            f"{listing}{more}. Loading would replace the window's rows by less than was there. Repair: "
            f"delete from staging_ledger where table_name = '{table}' and object_key in ({forget}); "
            "then rerun, and those objects are staged again",
            object_uri=source.locate(vanished[0][0]),
        )
    # an object's staged rows do not change while its row count holds (checked just above): one found
    # within a margin once is not read again for a margin as wide (a no-op hour at 10 M events read
    # a million rows here)
    unaudited = {key: day for key, day in day_of.items() if key not in audited(warehouse, table, day_of, margin)}
    bad = unloadable_rows(warehouse, table, time_column, unaudited, margin)
    if not bad:
        record_audited(warehouse, table, sorted(unaudited), margin)
        return
    details = []
    for key in sorted(bad)[:_NAMED]:
        where = source.locate(key)
        text = source.read(key).decode("utf-8", errors="replace")
        lines = _lines_out_of_day(text, where, time_column, day_of[key], margin)
        shown = "; ".join(lines[:_NAMED]) + (f" and {len(lines) - _NAMED} more" if len(lines) > _NAMED else "")
        details.append(
            f"{where}: {bad[key]} row(s) with {time_column} missing or beyond a day of {day_of[key]}"
            + (f" ({shown})" if shown else "")
        )
    raise FailNow(
        f"{table}: rows that no window would ever load: "
        + "; ".join(details)
        + ". Give them a ts within a day of their file's day (or move them to the right day's file), then rerun",
        object_uri=source.locate(sorted(bad)[0]),
    )
