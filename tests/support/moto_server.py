"""moto's server over HTTP, in a process of its own: the AWS APIs (S3, IAM, EC2, Redshift...) on 127.0.0.1.

    from support.moto_server import moto_server

    with moto_server() as endpoint:          # "http://127.0.0.1:<free port>"
        boto3.client("s3", endpoint_url=endpoint, ...)

As a pytest fixture::

    @pytest.fixture(scope="module")
    def aws_endpoint():
        with moto_server() as endpoint:
            yield endpoint

``reset(endpoint)`` empties every emulated service between tests. Clients need any key pair
(``testing``/``testing``) and a region.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support.net import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-west-2"


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - our own local server
            return True
    except OSError:
        return False


@contextlib.contextmanager
def moto_server(*, start_timeout: float = 30, log: Path | None = None) -> Iterator[str]:
    """Start ``moto_server`` on a free port, wait until it answers, yield its URL, stop it afterwards.

    :param start_timeout: seconds to wait for the first answer before giving up
    :param log: a file for the server's own output (request lines); discarded when ``None``
    """
    binary = Path(sys.executable).parent / "moto_server"
    for _ in range(3):  # the port may be taken between choosing it and binding it: choose again
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        output = log.open("ab") if log else subprocess.DEVNULL
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + start_timeout
        while process.poll() is None and not _answers(endpoint):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if process.poll() is None and _answers(endpoint):
            break
        process.kill()
        process.wait(timeout=10)
        if log:
            output.close()
    else:
        raise RuntimeError(f"moto_server did not answer within {start_timeout} s")
    try:
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if log:
            output.close()


def reset(endpoint: str) -> None:
    """Forget every resource of every emulated service (moto's own reset API)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - our own server
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own local server
        pass


def aws_connection_json(endpoint: str, **config_kwargs: object) -> str:
    """An Airflow ``aws`` connection (for ``AIRFLOW_CONN_AWS_DEFAULT``) pointing at ``endpoint``."""
    extra: dict[str, object] = {"endpoint_url": endpoint, "region_name": REGION}
    if config_kwargs:
        extra["config_kwargs"] = config_kwargs
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})


def client(endpoint: str, service: str = "s3", pool: int = 10) -> Any:
    """A boto3 client of the emulator, with ``pool`` connections (one per thread that uses it)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
        config=Config(max_pool_connections=pool),
    )


def s3_client(endpoint: str, pool: int = 10) -> Any:
    """A boto3 S3 client of the emulator."""
    return client(endpoint, "s3", pool)


def upload_folder(endpoint: str, folder: Path, bucket: str, prefix: str, workers: int = 1) -> int:
    """Put every file of ``folder`` into ``s3://bucket/prefix/`` through the S3 API; return how many."""
    s3 = s3_client(endpoint, pool=max(10, workers))
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    paths = [path for path in sorted(folder.rglob("*")) if path.is_file()]

    def put(path: Path) -> None:
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")

    if workers <= 1:
        for path in paths:
            put(path)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(put, paths))
    return len(paths)


#: the IAM role the tests' COPYs name: arn:aws:iam::123456789012:role/sparkify-redshift-s3 in moto
REDSHIFT_ROLE_NAME = "sparkify-redshift-s3"


def ensure_role(endpoint: str, name: str) -> str:
    """Create the IAM role ``name`` in moto unless it exists; return its ARN."""
    iam = client(endpoint, "iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
