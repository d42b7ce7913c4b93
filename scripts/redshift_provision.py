#!/usr/bin/env python3
"""Provision Sparkify's Redshift cluster, as the seed's notebook did by hand, and tear it down again.

    python scripts/redshift_provision.py up   [--config config/dwh.cfg] [--env-file .local/redshift.env]
    python scripts/redshift_provision.py down [--config config/dwh.cfg] [--env-file .local/redshift.env]

``up`` creates (or finds) the workspace bucket when ``[S3] WORKSPACE`` is empty (COPY manifests go
there: ``sparkify-ws-<account>-<region>-<cluster>``, private, its objects expiring after a week); the IAM
role Redshift assumes, with the S3 read policy of ``docs/iam/redshift-s3-read.json``; a security group in
the default VPC open on the cluster's port to ``DWH_INGRESS_CIDR`` only; the provisioned cluster; waits
until it is available; then writes the Airflow connection ``redshift`` and the Variables
``sparkify_source`` and ``sparkify_workspace`` to the env file (mode 0600, git-ignored) as ``export``
lines, and beside it ``airflow-policy.json``: docs/iam/airflow-policy.json filled in for this cluster, to
attach to the role Airflow runs as. ``down`` deletes the cluster (final snapshot as configured), waits for
it to go, deletes the security group, the role and the workspace bucket it created (with its objects; a
configured WORKSPACE is never deleted), and removes both files. Both are idempotent: each step looks
before it acts, so a second run, or ``down`` before ``up``, changes nothing and succeeds.

Everything the script creates is tagged ``sparkify:provisioned-by``; a role, group, cluster or bucket of
the same name without that tag is never changed or deleted (the script stops and says so).

Credentials come from boto3's chain (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``..., ``~/.aws``, an instance
role). ``SPARKIFY_AWS_ENDPOINT_URL`` sends every call to an emulator instead of AWS. The master
password is never printed, logged or put in an exception message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import boto3
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dwh_config import ConfigError, DwhConfig, S3Location, load, render_policy

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
IAM_DOCS = ROOT / "docs" / "iam"
ENDPOINT_ENV = "SPARKIFY_AWS_ENDPOINT_URL"
TAG_KEY = "sparkify:provisioned-by"
TAG_VALUE = "scripts/redshift_provision.py"
POLICY_NAME = "sparkify-redshift-s3-read"
WORKSPACE_PREFIX = "manifests/"
WORKSPACE_EXPIRY_DAYS = 7  # a failed unit's manifest stays for inspection, then goes
AIRFLOW_POLICY_FILE = "airflow-policy.json"  # written beside the env file


class ProvisionError(RuntimeError):
    """Provisioning cannot go on; the message says what to do."""


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _ours(tags: list[dict] | None) -> bool:
    return any(tag.get("Key") == TAG_KEY and tag.get("Value") == TAG_VALUE for tag in tags or [])


def _say(message: str) -> None:
    print(message, flush=True)


class Provisioner:
    """The IAM role, security group and cluster of one ``dwh.cfg``, brought up or torn down."""

    def __init__(self, config: DwhConfig, *, timeout: float, poll: float) -> None:
        self.config = config
        self.timeout = timeout
        self.poll = poll
        session = boto3.Session(region_name=config.region)
        endpoint = os.environ.get(ENDPOINT_ENV) or None
        self.iam = session.client("iam", endpoint_url=endpoint)
        self.ec2 = session.client("ec2", endpoint_url=endpoint)
        self.redshift = session.client("redshift", endpoint_url=endpoint)
        self.sts = session.client("sts", endpoint_url=endpoint)
        self.s3 = session.client("s3", endpoint_url=endpoint)

    def account_id(self) -> str:
        return self.sts.get_caller_identity()["Account"]

    # -- IAM role ---------------------------------------------------------------------------------

    def _role(self) -> dict | None:
        try:
            role = self.iam.get_role(RoleName=self.config.iam_role_name)["Role"]
        except ClientError as error:
            if _code(error) == "NoSuchEntity":
                return None
            raise
        if "Tags" not in role:  # GetRole leaves the key out when a role has no tags
            role["Tags"] = self.iam.list_role_tags(RoleName=self.config.iam_role_name).get("Tags", [])
        return role

    def ensure_role(self) -> str:
        """The role Redshift assumes, its inline policy the rendered docs/iam/redshift-s3-read.json; its ARN."""
        name = self.config.iam_role_name
        trust = json.loads((IAM_DOCS / "redshift-trust-policy.json").read_text())
        policy = render_policy(json.loads((IAM_DOCS / "redshift-s3-read.json").read_text()), self.config)
        role = self._role()
        if role is None:
            role = self.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description="Sparkify: Redshift reads the source (and workspace) in S3 for COPY",
                Tags=[{"Key": TAG_KEY, "Value": TAG_VALUE}],
            )["Role"]
            self.iam.get_waiter("role_exists").wait(RoleName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 15})
            _say(f"IAM role {name}: created ({role['Arn']})")
        elif not _ours(role.get("Tags")):
            raise ProvisionError(
                f"IAM role {name} exists but was not created by this script: choose another DWH_IAM_ROLE_NAME"
            )
        else:
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            _say(f"IAM role {name}: exists ({role['Arn']})")
        # put_role_policy replaces the policy of that name: the inline policy is always the file's
        self.iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        _say(f"IAM role {name}: policy {POLICY_NAME} from docs/iam/redshift-s3-read.json")
        return role["Arn"]

    def delete_role(self) -> bool:
        """Delete the role and its policies; False when a role of that name is not ours."""
        name = self.config.iam_role_name
        role = self._role()
        if role is None:
            _say(f"IAM role {name}: absent")
            return True
        if not _ours(role.get("Tags")):
            _say(f"IAM role {name}: not created by this script, left alone")
            return False
        for policy_name in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            self.iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for attached in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            self.iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        for profile in self.iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
            self.iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=name
            )
        self.iam.delete_role(RoleName=name)
        _say(f"IAM role {name}: deleted")
        return True

    # -- workspace bucket -------------------------------------------------------------------------

    def workspace_bucket(self) -> str:
        """The bucket ``up`` makes when WORKSPACE is empty: one per account, region and cluster."""
        name = f"sparkify-ws-{self.account_id()}-{self.config.region}-{self.config.cluster_identifier}"
        return name[:63].rstrip("-.").lower()

    def _bucket_tags(self, bucket: str) -> list[dict] | None:
        """The bucket's tags; None when it does not exist. A bucket of another account is not ours."""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchBucket", "NotFound"):
                return None
            if _code(error) in ("403", "AccessDenied"):
                return []
            raise
        try:
            return self.s3.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
        except ClientError as error:
            if _code(error) == "NoSuchTagSet":
                return []
            raise

    def ensure_workspace(self) -> S3Location:
        """The workspace bucket for COPY manifests, in the cluster's region (one COPY reads the manifest
        and the source in one region): private, tagged, objects expiring after a week."""
        bucket = self.workspace_bucket()
        tags = self._bucket_tags(bucket)
        if tags is None:
            arguments: dict = {"Bucket": bucket}
            if self.config.region != "us-east-1":
                arguments["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}
            self.s3.create_bucket(**arguments)
            self.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": TAG_KEY, "Value": TAG_VALUE}]})
            _say(f"workspace bucket {bucket}: created in {self.config.region}")
        elif not _ours(tags):
            raise ProvisionError(
                f"bucket {bucket} exists but was not created by this script: set [S3] WORKSPACE to a bucket of yours"
            )
        else:
            _say(f"workspace bucket {bucket}: exists")
        self.s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "sparkify-manifests-expire",
                        "Filter": {"Prefix": WORKSPACE_PREFIX},
                        "Status": "Enabled",
                        "Expiration": {"Days": WORKSPACE_EXPIRY_DAYS},
                    }
                ]
            },
        )
        return S3Location(bucket, WORKSPACE_PREFIX)

    def delete_workspace(self) -> bool:
        """Delete the workspace bucket ``up`` made, with its objects; False when that name is not ours."""
        bucket = self.workspace_bucket()
        tags = self._bucket_tags(bucket)
        if tags is None:
            _say(f"workspace bucket {bucket}: absent")
            return True
        if not _ours(tags):
            _say(f"workspace bucket {bucket}: not created by this script, left alone")
            return False
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if doomed:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        self.s3.delete_bucket(Bucket=bucket)
        _say(f"workspace bucket {bucket}: deleted")
        return True

    # -- security group ---------------------------------------------------------------------------

    def _default_vpc(self) -> str:
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise ProvisionError(f"no default VPC in {self.config.region}: create one (aws ec2 create-default-vpc)")
        return vpcs[0]["VpcId"]

    def _group(self, vpc_id: str) -> dict | None:
        groups = self.ec2.describe_security_groups(
            Filters=[
                {"Name": "group-name", "Values": [self.config.security_group_name]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ]
        )["SecurityGroups"]
        return groups[0] if groups else None

    def ensure_security_group(self) -> str:
        """A group of our own whose only ingress is the cluster's port from the configured CIDR."""
        name, port, cidr = self.config.security_group_name, self.config.port, self.config.ingress_cidr
        vpc_id = self._default_vpc()
        group = self._group(vpc_id)
        if group is None:
            group_id = self.ec2.create_security_group(
                GroupName=name,
                Description=f"Sparkify Redshift {self.config.cluster_identifier}: port {port} from one CIDR",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": TAG_KEY, "Value": TAG_VALUE}]}],
            )["GroupId"]
            _say(f"security group {name}: created ({group_id} in {vpc_id})")
            permissions: list[dict] = []
        elif not _ours(group.get("Tags")):
            raise ProvisionError(
                f"security group {name} exists but was not created by this script: set DWH_SECURITY_GROUP_NAME"
            )
        else:
            group_id, permissions = group["GroupId"], group.get("IpPermissions", [])
            _say(f"security group {name}: exists ({group_id})")
        wanted = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}]}
        present = False
        for permission in permissions:  # the group is ours: every rule but the wanted one goes
            rule = _revocable(permission)
            if rule == wanted:
                present = True
                continue
            self.ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[rule])
            _say(f"security group {name}: ingress {_describe_rule(rule)} revoked (not in dwh.cfg)")
        if not present:
            try:
                self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[wanted])
            except ClientError as error:
                if _code(error) != "InvalidPermission.Duplicate":
                    raise
        _say(f"security group {name}: ingress tcp {port} from {cidr}")
        return group_id

    def delete_security_group(self) -> bool:
        name = self.config.security_group_name
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        group = self._group(vpcs[0]["VpcId"]) if vpcs else None
        if group is None:
            _say(f"security group {name}: absent")
            return True
        if not _ours(group.get("Tags")):
            _say(f"security group {name}: not created by this script, left alone")
            return False

        def attempt() -> bool:
            try:
                self.ec2.delete_security_group(GroupId=group["GroupId"])
            except ClientError as error:
                # the deleted cluster's network interfaces can hold the group for a while
                if _code(error) == "DependencyViolation":
                    return False
                if _code(error) == "InvalidGroup.NotFound":
                    return True
                raise
            return True

        self._until(attempt, f"security group {name} still in use")
        _say(f"security group {name}: deleted ({group['GroupId']})")
        return True

    # -- cluster ----------------------------------------------------------------------------------

    def _cluster(self) -> dict | None:
        try:
            return self.redshift.describe_clusters(ClusterIdentifier=self.config.cluster_identifier)["Clusters"][0]
        except ClientError as error:
            if _code(error) == "ClusterNotFound":
                return None
            raise

    def ensure_cluster(self, role_arn: str, group_id: str) -> dict:
        """The cluster, created if absent, checked against dwh.cfg if present, waited for; its description."""
        config = self.config
        cluster = self._cluster()
        if cluster is None:
            arguments = {
                "ClusterIdentifier": config.cluster_identifier,
                "ClusterType": config.cluster_type,
                "NodeType": config.node_type,
                "DBName": config.db_name,
                "MasterUsername": config.db_user,
                "MasterUserPassword": config.db_password,
                "Port": config.port,
                "IamRoles": [role_arn],
                "VpcSecurityGroupIds": [group_id],
                "PubliclyAccessible": config.publicly_accessible,
                "Encrypted": True,
                "Tags": [{"Key": TAG_KEY, "Value": TAG_VALUE}],
            }
            if config.cluster_type == "multi-node":
                arguments["NumberOfNodes"] = config.num_nodes
            self._until(lambda: self._create_cluster(arguments), "the new IAM role never became usable by Redshift")
            _say(f"cluster {config.cluster_identifier}: creating ({config.num_nodes} x {config.node_type})")
        elif not _ours(cluster.get("Tags")):
            raise ProvisionError(
                f"cluster {config.cluster_identifier} exists but was not created by this script: "
                "set another DWH_CLUSTER_IDENTIFIER"
            )
        else:
            if cluster["ClusterStatus"] == "deleting":
                raise ProvisionError(
                    f"cluster {config.cluster_identifier} is being deleted: run up again once it is gone"
                )
            drift = _drift(cluster, config, role_arn, group_id)
            if drift:
                raise ProvisionError(
                    f"cluster {config.cluster_identifier} exists but differs from dwh.cfg ({'; '.join(drift)}): "
                    "change dwh.cfg back, or resize/modify the cluster, or run down then up"
                )
            _say(f"cluster {config.cluster_identifier}: exists ({cluster['ClusterStatus']})")
        self._wait("cluster_available", "available")
        return self._cluster()

    def _create_cluster(self, arguments: dict) -> bool:
        try:
            self.redshift.create_cluster(**arguments)
        except ClientError as error:
            # IAM is eventually consistent: a role created seconds ago can be unknown to Redshift
            if _code(error) == "InvalidParameterValue" and "role" in str(error).lower():
                return False
            raise
        return True

    def delete_cluster(self) -> bool:
        config = self.config
        cluster = self._cluster()
        if cluster is None:
            _say(f"cluster {config.cluster_identifier}: absent")
            return True
        if not _ours(cluster.get("Tags")):
            _say(f"cluster {config.cluster_identifier}: not created by this script, left alone")
            return False
        if cluster["ClusterStatus"] in {"creating", "modifying", "resizing", "rebooting"}:
            self._wait("cluster_available", "available before deletion")
        if cluster["ClusterStatus"] != "deleting":
            arguments: dict = {"ClusterIdentifier": config.cluster_identifier}
            if config.skip_final_snapshot:
                arguments["SkipFinalClusterSnapshot"] = True
            else:
                snapshot = f"{config.cluster_identifier}-final-{datetime.now(UTC):%Y%m%d%H%M%S}"
                arguments.update(SkipFinalClusterSnapshot=False, FinalClusterSnapshotIdentifier=snapshot)
                _say(f"cluster {config.cluster_identifier}: final snapshot {snapshot}")
            try:
                self.redshift.delete_cluster(**arguments)
            except ClientError as error:
                if _code(error) != "ClusterNotFound":
                    raise
        _say(f"cluster {config.cluster_identifier}: deleting")
        self._wait("cluster_deleted", "deleted")
        _say(f"cluster {config.cluster_identifier}: deleted")
        return True

    def check_names(self) -> None:
        """Stop before changing anything when a configured name belongs to something this script did not make."""
        config = self.config
        found = {
            f"IAM role {config.iam_role_name}": self._role(),
            f"cluster {config.cluster_identifier}": self._cluster(),
        }
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        found[f"security group {config.security_group_name}"] = self._group(vpcs[0]["VpcId"]) if vpcs else None
        foreign = [name for name, resource in found.items() if resource is not None and not _ours(resource.get("Tags"))]
        if foreign:
            raise ProvisionError(
                f"not created by this script: {', '.join(foreign)}. Nothing was changed; choose other names in "
                "dwh.cfg (DWH_IAM_ROLE_NAME, DWH_CLUSTER_IDENTIFIER, DWH_SECURITY_GROUP_NAME)"
            )

    # -- waiting ----------------------------------------------------------------------------------

    def _wait(self, waiter_name: str, state: str) -> None:
        attempts = max(1, math.ceil(self.timeout / self.poll))
        try:
            self.redshift.get_waiter(waiter_name).wait(
                ClusterIdentifier=self.config.cluster_identifier,
                WaiterConfig={"Delay": self.poll, "MaxAttempts": attempts},
            )
        except WaiterError as error:
            last = (error.last_response or {}).get("Clusters", [{}])[0].get("ClusterStatus", "unknown")
            raise ProvisionError(
                f"cluster {self.config.cluster_identifier} not {state} after {self.timeout:.0f} s "
                f"(status {last}); run the same command again to keep waiting"
            ) from None

    def _until(self, attempt: Callable[[], bool], failure: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not attempt():
            if time.monotonic() > deadline:
                raise ProvisionError(f"{failure} after {self.timeout:.0f} s")
            time.sleep(self.poll)


def _revocable(permission: dict) -> dict:
    """An ingress permission as DescribeSecurityGroups gives it, in the shape Revoke/Authorize take."""
    rule: dict = {key: permission[key] for key in ("IpProtocol", "FromPort", "ToPort") if key in permission}
    shapes = {
        "IpRanges": "CidrIp",
        "Ipv6Ranges": "CidrIpv6",
        "UserIdGroupPairs": "GroupId",
        "PrefixListIds": "PrefixListId",
    }
    for key, field in shapes.items():
        items = [{field: item[field]} for item in permission.get(key) or [] if field in item]
        if items:
            rule[key] = items
    return rule


def _describe_rule(rule: dict) -> str:
    ports = f"{rule.get('FromPort', 'all')}-{rule.get('ToPort', 'all')}"
    sources = [next(iter(item.values())) for key, items in rule.items() if isinstance(items, list) for item in items]
    return f"{rule['IpProtocol']} {ports} from {', '.join(sources)}"


def _drift(cluster: dict, config: DwhConfig, role_arn: str, group_id: str) -> list[str]:
    """What an existing cluster has that dwh.cfg does not say; up never changes a cluster silently."""
    found = {
        "DWH_NODE_TYPE": (cluster.get("NodeType"), config.node_type),
        "DWH_NUM_NODES": (cluster.get("NumberOfNodes"), config.num_nodes),
        "DWH_DB": (cluster.get("DBName"), config.db_name),
        "DWH_DB_USER": (cluster.get("MasterUsername"), config.db_user),
        "DWH_PORT": ((cluster.get("Endpoint") or {}).get("Port", config.port), config.port),
    }
    drift = [f"{key}: cluster has {have}, dwh.cfg says {want}" for key, (have, want) in found.items() if have != want]
    if role_arn not in {role.get("IamRoleArn") for role in cluster.get("IamRoles", [])}:
        drift.append(f"IAM role {config.iam_role_name} not attached")
    if group_id not in {group.get("VpcSecurityGroupId") for group in cluster.get("VpcSecurityGroups", [])}:
        drift.append(f"security group {config.security_group_name} not attached")
    return drift


def connection_uri(config: DwhConfig, host: str, port: int, role_arn: str) -> str:
    """The Airflow connection ``redshift`` as a URI; every user-controlled part percent-encoded."""

    def enc(value: str) -> str:
        return quote(value, safe="")

    return (
        f"redshift://{enc(config.db_user)}:{enc(config.db_password)}@{host}:{port}/{enc(config.db_name)}"
        f"?iam_role={enc(role_arn)}"
    )


def write_env_file(path: Path, lines: dict[str, str], header: str) -> None:
    """``export NAME=value`` lines, written atomically to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(header)
            for name, value in lines.items():
                handle.write(f"export {name}={shlex.quote(value)}\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def up(config: DwhConfig, env_file: Path, *, timeout: float, poll: float) -> None:
    provisioner = Provisioner(config, timeout=timeout, poll=poll)
    provisioner.check_names()
    if config.workspace is None:  # stage_songs needs one for its manifests: the script makes it
        config = dataclasses.replace(config, workspace=provisioner.ensure_workspace())
        provisioner.config = config
    role_arn = provisioner.ensure_role()
    group_id = provisioner.ensure_security_group()
    cluster = provisioner.ensure_cluster(role_arn, group_id)
    endpoint = cluster["Endpoint"]
    _say(f"cluster {config.cluster_identifier}: available at {endpoint['Address']}:{endpoint['Port']}")
    variables = {
        "AIRFLOW_CONN_REDSHIFT": connection_uri(config, endpoint["Address"], endpoint["Port"], role_arn),
        "AIRFLOW_VAR_SPARKIFY_SOURCE": config.source.url,
    }
    if config.workspace:
        variables["AIRFLOW_VAR_SPARKIFY_WORKSPACE"] = config.workspace.url
    header = (
        f"# Written by scripts/redshift_provision.py up, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, for cluster "
        f"{config.cluster_identifier}.\n# Holds the master password: keep it private. Use: source {env_file.name}\n"
    )
    write_env_file(env_file, variables, header)
    _say(f"Airflow connection and Variable written to {env_file} (mode 0600); `source` it before starting Airflow")
    template = json.loads((IAM_DOCS / "airflow-policy.json").read_text())
    policy = render_policy(template, config, account_id=provisioner.account_id())
    policy_file = env_file.with_name(AIRFLOW_POLICY_FILE)
    policy_file.write_text(json.dumps(policy, indent=2) + "\n")
    _say(f"IAM policy for Airflow's own role (attach it to the role or user Airflow runs as) written to {policy_file}")


def down(config: DwhConfig, env_file: Path, *, timeout: float, poll: float) -> bool:
    """Tear down; False when a resource of a configured name was not ours and was left alone."""
    provisioner = Provisioner(config, timeout=timeout, poll=poll)
    cluster_gone = provisioner.delete_cluster()
    # the group and the role stay while a cluster that is not ours may still use them
    group_gone = provisioner.delete_security_group() if cluster_gone else False
    role_gone = provisioner.delete_role() if cluster_gone else False
    # a configured WORKSPACE is the user's own: only the bucket up made is deleted
    workspace_gone = provisioner.delete_workspace() if cluster_gone and config.workspace is None else True
    for written in (env_file, env_file.with_name(AIRFLOW_POLICY_FILE)):
        if written.exists():
            written.unlink()
            _say(f"{written}: removed")
    return cluster_gone and group_gone and role_gone and workspace_gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("SPARKIFY_DWH_CFG", ROOT / "config" / "dwh.cfg")),
        help="the seed's dwh.cfg (default config/dwh.cfg, or $SPARKIFY_DWH_CFG)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(os.environ.get("SPARKIFY_HOME", ROOT / ".local")) / "redshift.env",
        help="where up writes the Airflow connection (default .local/redshift.env)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the cluster (default 1800)")
    parser.add_argument("--poll", type=float, default=30, help="seconds between status checks (default 30)")
    args = parser.parse_args(argv)
    secret = os.environ.get("SPARKIFY_DWH_DB_PASSWORD", "")
    try:
        config = load(args.config, dict(os.environ))
        secret = config.db_password
        if args.command == "up":
            up(config, args.env_file, timeout=args.timeout, poll=args.poll)
            return 0
        return 0 if down(config, args.env_file, timeout=args.timeout, poll=args.poll) else 1
    except (ConfigError, ProvisionError, ClientError, BotoCoreError) as error:
        message = str(error)
        if secret:  # belt and braces: no path above puts the password in a message
            message = message.replace(secret, "***")
        print(f"redshift_provision {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
