"""Many small song files behind S3-like latency: the staging operator's concurrent fetch against a loop.

moto's server holds ``SONG_FILES`` one-song objects; a proxy in front of it
(``tests/support/latency_proxy.py``) makes every request wait ``latency`` seconds first, like a GET
to S3. Both sides go through Airflow's S3 hook, as ``sparkify.sources.S3Source`` does:

* concurrent: the ``stage_songs`` operator (its default ``max_workers``) staging every object into
  PostgreSQL, from listing to commit;
* sequential: a plain loop of ``S3Source.read`` over a sample of the keys (objects/s compare the two);
* a sweep of worker counts: ``S3Source.read`` in a thread pool of N over a sample, to show what N
  the latency needs. The client's connection pool is raised to 64 (``config_kwargs`` of the AWS
  connection), so the pool is not what limits N.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from generate_demo_data import generate
from support.latency_proxy import latency_proxy
from support.moto_server import aws_connection_json, moto_server, upload_folder

from benchmarks.settings import fresh_database

if TYPE_CHECKING:
    from pathlib import Path

BUCKET, PREFIX = "sparkify-bench", "raw"


def song_folder(count: int, home: Path) -> Path:
    """``count`` generated one-song files under ``home/bench-songs-<count>`` (generated once)."""
    folder = home / f"bench-songs-{count}"
    marker = folder / ".complete"
    if not marker.is_file():
        generate(folder, songs=count, users=1, days=0, seed=15)
        marker.write_text(str(count))
    return folder


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def measure_s3(
    *,
    song_files: int,
    latency: float,
    sequential_sample: int,
    sweep_sample: int,
    workers: tuple[int, ...],
    database: str,
    home: Path,
) -> dict[str, Any]:
    from sparkify.operators import StageToRedshiftOperator
    from sparkify.sources import S3Source

    folder = song_folder(song_files, home)
    result: dict[str, Any] = {"song_files": song_files, "latency_ms": latency * 1000}
    with moto_server() as endpoint:
        started = time.perf_counter()
        uploaded = upload_folder(endpoint, folder / "song_data", BUCKET, f"{PREFIX}/song_data", workers=16)
        result["upload_seconds"] = time.perf_counter() - started
        with latency_proxy(endpoint, latency) as proxy:
            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = aws_connection_json(proxy.endpoint, max_pool_connections=64)
            source = S3Source(f"s3://{BUCKET}/{PREFIX}", "aws_default")
            keys = [obj.key for obj in source.list("song_data/")]
            assert len(keys) == uploaded == song_files, (len(keys), uploaded, song_files)

            sample = keys[: min(sequential_sample, len(keys))]
            started = time.perf_counter()
            for key in sample:
                source.read(key)
            sequential = time.perf_counter() - started
            result["sequential"] = {
                "objects": len(sample),
                "seconds": sequential,
                "objects_per_second": _rate(len(sample), sequential),
            }

            os.environ["AIRFLOW_CONN_REDSHIFT"] = fresh_database(database).replace("postgresql://", "postgres://")
            operator = StageToRedshiftOperator(
                task_id="stage_songs",
                table="staging_songs",
                source=f"s3://{BUCKET}/{PREFIX}",
                prefix="song_data/",
                json_format="auto",
            )
            started = time.perf_counter()
            summary = operator.execute({})
            concurrent = time.perf_counter() - started
            assert summary["objects_staged"] == song_files, summary
            result["concurrent"] = {
                "what": f"stage_songs operator, max_workers={operator.max_workers}, list + fetch + COPY",
                "workers": operator.max_workers,
                "objects": song_files,
                "seconds": concurrent,
                "objects_per_second": _rate(song_files, concurrent),
            }
            result["ratio"] = result["concurrent"]["objects_per_second"] / result["sequential"]["objects_per_second"]

            sweep_keys = keys[: min(sweep_sample, len(keys))]
            result["sweep"] = []
            for count in workers:
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=count) as pool:
                    for _ in pool.map(source.read, sweep_keys):
                        pass
                seconds = time.perf_counter() - started
                rate = _rate(len(sweep_keys), seconds)
                result["sweep"].append(
                    {
                        "workers": count,
                        "objects": len(sweep_keys),
                        "seconds": seconds,
                        "objects_per_second": rate,
                        "ratio_to_sequential": rate / result["sequential"]["objects_per_second"],
                    }
                )
            result["proxied_requests"] = proxy.requests
    return result
