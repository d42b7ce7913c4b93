"""make bench-events: upload → rows visible in songplays, through S3 notifications, SQS and the asset watcher.

Starts moto's server (S3 + SQS) with the event source of docs/events.md and a local Airflow (scheduler,
DAG processor, triggerer, API server) on the project's PostgreSQL, uploads the songs, then ``--uploads``
day files (day parts: each day of a generated data set split in ``--parts``) at ``--rate`` uploads a
second, and measures for each upload the time until every play it holds is visible in ``songplays``.
Prints p50, p95, max, and the DAG runs per 100 uploads; beside them the hourly schedule's latency for the
same files, computed from the measured duration of one ``sparkify_etl`` run: a file of hour H uploaded
during H is loaded by the run that starts at H+1h, so it waits what is left of its hour (uniform over
0-60 min) plus that run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("tests", "scripts", "plugins"):
    sys.path.insert(0, str(ROOT / folder))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:  # noqa: C901 - one linear script: set up, upload, poll, report
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=60)
    parser.add_argument("--rate", type=float, default=1.0, help="uploads per second")
    parser.add_argument("--parts", type=int, default=10, help="parts each day is split in")
    args = parser.parse_args()

    import psycopg
    from events_local import create_event_source
    from generate_demo_data import generate
    from support import oracle
    from support.airflow_stack import running_airflow
    from support.moto_server import aws_connection_json, client, moto_server
    from support.postgres import admin

    with admin():
        pass
    days = max(1, -(-args.uploads // args.parts))
    work = Path(tempfile.mkdtemp(prefix="bench-events-"))
    data = work / "data"
    generate(data, songs=200, users=40, days=days, events_per_day=1000, seed=5)
    songs = oracle.songs(data)
    files: list[tuple[str, bytes, int]] = []  # key, body, plays it holds
    for n in range(days):
        day = dt.datetime(2018, 11, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)
        lines = (data / f"log_data/{day:%Y/%m/%Y-%m-%d}-events.json").read_text().splitlines(keepends=True)
        for p in range(args.parts):
            body = "".join(lines[p :: args.parts])
            events = [__import__("json").loads(line) for line in body.splitlines() if line.strip()]
            plays = oracle.songplays(events, songs, day - dt.timedelta(days=1), day + dt.timedelta(days=2))
            files.append((f"log_data/{day:%Y/%m/%Y-%m-%d}-part-{p:02d}.json", body.encode(), len(plays)))
    files = files[: args.uploads]

    with moto_server() as endpoint:
        made = create_event_source(endpoint, "bench-events", "raw", "bench-events")
        with running_airflow(
            "bench_events",
            "s3://bench-events/raw",  # type: ignore[arg-type]
            work / "airflow",
            AIRFLOW_CONN_AWS_DEFAULT=aws_connection_json(endpoint),
            SPARKIFY_SQS_QUEUE_URL=made["queue_url"],
        ) as airflow:
            s3 = client(endpoint, "s3")
            s3.upload_file(str(data / "log_json_path.json"), "bench-events", "raw/log_json_path.json")
            for path in sorted((data / "song_data").rglob("*.json")):
                s3.upload_file(str(path), "bench-events", f"raw/{path.relative_to(data).as_posix()}")
            airflow.unpause("sparkify_events", "sparkify_etl")  # and re-parse: the watcher starts
            time.sleep(30)  # the songs' own runs, and the current hour's scheduled run, out of the way
            runs_before = {
                d: len(airflow.api("GET", f"/api/v2/dags/{d}/dagRuns?limit=500")["dag_runs"])
                for d in ("sparkify_events", "sparkify_etl")
            }
            uploaded: dict[str, float] = {}
            seen: dict[str, float] = {}
            expected_total = 0
            began = time.monotonic()
            with psycopg.connect(airflow.warehouse, autocommit=True) as db:

                def poll() -> None:
                    # a file's plays are visible once its source key's rows are in songplays' window: count by
                    # the staged rows of that object joined to songplays (the fact holds no source key)
                    for key, at in uploaded.items():
                        if key in seen:
                            continue
                        got = db.execute(
                            "select count(*) from songplays p where exists (select 1 from staging_events e"
                            " where e._source_key like %s and e.page = 'NextSong' and e.session_id = p.session_id"
                            " and e.ts = p.start_time)",
                            (f"%{key}",),
                        ).fetchone()[0]
                        if got >= wanted[key]:
                            seen[key] = time.monotonic() - at

                wanted = {key: plays for key, _, plays in files}
                for n, (key, body, plays) in enumerate(files):
                    while time.monotonic() < began + n / args.rate:
                        time.sleep(0.05)
                    s3.put_object(Bucket="bench-events", Key=f"raw/{key}", Body=body)
                    uploaded[key] = time.monotonic()
                    expected_total += plays
                    if n % 5 == 0:
                        with contextlib.suppress(psycopg.errors.UndefinedTable):
                            poll()
                deadline = time.monotonic() + 600
                while len(seen) < len(files) and time.monotonic() < deadline:
                    with contextlib.suppress(psycopg.errors.UndefinedTable):
                        poll()
                    time.sleep(1)
            runs = {
                d: len(airflow.api("GET", f"/api/v2/dags/{d}/dagRuns?limit=500")["dag_runs"]) - runs_before[d]
                for d in runs_before
            }
            etl = [
                r
                for r in airflow.api("GET", "/api/v2/dags/sparkify_etl/dagRuns?limit=500")["dag_runs"]
                if r["state"] == "success" and r["start_date"] and r["end_date"]
            ]
            durations = [
                (dt.datetime.fromisoformat(r["end_date"]) - dt.datetime.fromisoformat(r["start_date"])).total_seconds()
                for r in etl
            ]
    latencies = list(seen.values())
    run_s = statistics.median(durations) if durations else float("nan")
    print(f"uploads: {len(files)} at {args.rate}/s ({len(seen)} loaded, {len(files) - len(seen)} not within 10 min)")
    if latencies:
        print(
            f"event-driven  upload → songplays: p50 {percentile(latencies, 0.5):.1f} s, "
            f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
        )
    print(
        f"hourly schedule (computed, one sparkify_etl run = {run_s:.1f} s): p50 {1800 + run_s:.0f} s, "
        f"p95 {3420 + run_s:.0f} s, max {3600 + run_s:.0f} s"
    )
    per_100 = {d: 100 * n / len(files) for d, n in runs.items()}
    print(
        f"DAG runs per 100 uploads: sparkify_events {per_100['sparkify_events']:.1f}, "
        f"sparkify_etl {per_100['sparkify_etl']:.1f}"
    )


if __name__ == "__main__":
    main()
