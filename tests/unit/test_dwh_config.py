"""The seed's dwh.cfg read one to one (scripts/dwh_config.py), and the IAM documents of docs/iam/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dwh_config import ConfigError, load, render_policy

ROOT = Path(__file__).resolve().parents[2]
IAM = ROOT / "docs" / "iam"

# the seed's file as its authors wrote it: quoted values, [CLUSTER] filled in by hand
SEED = """
[AWS]
KEY=
SECRET=
REGION=us-west-2

[DWH]
DWH_CLUSTER_TYPE=multi-node
DWH_NUM_NODES=4
DWH_NODE_TYPE=dc2.large
DWH_IAM_ROLE_NAME=dwhRole
DWH_CLUSTER_IDENTIFIER=dwhCluster
DWH_DB=dwh
DWH_DB_USER=dwhuser
DWH_DB_PASSWORD=Passw0rd
DWH_PORT=5439
DWH_INGRESS_CIDR=203.0.113.0/24

[CLUSTER]
HOST='dwhcluster.abc.us-west-2.redshift.amazonaws.com'
DB_NAME='dwh'
DB_USER='dwhuser'
DB_PASSWORD='Passw0rd'
DB_PORT=5439

[IAM_ROLE]
ARN='arn:aws:iam::123456789012:role/dwhRole'

[S3]
LOG_DATA='s3://udacity-dend/log_data'
LOG_JSONPATH='s3://udacity-dend/log_json_path.json'
SONG_DATA='s3://udacity-dend/song_data'
"""


def cfg(tmp_path: Path, text: str = SEED, **replace: str) -> Path:
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "dwh.cfg"
    path.write_text(text)
    return path


def test_the_seeds_file_reads_as_written(tmp_path):
    config = load(cfg(tmp_path), {})
    assert config.region == "us-west-2"
    assert config.cluster_identifier == "dwhcluster"  # Redshift keeps identifiers in lower case
    assert (config.cluster_type, config.num_nodes, config.node_type) == ("multi-node", 4, "dc2.large")
    assert (config.db_name, config.db_user, config.port, config.db_password) == ("dwh", "dwhuser", 5439, "Passw0rd")
    assert (config.iam_role_name, config.ingress_cidr) == ("dwhRole", "203.0.113.0/24")
    assert config.source.url == "s3://udacity-dend"
    assert config.workspace is None
    assert config.security_group_name == "dwhcluster-ingress"
    assert config.skip_final_snapshot and config.publicly_accessible
    assert "Passw0rd" not in repr(config)


def test_cluster_keys_stand_in_for_empty_dwh_keys_and_must_agree_with_set_ones(tmp_path):
    config = load(cfg(tmp_path, **{"DWH_DB=dwh\n": "DWH_DB=\n", "DWH_DB_PASSWORD=Passw0rd": "DWH_DB_PASSWORD="}), {})
    assert (config.db_name, config.db_password) == ("dwh", "Passw0rd")
    with pytest.raises(ConfigError, match=r"\[DWH\] DWH_DB_USER and \[CLUSTER\] DB_USER disagree"):
        load(cfg(tmp_path, **{"DB_USER='dwhuser'": "DB_USER='other'"}), {})


def test_the_environment_password_wins_and_no_message_quotes_a_password(tmp_path):
    assert load(cfg(tmp_path), {"SPARKIFY_DWH_DB_PASSWORD": "Fr0mEnvironment"}).db_password == "Fr0mEnvironment"
    with pytest.raises(ConfigError) as refused:
        load(cfg(tmp_path), {"SPARKIFY_DWH_DB_PASSWORD": "no digits @ all"})
    assert "digit" in str(refused.value) and "no digits @ all" not in str(refused.value)


def test_credentials_in_the_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[AWS\] SECRET is set"):
        load(cfg(tmp_path, **{"SECRET=": "SECRET=abc"}), {})


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"DWH_NUM_NODES=4": "DWH_NUM_NODES=1"}, "multi-node cluster has at least 2 nodes"),
        ({"DWH_CLUSTER_TYPE=multi-node": "DWH_CLUSTER_TYPE=single-node"}, "single-node cluster has 1 node"),
        ({"DWH_INGRESS_CIDR=203.0.113.0/24": "DWH_INGRESS_CIDR=203.0.113.7/24"}, "not an IPv4 network"),
        ({"DWH_INGRESS_CIDR=203.0.113.0/24": "DWH_INGRESS_CIDR="}, r"\[DWH\] DWH_INGRESS_CIDR is required"),
        ({"s3://udacity-dend/song_data": "s3://other/song_data"}, "SONG_DATA: must be s3://udacity-dend/song_data"),
        ({"s3://udacity-dend/log_data": "s3://udacity-dend/raw/logs"}, "LOG_DATA: must end with /log_data"),
        ({"DWH_CLUSTER_IDENTIFIER=dwhCluster": "DWH_CLUSTER_IDENTIFIER=dwh--cluster"}, "DWH_CLUSTER_IDENTIFIER"),
    ],
)
def test_what_redshift_or_the_pipeline_would_refuse_is_refused_up_front(tmp_path, replace, message):
    with pytest.raises(ConfigError, match=message):
        load(cfg(tmp_path, **replace), {})


def test_a_source_below_a_prefix_keeps_its_prefix(tmp_path):
    text = SEED.replace("udacity-dend/", "my-bucket/sparkify/raw/")
    assert load(cfg(tmp_path, text), {}).source.url == "s3://my-bucket/sparkify/raw"


def test_redshift_reads_the_source_and_the_workspace_only_when_one_is_configured(tmp_path):
    document = json.loads((IAM / "redshift-s3-read.json").read_text())
    without = render_policy(document, load(cfg(tmp_path), {}))
    assert {s["Resource"] for s in without["Statement"]} == {"arn:aws:s3:::udacity-dend", "arn:aws:s3:::udacity-dend/*"}

    config = load(cfg(tmp_path, SEED + "WORKSPACE=s3://sparkify-work/manifests\n"), {})
    with_workspace = render_policy(document, config)
    assert {(s["Action"], s["Resource"]) for s in with_workspace["Statement"]} == {
        ("s3:ListBucket", "arn:aws:s3:::udacity-dend"),
        ("s3:GetObject", "arn:aws:s3:::udacity-dend/*"),
        ("s3:ListBucket", "arn:aws:s3:::sparkify-work"),
        ("s3:GetObject", "arn:aws:s3:::sparkify-work/manifests/*"),
    }
    prefixes = [s["Condition"]["StringLike"]["s3:prefix"] for s in with_workspace["Statement"] if "Condition" in s]
    assert prefixes == [["*"], ["manifests/*"]]


def test_airflows_policy_writes_only_to_the_workspace_and_every_placeholder_has_a_value(tmp_path):
    document = json.loads((IAM / "airflow-policy.json").read_text())
    config = load(cfg(tmp_path, SEED + "WORKSPACE=s3://sparkify-work/manifests\n"), {})
    with pytest.raises(ConfigError, match="placeholder without a value"):
        render_policy(document, config)  # the account id is not in dwh.cfg
    policy = render_policy(document, config, account_id="123456789012")
    writes = {
        resource
        for s in policy["Statement"]
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if action in {"s3:PutObject", "s3:DeleteObject"}
        for resource in [s["Resource"]]
    }
    assert writes == {"arn:aws:s3:::sparkify-work/manifests/*"}
    credentials = next(s for s in policy["Statement"] if s["Action"] == "redshift:GetClusterCredentials")
    assert credentials["Resource"] == [
        "arn:aws:redshift:us-west-2:123456789012:dbuser:dwhcluster/dwhuser",
        "arn:aws:redshift:us-west-2:123456789012:dbname:dwhcluster/dwh",
    ]
    # without a workspace Airflow gets no write permission at all
    read_only = render_policy(document, load(cfg(tmp_path), {}), account_id="123456789012")
    assert not any("s3:PutObject" in s["Action"] for s in read_only["Statement"])


def test_the_committed_example_holds_placeholders_only(tmp_path):
    example = (ROOT / "config" / "dwh.cfg.example").read_text()
    assert "DWH_DB_PASSWORD = <password>" in example
    with pytest.raises(ConfigError, match="DWH_DB_PASSWORD: Redshift needs"):
        load(cfg(tmp_path, example), {})
    filled = example.replace("<password>", "Filled1n-here").replace("<your.public.ip.address>/32", "198.51.100.7/32")
    assert load(cfg(tmp_path, filled), {}).source.url == "s3://udacity-dend"
