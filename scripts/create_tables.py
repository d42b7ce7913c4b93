#!/usr/bin/env python3
"""Create the warehouse's tables; with ``--drop``, drop them first (the seed's ``create_tables.py``).

    python scripts/create_tables.py [--drop] [--conn-id redshift]

Dropping clears the staging ledger with the tables, so the next run stages every object again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sparkify.models.catalogue import load_catalogue
from sparkify.warehouses import open_warehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drop", action="store_true", help="drop every table first")
    parser.add_argument("--conn-id", default="redshift")
    args = parser.parse_args()
    warehouse = open_warehouse(args.conn_id)
    tables = load_catalogue().ddl_tables
    with warehouse.transaction() as cursor:
        if args.drop:
            for name in reversed(tables):
                cursor.execute(f"drop table if exists {name}")
        warehouse.create_tables(cursor)
    print(f"{'Recreated' if args.drop else 'Created'} {len(tables)} tables on {args.conn_id} ({warehouse.name})")


if __name__ == "__main__":
    main()
