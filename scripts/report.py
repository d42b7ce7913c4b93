#!/usr/bin/env python3
"""Print what the warehouse holds: row counts, the latest data-quality results, analytics answers.

    python scripts/report.py [--counts] [--quality] [--analytics] [--chart FILE] [--conn-id redshift]
    python scripts/report.py --require-star      (exit 1 naming every star table that holds no row)

Reads the warehouse through the same Airflow connection as the DAG (``AIRFLOW_CONN_REDSHIFT`` in the
local stack). The analytics queries are the files of ``sql/analytics/``; ``--chart`` also draws plays
per hour of day as a PNG.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from tabulate import tabulate  # noqa: E402

from sparkify.models.catalogue import load_catalogue  # noqa: E402
from sparkify.models.sql_files import render_sql, sql_dir  # noqa: E402
from sparkify.warehouses import open_warehouse  # noqa: E402


def table(headers: list[str], rows: list[tuple]) -> str:
    """Rows as an aligned plain-text table."""
    return tabulate(rows, headers=headers, tablefmt="simple", missingval="")


def query(cursor, sql: str) -> tuple[list[str], list[tuple]]:
    cursor.execute(sql)
    return [d[0] for d in cursor.description], cursor.fetchall()


def analytics_queries() -> list[Path]:
    return sorted((sql_dir() / "analytics").glob("*.sql"))


def draw_chart(rows: list[tuple], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plays = dict(rows)
    hours = list(range(24))
    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.bar(hours, [plays.get(h, 0) for h in hours], color="#1DB954")
    axes.set(xlabel="hour of day (UTC)", ylabel="songplays", title="Sparkify: plays per hour of day", xticks=hours)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    print(f"\nchart written to {path}")


def require_star(warehouse) -> int:
    """0 when the fact and every dimension hold rows, else 1 with the empty ones named (CI after make demo)."""
    with warehouse.transaction() as cursor:
        counts = {}
        for name in load_catalogue().star_names:
            cursor.execute(f"select count(*) from {name}")
            counts[name] = cursor.fetchone()[0]
    print("star tables: " + ", ".join(f"{name} {rows:,}" for name, rows in counts.items()))
    empty = [name for name, rows in counts.items() if rows == 0]
    if empty:
        print(f"report.py: star tables with no row: {', '.join(empty)}", file=sys.stderr)
    return 1 if empty else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", action="store_true", help="row counts of every table")
    parser.add_argument("--quality", action="store_true", help="results of the latest quality check run")
    parser.add_argument("--analytics", action="store_true", help="answers of sql/analytics/*.sql")
    parser.add_argument("--chart", type=Path, help="write a PNG of plays per hour of day")
    parser.add_argument("--conn-id", default="redshift")
    parser.add_argument("--require-star", action="store_true", help="fail unless every star table holds rows")
    args = parser.parse_args()
    if args.require_star:
        sys.exit(require_star(open_warehouse(args.conn_id)))
    if not (args.counts or args.quality or args.analytics or args.chart):
        args.counts = args.quality = args.analytics = True

    warehouse = open_warehouse(args.conn_id)
    with warehouse.transaction() as cursor:
        if args.counts:
            rows = []
            for name in load_catalogue().ddl_tables:
                cursor.execute(f"select count(*) from {name}")
                rows.append((name, cursor.fetchone()[0]))
            print("\n== Row counts\n" + table(["table", "rows"], rows))
        if args.quality:
            headers, rows = query(
                cursor,
                "select case when passed then 'PASS' when severity = 'warn' then 'WARN' else 'FAIL' end as status,"
                " table_name, check_name, observed, expected from quality_results"
                " where run_id = (select run_id from quality_results order by checked_at desc limit 1)"
                " order by table_name, check_name",
            )
            print(f"\n== Latest data-quality results ({len(rows)} checks)\n" + table(headers, rows))
        if args.analytics or args.chart:
            for path in analytics_queries():
                headers, rows = query(cursor, render_sql(f"analytics/{path.name}", warehouse.dialect))
                if args.analytics:
                    print(f"\n== {path.stem.replace('_', ' ')}\n" + table(headers, rows))
                if args.chart and path.stem == "plays_per_hour":
                    draw_chart(rows, args.chart)


if __name__ == "__main__":
    main()
