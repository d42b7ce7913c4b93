"""``make redshift-up`` / ``redshift-down`` end to end against moto's IAM, EC2 and Redshift over HTTP.

The script runs as a user runs it (a subprocess, its stdout and stderr captured); what it did is read
back from the emulator with plain boto3, and the connection file is read by a real shell and parsed by
Airflow's own ``Connection``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from support.moto_server import CREDENTIALS, moto_server, reset

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "redshift_provision.py"
REGION = "us-west-2"
# every character that must be percent-encoded in a URI, and Redshift accepts in a password
PASSWORD = "Sp4rk:fy%Pw#1?&+=planted"
CLUSTER = "sparkify-test"
ROLE = "sparkifyTestRedshiftS3"
GROUP = "sparkify-test-ingress"
CIDR = "203.0.113.10/32"
#: the bucket up makes when [S3] WORKSPACE is empty (moto's account is 123456789012)
WORKSPACE = f"sparkify-ws-123456789012-{REGION}-{CLUSTER}"


def write_config(path: Path, **overrides: str) -> Path:
    """A dwh.cfg in the seed's layout; ``overrides`` replace [DWH] keys by name."""
    dwh = {
        "DWH_CLUSTER_TYPE": "multi-node",
        "DWH_NUM_NODES": "2",
        "DWH_NODE_TYPE": "dc2.large",
        "DWH_IAM_ROLE_NAME": ROLE,
        "DWH_CLUSTER_IDENTIFIER": CLUSTER,
        "DWH_DB": "sparkify",
        "DWH_DB_USER": "sparkify_admin",
        "DWH_DB_PASSWORD": PASSWORD,
        "DWH_PORT": "5439",
        "DWH_INGRESS_CIDR": CIDR,
        **overrides,
    }
    lines = ["[AWS]", "KEY=", "SECRET=", f"REGION={REGION}", "", "[DWH]"]
    lines += [f"{key}={value}" for key, value in dwh.items()]
    lines += [
        "",
        "[CLUSTER]",
        "HOST=''",
        "DB_NAME=''",
        "DB_PORT=5439",
        "",
        "[IAM_ROLE]",
        "ARN=''",
        "",
        "[S3]",
        "LOG_DATA='s3://udacity-dend/log_data'",
        "LOG_JSONPATH='s3://udacity-dend/log_json_path.json'",
        "SONG_DATA='s3://udacity-dend/song_data'",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def aws_endpoint() -> str:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(aws_endpoint: str) -> dict:
    """Empty emulated services, and boto3 clients on them to look at what the script did."""
    reset(aws_endpoint)
    session = boto3.Session(
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return {name: session.client(name, endpoint_url=aws_endpoint) for name in ("iam", "ec2", "redshift", "s3")}


@pytest.fixture
def provision(aws_endpoint: str, tmp_path: Path):
    """Run the script as a user would; return (returncode, stdout + stderr)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SPARKIFY_DWH"))}
    env.update(
        CREDENTIALS,
        SPARKIFY_AWS_ENDPOINT_URL=aws_endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )

    def run(command: str, config: Path, env_file: Path, **extra_env: str) -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, str(SCRIPT), command, "--config", str(config), "--env-file", str(env_file), "--poll", "1"],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.returncode, result.stdout + result.stderr

    return run


def exported(env_file: Path, name: str) -> str:
    """What a shell that sources the file sees in ``name``."""
    result = subprocess.run(
        ["bash", "-c", f'source "$1" && printf %s "${{{name}}}"', "bash", str(env_file)],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def group_of(ec2, name: str = GROUP) -> dict | None:
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]
    assert len(groups) <= 1
    return groups[0] if groups else None


def ingress(group: dict) -> list[tuple[str, int, int, str]]:
    return sorted(
        (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), ip_range["CidrIp"])
        for rule in group["IpPermissions"]
        for ip_range in rule.get("IpRanges", [])
    )


def clusters(redshift) -> list[dict]:
    return redshift.describe_clusters()["Clusters"]


def test_up_creates_role_group_cluster_and_a_private_connection_file(aws, provision, tmp_path):
    from airflow.models.connection import Connection

    config, env_file = write_config(tmp_path / "dwh.cfg"), tmp_path / "local" / "redshift.env"
    returncode, output = provision("up", config, env_file)
    assert returncode == 0, output
    assert PASSWORD not in output and "Sp4rk" not in output

    role = aws["iam"].get_role(RoleName=ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "redshift.amazonaws.com"}
    names = aws["iam"].list_role_policies(RoleName=ROLE)["PolicyNames"]
    assert len(names) == 1
    policy = aws["iam"].get_role_policy(RoleName=ROLE, PolicyName=names[0])["PolicyDocument"]
    grants = {(s["Action"], s["Resource"]) for s in policy["Statement"] if s["Effect"] == "Allow"}
    # the seed's source is s3://udacity-dend, and no workspace is configured: up made one, Redshift reads both
    assert grants == {
        ("s3:ListBucket", "arn:aws:s3:::udacity-dend"),
        ("s3:GetObject", "arn:aws:s3:::udacity-dend/*"),
        ("s3:ListBucket", f"arn:aws:s3:::{WORKSPACE}"),
        ("s3:GetObject", f"arn:aws:s3:::{WORKSPACE}/manifests/*"),
    }
    # the workspace bucket: in the cluster's region, private, tagged as the script's, manifests expiring
    location = aws["s3"].get_bucket_location(Bucket=WORKSPACE)["LocationConstraint"]
    assert location == REGION
    blocked = aws["s3"].get_public_access_block(Bucket=WORKSPACE)["PublicAccessBlockConfiguration"]
    assert all(blocked.values()) and len(blocked) == 4
    tags = aws["s3"].get_bucket_tagging(Bucket=WORKSPACE)["TagSet"]
    assert {"Key": "sparkify:provisioned-by", "Value": "scripts/redshift_provision.py"} in tags
    [rule] = aws["s3"].get_bucket_lifecycle_configuration(Bucket=WORKSPACE)["Rules"]
    assert (rule["Filter"]["Prefix"], rule["Expiration"]["Days"], rule["Status"]) == ("manifests/", 7, "Enabled")

    [cluster] = clusters(aws["redshift"])
    assert cluster["ClusterIdentifier"] == CLUSTER
    assert cluster["ClusterStatus"] == "available"
    assert (cluster["NodeType"], cluster["NumberOfNodes"]) == ("dc2.large", 2)
    assert (cluster["DBName"], cluster["MasterUsername"]) == ("sparkify", "sparkify_admin")
    assert [r["IamRoleArn"] for r in cluster["IamRoles"]] == [role["Arn"]]
    group = group_of(aws["ec2"])
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [group["GroupId"]]
    assert ingress(group) == [("tcp", 5439, 5439, CIDR)]

    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    connection = Connection(conn_id="redshift", uri=exported(env_file, "AIRFLOW_CONN_REDSHIFT"))
    assert connection.conn_type == "redshift"
    assert (connection.host, connection.port) == (cluster["Endpoint"]["Address"], cluster["Endpoint"]["Port"])
    assert (connection.schema, connection.login, connection.password) == ("sparkify", "sparkify_admin", PASSWORD)
    assert connection.extra_dejson == {"iam_role": role["Arn"]}
    assert exported(env_file, "AIRFLOW_VAR_SPARKIFY_SOURCE") == "s3://udacity-dend"
    assert exported(env_file, "AIRFLOW_VAR_SPARKIFY_WORKSPACE") == f"s3://{WORKSPACE}/manifests"
    assert f"written to {env_file}" in output

    # Airflow's own policy, filled in for this account and cluster
    policy = json.loads((env_file.parent / "airflow-policy.json").read_text())
    credentials = next(s for s in policy["Statement"] if s["Action"] == "redshift:GetClusterCredentials")
    assert f"arn:aws:redshift:{REGION}:123456789012:dbuser:{CLUSTER}/sparkify_admin" in credentials["Resource"]


def test_up_twice_keeps_one_of_everything(aws, provision, tmp_path):
    config, env_file = write_config(tmp_path / "dwh.cfg"), tmp_path / "redshift.env"
    assert provision("up", config, env_file)[0] == 0
    [first] = clusters(aws["redshift"])
    returncode, output = provision("up", config, env_file)
    assert returncode == 0, output
    assert "exists" in output and "created" not in output

    [second] = clusters(aws["redshift"])
    assert second["ClusterCreateTime"] == first["ClusterCreateTime"]
    assert [r["RoleName"] for r in aws["iam"].list_roles()["Roles"]].count(ROLE) == 1
    assert len(aws["iam"].list_role_policies(RoleName=ROLE)["PolicyNames"]) == 1
    assert ingress(group_of(aws["ec2"])) == [("tcp", 5439, 5439, CIDR)]
    assert Path(env_file).exists()


def test_up_with_another_cidr_replaces_the_ingress_rule(aws, provision, tmp_path):
    env_file = tmp_path / "redshift.env"
    assert provision("up", write_config(tmp_path / "dwh.cfg"), env_file)[0] == 0
    returncode, output = provision(
        "up", write_config(tmp_path / "dwh.cfg", DWH_INGRESS_CIDR="198.51.100.0/24"), env_file
    )
    assert returncode == 0, output
    assert ingress(group_of(aws["ec2"])) == [("tcp", 5439, 5439, "198.51.100.0/24")]


def test_down_removes_everything_and_is_idempotent(aws, provision, tmp_path):
    config, env_file = write_config(tmp_path / "dwh.cfg"), tmp_path / "redshift.env"
    returncode, output = provision("down", config, env_file)  # before any up
    assert returncode == 0, output
    assert provision("up", config, env_file)[0] == 0

    # a manifest a failed unit left behind goes with the bucket
    aws["s3"].put_object(Bucket=WORKSPACE, Key="manifests/staging_songs/left.manifest", Body=b"{}")
    returncode, output = provision("down", config, env_file)
    assert returncode == 0, output
    assert PASSWORD not in output
    assert clusters(aws["redshift"]) == []
    with pytest.raises(ClientError, match="NoSuchEntity"):
        aws["iam"].get_role(RoleName=ROLE)
    assert group_of(aws["ec2"]) is None
    assert WORKSPACE not in {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
    assert not env_file.exists()
    assert not (env_file.parent / "airflow-policy.json").exists()
    assert aws["redshift"].describe_cluster_snapshots()["Snapshots"] == []  # final snapshot skipped by default

    returncode, output = provision("down", config, env_file)
    assert returncode == 0, output


def test_down_keeps_a_final_snapshot_when_configured(aws, provision, tmp_path):
    config = write_config(tmp_path / "dwh.cfg", DWH_SKIP_FINAL_SNAPSHOT="false")
    env_file = tmp_path / "redshift.env"
    assert provision("up", config, env_file)[0] == 0
    assert provision("down", config, env_file)[0] == 0
    [snapshot] = aws["redshift"].describe_cluster_snapshots()["Snapshots"]
    assert snapshot["ClusterIdentifier"] == CLUSTER
    assert snapshot["SnapshotIdentifier"].startswith(f"{CLUSTER}-final-")
    assert clusters(aws["redshift"]) == []


def test_a_role_the_script_did_not_create_is_never_touched(aws, provision, tmp_path):
    trust = {"Version": "2012-10-17", "Statement": []}
    aws["iam"].create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    config, env_file = write_config(tmp_path / "dwh.cfg"), tmp_path / "redshift.env"

    returncode, output = provision("up", config, env_file)
    assert returncode == 2
    assert f"not created by this script: IAM role {ROLE}. Nothing was changed" in output
    assert clusters(aws["redshift"]) == []
    assert aws["iam"].list_role_policies(RoleName=ROLE)["PolicyNames"] == []
    assert not env_file.exists()

    returncode, output = provision("down", config, env_file)
    assert returncode == 1
    assert "left alone" in output
    assert aws["iam"].get_role(RoleName=ROLE)["Role"]["RoleName"] == ROLE


def test_a_password_redshift_refuses_stops_before_any_call_and_is_not_echoed(aws, provision, tmp_path):
    weak = "alllowercase@9"
    returncode, output = provision("up", write_config(tmp_path / "dwh.cfg", DWH_DB_PASSWORD=weak), tmp_path / "e")
    assert returncode == 2
    assert "DWH_DB_PASSWORD: Redshift needs an upper-case letter" in output
    assert weak not in output
    assert aws["iam"].list_roles()["Roles"] == []


def test_the_password_from_the_environment_wins_over_the_file(aws, provision, tmp_path):
    from airflow.models.connection import Connection

    from_env = "Fr0m-The-Environment"
    env_file = tmp_path / "redshift.env"
    returncode, output = provision(
        "up", write_config(tmp_path / "dwh.cfg"), env_file, SPARKIFY_DWH_DB_PASSWORD=from_env
    )
    assert returncode == 0, output
    assert from_env not in output
    connection = Connection(conn_id="redshift", uri=exported(env_file, "AIRFLOW_CONN_REDSHIFT"))
    assert connection.password == from_env


def test_a_cluster_the_script_did_not_create_is_never_touched(aws, provision, tmp_path):
    aws["redshift"].create_cluster(
        ClusterIdentifier=CLUSTER,
        ClusterType="single-node",
        NodeType="dc2.large",
        MasterUsername="someone",
        MasterUserPassword="Some0nes-own",
    )
    config, env_file = write_config(tmp_path / "dwh.cfg"), tmp_path / "redshift.env"

    returncode, output = provision("up", config, env_file)
    assert returncode == 2
    assert f"not created by this script: cluster {CLUSTER}. Nothing was changed" in output
    assert aws["iam"].list_roles()["Roles"] == []
    assert group_of(aws["ec2"]) is None

    returncode, output = provision("down", config, env_file)
    assert returncode == 1
    [cluster] = clusters(aws["redshift"])
    assert (cluster["ClusterIdentifier"], cluster["MasterUsername"]) == (CLUSTER, "someone")


def test_up_refuses_to_adopt_a_cluster_that_differs_from_the_config(aws, provision, tmp_path):
    env_file = tmp_path / "redshift.env"
    assert provision("up", write_config(tmp_path / "dwh.cfg"), env_file)[0] == 0
    returncode, output = provision("up", write_config(tmp_path / "dwh.cfg", DWH_NUM_NODES="3"), env_file)
    assert returncode == 2
    assert "DWH_NUM_NODES: cluster has 2, dwh.cfg says 3" in output
    [cluster] = clusters(aws["redshift"])
    assert cluster["NumberOfNodes"] == 2


def test_a_configured_workspace_is_used_and_never_created_nor_deleted(aws, provision, tmp_path):
    aws["s3"].create_bucket(Bucket="my-own-work", CreateBucketConfiguration={"LocationConstraint": REGION})
    config = write_config(tmp_path / "dwh.cfg")
    config.write_text(config.read_text() + "WORKSPACE=s3://my-own-work/etl\n")  # [S3] is the last section
    env_file = tmp_path / "redshift.env"
    returncode, output = provision("up", config, env_file)
    assert returncode == 0, output
    assert exported(env_file, "AIRFLOW_VAR_SPARKIFY_WORKSPACE") == "s3://my-own-work/etl"
    buckets = {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
    assert WORKSPACE not in buckets
    assert provision("down", config, env_file)[0] == 0
    assert "my-own-work" in {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}


def test_a_workspace_bucket_the_script_did_not_create_is_never_touched(aws, provision, tmp_path):
    aws["s3"].create_bucket(Bucket=WORKSPACE, CreateBucketConfiguration={"LocationConstraint": REGION})
    config, env_file = write_config(tmp_path / "dwh.cfg"), tmp_path / "redshift.env"
    returncode, output = provision("up", config, env_file)
    assert returncode == 2
    assert f"bucket {WORKSPACE} exists but was not created by this script" in output
    assert clusters(aws["redshift"]) == []
    returncode, output = provision("down", config, env_file)
    assert returncode == 1 and "left alone" in output
    assert WORKSPACE in {b["Name"] for b in aws["s3"].list_buckets()["Buckets"]}
