"""What a volume check pays each hour to learn its history of the 7 days before, after a year.

A volume check compares the window's count with the same hours of the ``history_days`` days before,
counting only days that a run checked (``quality_results``). This fills ``quality_results`` with a year of
hourly runs (``--checks`` rows each) and times the coverage question for the hour after it: the former
way (one ``count(*)`` per day, no index on the windows) against ``sparkify.quality.health.covered`` (one
statement, the ``quality_results_window_idx`` index), best of ``--repeat``; and the lookup of the check's own
recorded values of those days (``health.recorded``, the ``quality_results_check_idx`` index), which spares
an hourly run counting them again. Run it after ``make up``:
``python -m benchmarks.volume_history``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import TYPE_CHECKING, Any

import psycopg

from benchmarks import settings
from sparkify.quality import health

if TYPE_CHECKING:
    from collections.abc import Callable

DATABASE = "sparkify_bench_volume_history"
FORMER = "select count(*) from quality_results where window_start <= %(window_start)s and window_end >= %(window_end)s"


def best_ms(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=8760, help="hourly runs recorded (default a year)")
    parser.add_argument("--checks", type=int, default=45, help="checks recorded per run")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)

    dsn = settings.fresh_database(DATABASE)
    start = dt.datetime(2018, 1, 1)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(
                "insert into quality_results (run_id, window_start, window_end, table_name, check_name, severity,"
                " passed, observed, expected, checked_at, observed_value)"
                " select 'r' || h, %(start)s + make_interval(hours => h),"
                " %(start)s + make_interval(hours => h + 1), 'songplays', 'check ' || c, 'warn', true, '1', '1',"
                " %(start)s + make_interval(hours => h + 1), h"
                " from generate_series(0, %(hours)s - 1) as h, generate_series(1, %(checks)s) as c",
                {"start": start, "hours": args.hours, "checks": args.checks},
            )
            cursor.execute("vacuum analyze quality_results")
            hour = start + dt.timedelta(hours=args.hours)
            windows = [
                {"window_start": hour - dt.timedelta(days=n), "window_end": hour - dt.timedelta(days=n, hours=-1)}
                for n in range(1, 8)
            ]

            def former() -> list[int]:
                found = []
                for window in windows:
                    cursor.execute(FORMER, window)
                    found.append(cursor.fetchone()[0])
                return found

            def current() -> list[bool]:
                return health.covered(cursor, "quality_results", windows)

            def values() -> list[Any]:
                return health.recorded(cursor, "quality_results", "songplays", "check 1", windows)

            assert current() == [bool(n) for n in former()] == [True] * 7
            # the values recorded of each day: the hour of the run that checked it (h above)
            assert values() == [float(args.hours - 24 * n) for n in range(1, 8)]
            recorded_ms = best_ms(values, args.repeat)
            with_index = best_ms(current, args.repeat), best_ms(former, args.repeat)
            cursor.execute("drop index quality_results_window_idx")
            without_index = best_ms(current, args.repeat), best_ms(former, args.repeat)
        rows = args.hours * args.checks
        print(f"quality_results: {rows:,} rows ({args.hours:,} hourly runs x {args.checks} checks)")
        print(f"which of the 7 days before were checked (best of {args.repeat})   one statement   a count(*) per day")
        print(f"   with quality_results_window_idx        {with_index[0]:10.2f} ms   {with_index[1]:10.2f} ms")
        print(f"   without it                             {without_index[0]:10.2f} ms   {without_index[1]:10.2f} ms")
        print(f"   former (a count per day, no index) / now: {without_index[1] / with_index[0]:,.0f} x")
        print(
            "the check's own values of the 7 days before (health.recorded, quality_results_check_idx):"
            f" {recorded_ms:.2f} ms"
        )
    finally:
        with settings.admin() as conn:
            conn.execute(f"drop database if exists {DATABASE} with (force)")


if __name__ == "__main__":
    main()
