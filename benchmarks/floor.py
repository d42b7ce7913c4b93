"""The floor: raw ``COPY ... FROM STDIN (FORMAT csv)`` of the month's rows, already encoded.

Into a table ``LIKE staging_events INCLUDING ALL`` (the same columns and the same three indexes), the
best of :data:`ROUNDS` rounds, and, as a second figure, into one without its indexes. The file is
streamed from this process in 1 MiB chunks, as any client must send its rows; nothing is parsed or
converted on the client side.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psycopg

from benchmarks.dataset import read_through
from benchmarks.settings import settle

if TYPE_CHECKING:
    from pathlib import Path

_CHUNK = 1024 * 1024
#: the floor is the best of this many COPYs: the least the hardware needs, so ratios to it are not flattered
#: by one slow round (single rounds here vary by 20 %)
ROUNDS = 3


def _copy(dsn: str, table: str, csv_path: Path) -> tuple[float, int]:
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"copy {table} from stdin (format csv)") as copy,
            csv_path.open("rb") as source,
        ):
            while chunk := source.read(_CHUNK):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
        rows = conn.execute(f"select count(*) from {table}").fetchone()[0]
    return elapsed, rows


def measure_floor(dsn: str, csv_path: Path) -> dict[str, float | int]:
    """Seconds to COPY the CSV into a fresh ``staging_events`` look-alike, with and without its indexes."""
    read_through([csv_path])  # the page cache, as the month's run reads its inputs (warm_month_inputs)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table if exists floor_events, floor_events_bare")
        conn.execute("create table floor_events (like staging_events including all)")
        conn.execute("create table floor_events_bare (like staging_events including defaults)")
        indexes = conn.execute("select count(*) from pg_indexes where tablename = 'floor_events'").fetchone()[0]
    timings, rows = [], 0
    for _ in range(ROUNDS):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("truncate floor_events")
        settle(dsn)
        seconds, rows = _copy(dsn, "floor_events", csv_path)
        timings.append(seconds)
    settle(dsn)
    bare, bare_rows = _copy(dsn, "floor_events_bare", csv_path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("drop table floor_events, floor_events_bare")
    assert rows == bare_rows
    return {
        "seconds": min(timings),
        "rounds": [round(t, 3) for t in timings],
        "seconds_without_indexes": bare,
        "rows": rows,
        "indexes": indexes,
    }
