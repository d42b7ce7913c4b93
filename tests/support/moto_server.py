"""moto's S3 emulator in server mode, in a process of its own, and a way to fill it.

One starter for the test suite (``tests/conftest.py``) and the benchmarks, so both talk to the same
kind of server: ``moto_server`` over HTTP on 127.0.0.1, reached through Airflow's S3 hook.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-west-2"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(timeout: float = 30) -> Iterator[str]:
    """Start ``moto_server`` on a free port; yield its endpoint URL; stop it on exit."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # noqa: S310 - our own server
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def aws_connection_json(endpoint: str, **config_kwargs: object) -> str:
    """An Airflow ``aws`` connection (for ``AIRFLOW_CONN_AWS_DEFAULT``) pointing at ``endpoint``."""
    extra: dict[str, object] = {"endpoint_url": endpoint, "region_name": REGION}
    if config_kwargs:
        extra["config_kwargs"] = config_kwargs
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})


def s3_client(endpoint: str, pool: int = 10):
    """A boto3 S3 client for ``endpoint``, with ``pool`` connections (one per thread that uses it)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
        config=Config(max_pool_connections=pool),
    )


def upload_folder(endpoint: str, folder: Path, bucket: str, prefix: str, workers: int = 1) -> int:
    """Put every file of ``folder`` into ``s3://bucket/prefix/`` through the S3 API; return how many."""
    client = s3_client(endpoint, pool=max(10, workers))
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    paths = [path for path in sorted(folder.rglob("*")) if path.is_file()]

    def put(path: Path) -> None:
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")

    if workers <= 1:
        for path in paths:
            put(path)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(put, paths))
    return len(paths)
