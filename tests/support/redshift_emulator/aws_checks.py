"""What Redshift checks with AWS before a COPY reads anything: the IAM role and the buckets' region.

Both are asked of moto (the same server as the S3 emulator): the role must exist in its IAM, and every
bucket the COPY reads must be in the COPY's region (its ``REGION`` option, else the cluster's own).
"""

from __future__ import annotations

import functools
import threading

import boto3
from botocore.exceptions import ClientError

from .json_rules import CopyError

#: the user Redshift names when it cannot assume a role (a cluster's database user, as in its message)
_DB_USER = "arn:aws:redshift:{region}:123456789012:dbuser:redshift-emulator/awsuser"


_creating = threading.Lock()


@functools.lru_cache(maxsize=64)
def client(service: str, endpoint: str, region: str, keys: tuple[str, str], token: str | None = None):
    """A client of ``service`` with these credentials, made once and shared by the emulator's sessions.

    Making one costs a third of a second (a new boto3 session reloads the service's model), which every
    COPY paid when each made its own. Clients are thread-safe; making them is not, hence the lock.
    """
    with _creating:
        return boto3.session.Session().client(
            service,
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=token,
        )


def check_role(endpoint: str, keys: tuple[str, str], role_arn: str, region: str) -> None:
    """Fail as Redshift does when the COPY's IAM role does not exist (so cannot be assumed)."""
    name = role_arn.rsplit("/", 1)[-1] if ":role/" in role_arn else ""
    found = None
    if name:
        try:
            found = client("iam", endpoint, region, keys).get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
    if found != role_arn:
        raise CopyError(f"User {_DB_USER.format(region=region)} is not authorized to assume IAM Role {role_arn}")


def bucket_region(client, bucket: str) -> str:
    """The bucket's region as S3 reports it (``None`` is us-east-1, ``EU`` is eu-west-1)."""
    location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def check_region(client, bucket: str, region: str) -> None:
    """Fail as Redshift does when a bucket is not in the COPY's region."""
    actual = bucket_region(client, bucket)
    if actual != region:
        raise CopyError(
            "S3ServiceException:The bucket you are attempting to access must be addressed using the specified"
            f" endpoint. Please send all future requests to this endpoint.,Status 301,Error PermanentRedirect,"
            f"Bucket {bucket} is in {actual}, the COPY reads from {region}"
        )
