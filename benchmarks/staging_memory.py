#!/usr/bin/env python3
"""Peak memory of stage_events on day files of about 1 GB each (issue 12: bounded memory).

    . scripts/env.sh && python benchmarks/staging_memory.py OUT_DIR [--days 1] [--gib 1.0] [--from DATA_DIR]

Builds OUT_DIR/log_data with ``--days`` day files of ``--gib`` GiB each (the lines of a generated day
file, repeated), then runs the real ``StageToRedshiftOperator`` against a fresh database
``memory_bench`` in a child process and prints its peak resident set (``ru_maxrss``) with the rows and
the time. The child is the whole staging task: Airflow's imports, the operator, the encoder and COPY.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB = "memory_bench"


def build(out: Path, data: Path, days: int, gib: float) -> None:
    sample = sorted((data / "log_data").rglob("*.json"))[0].read_bytes()
    (out / "log_json_path.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "log_json_path.json").write_bytes((data / "log_json_path.json").read_bytes())
    for day in range(1, days + 1):
        path = out / "log_data" / "2018" / "11" / f"2018-11-{day:02d}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        target = int(gib * (1 << 30))
        if path.exists() and path.stat().st_size >= target:
            continue
        with path.open("wb") as file:
            written = 0
            while written < target:
                file.write(sample)
                written += len(sample)


def child(out: Path, days: int) -> None:
    """Run in a fresh interpreter: create the tables, stage the window, report peak RSS."""
    sys.path.insert(0, str(ROOT / "plugins"))
    from sparkify.operators import CreateTablesOperator, StageToRedshiftOperator

    CreateTablesOperator(task_id="create_tables").execute({})
    started = time.perf_counter()
    summary = StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source=str(out),
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        json_format="log_json_path.json",
    ).execute({"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": f"2018-11-{days + 1:02d}T00:00:00Z"}})
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": round(peak_mib, 1), "seconds": round(elapsed, 1), **summary}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--from", dest="data", type=Path, default=ROOT / ".local" / "bench-1m")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.out, args.days)
        return
    build(args.out, args.data, args.days, args.gib)
    port = os.environ.get("SPARKIFY_PG_PORT", "5432")
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as admin:
        admin.execute(f"drop database if exists {DB} with (force)")
        admin.execute(f"create database {DB}")
    env = {**os.environ, "AIRFLOW_CONN_REDSHIFT": f"postgres://postgres@127.0.0.1:{port}/{DB}"}
    sizes = [p.stat().st_size for p in (args.out / "log_data").rglob("*.json")]
    print(f"{len(sizes)} day file(s), {sum(sizes) / (1 << 30):.2f} GiB", flush=True)
    command = [sys.executable, __file__, str(args.out), "--days", str(args.days), "--child"]
    subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
