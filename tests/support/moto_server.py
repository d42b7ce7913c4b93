"""moto in server mode: S3 (and IAM, EC2, Redshift) over HTTP on 127.0.0.1, in a process of its own."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support.net import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

REGION = "us-west-2"


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Start ``moto_server`` and yield its endpoint (``http://127.0.0.1:PORT``); stop it afterwards."""
    port = port or free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)  # noqa: S310 - our own server
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def client(endpoint: str, service: str = "s3") -> Any:
    """A boto3 client of the emulator."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
    )


def upload_folder(endpoint: str, folder: Path, bucket: str, prefix: str) -> None:
    """Put every file of ``folder`` into ``s3://bucket/prefix/`` through the S3 API."""
    s3 = client(endpoint)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
