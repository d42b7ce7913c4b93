"""The connection docs/sources.md gives for a public bucket (``make demo SOURCE=s3://udacity-dend``): unsigned requests.

Against moto's server, which answers an anonymous request only for what is public, as S3 does: the
documented ``aws_default`` reads a public-read object with no keys anywhere, and is refused a private one.
"""

from __future__ import annotations

import json

import boto3
import pytest

BUCKET = "public-sample"
# the README's shape, plus the emulator's endpoint
README_EXTRA = {"region_name": "us-west-2", "config_kwargs": {"signature_version": "unsigned"}}


@pytest.fixture
def unsigned_source(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path):
    owner = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-west-2",
    )
    if BUCKET not in {bucket["Name"] for bucket in owner.list_buckets()["Buckets"]}:
        owner.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    owner.put_object(
        Bucket=BUCKET, Key="log_data/2018/11/2018-11-01-events.json", Body=b'{"ts": 1}\n', ACL="public-read"
    )
    owner.put_object(Bucket=BUCKET, Key="private/secret.json", Body=b"{}\n")
    # no keys from anywhere: not the environment, not ~/.aws
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    extra = {**README_EXTRA, "endpoint_url": s3_endpoint}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": extra}))
    from sparkify.sources import open_source

    return open_source(f"s3://{BUCKET}")


def test_the_documented_unsigned_connection_reads_a_public_bucket(unsigned_source) -> None:
    assert unsigned_source.read("log_data/2018/11/2018-11-01-events.json") == b'{"ts": 1}\n'


def test_it_signs_nothing_so_private_objects_stay_closed(unsigned_source) -> None:
    from botocore.exceptions import ClientError

    from sparkify.errors import FailNow

    # refused, and a retry cannot change that: the task fails at once, naming the object
    with pytest.raises(FailNow, match=r"s3://public-sample/private/secret\.json: cannot read") as refused:
        unsigned_source.read("private/secret.json")
    assert isinstance(refused.value.__cause__, ClientError)
    assert refused.value.__cause__.response["Error"]["Code"] in {"403", "AccessDenied"}
