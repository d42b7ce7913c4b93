"""S3 as :class:`~sparkify.staging.s3_copy.S3CopyStager` reaches it: manifests written to and deleted from
the workspace, the buckets' regions (the COPY's REGION), and the credentials Redshift reads S3 with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

from airflow.sdk.log import mask_secret
from botocore.exceptions import ClientError

from sparkify.errors import ConfigurationError
from sparkify.settings import from_extra
from sparkify.staging.redshift_copy import Credentials

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from sparkify.sources import S3Source
    from sparkify.staging.request import StageRequest
    from sparkify.warehouses.base import Warehouse


class S3Access:
    """The S3 side of :class:`~sparkify.staging.s3_copy.S3CopyStager` (a mixin: the stager sets these
    attributes)."""

    warehouse: Warehouse
    request: StageRequest
    source: S3Source
    s3: S3Hook

    def _write(self, uri: str, text: str) -> None:
        parsed = urlparse(uri)
        self.s3.load_string(text, key=parsed.path.lstrip("/"), bucket_name=parsed.netloc, replace=True)

    def _delete(self, uri: str) -> None:
        parsed = urlparse(uri)
        self.s3.delete_objects(bucket=parsed.netloc, keys=[parsed.path.lstrip("/")])

    def bucket_region(self, bucket: str) -> str | None:
        """The region S3 says ``bucket`` is in: GetBucketLocation, else the ``x-amz-bucket-region`` header
        HeadBucket answers with (even when denied, as for a public bucket of another account); None when
        neither tells."""
        client = self.s3.get_conn()
        try:
            location = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
            return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
        except ClientError:
            pass
        try:
            answer = client.head_bucket(Bucket=bucket)["ResponseMetadata"]
        except ClientError as error:
            answer = error.response.get("ResponseMetadata", {})
        return answer.get("HTTPHeaders", {}).get("x-amz-bucket-region") or None

    def copy_region(self, manifest_bucket: str | None = None) -> str | None:
        """The REGION of the COPY: the source bucket's own region, which Redshift must read it in (a COPY
        without REGION reads the cluster's region; the AWS connection's region says nothing about the
        bucket). A workspace bucket for manifests must be in the same region. None: S3 did not tell, and
        the COPY names no region (Redshift then assumes its own)."""
        region = self.bucket_region(self.source.bucket)
        if manifest_bucket and manifest_bucket != self.source.bucket:
            workspace_region = self.bucket_region(manifest_bucket)
            if region and workspace_region and workspace_region != region:
                raise ConfigurationError(
                    f"{self.request.table}: the workspace bucket {manifest_bucket} is in {workspace_region}, the "
                    f"source bucket {self.source.bucket} in {region}: one COPY reads both, in one region. Use a "
                    f"workspace bucket in {region}"
                )
        return region

    def _credentials(self) -> tuple[Credentials, str | None]:
        """Redshift's way into S3: the IAM role (operator argument, or the warehouse connection's extra
        ``iam_role``), else the AWS connection's keys. The region: the source bucket's (:meth:`copy_region`)."""
        options = self.request.options
        hook = self.s3
        workspace = urlparse((options.workspace or "").strip()).netloc or None
        region = self.copy_region(workspace)
        role = options.iam_role or from_extra("iam_role", self.warehouse.extra)
        if role:
            return Credentials(iam_role=role), region
        frozen = hook.get_credentials()
        keys = Credentials(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
        for secret in keys.secrets:
            mask_secret(secret)  # Airflow's log masker then hides it wherever it would be printed
        return keys, region

    # -- one unit --------------------------------------------------------------------------------------
