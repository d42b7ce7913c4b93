"""The seed's ``dwh.cfg``, read one to one, checked, and turned into what provisioning needs.

The file keeps the Udacity seed's sections and keys:

* ``[AWS] REGION``; credentials are never read from the file (boto3's own chain: ``AWS_PROFILE``,
  ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, an instance role). The seed's ``KEY`` and
  ``SECRET`` must be empty or absent.
* ``[DWH]``: what to create (``DWH_CLUSTER_TYPE``, ``DWH_NUM_NODES``, ``DWH_NODE_TYPE``, ``DWH_IAM_ROLE_NAME``,
  ``DWH_CLUSTER_IDENTIFIER``, ``DWH_DB``, ``DWH_DB_USER``, ``DWH_DB_PASSWORD``, ``DWH_PORT``), plus keys the
  seed did by hand: ``DWH_INGRESS_CIDR``, ``DWH_SECURITY_GROUP_NAME``, ``DWH_PUBLICLY_ACCESSIBLE``,
  ``DWH_SKIP_FINAL_SNAPSHOT``.
* ``[CLUSTER]``: the seed filled it by hand once the cluster was up. ``DB_NAME``, ``DB_USER``,
  ``DB_PASSWORD``, ``DB_PORT`` stand in for their ``DWH_*`` twins when those are empty, and must agree
  with them when both are set. ``HOST`` is an output: it is ignored here (the endpoint goes to the
  connection file).
* ``[IAM_ROLE] ARN``: an output too, ignored (the role's ARN goes into the connection's ``iam_role``).
* ``[S3] LOG_DATA``, ``SONG_DATA``, ``LOG_JSONPATH``: must sit under one root (``<root>/log_data``,
  ``<root>/song_data``, ``<root>/log_json_path.json``), the layout the pipeline reads; the root becomes
  the Variable ``sparkify_source``. ``WORKSPACE`` (optional, not in the seed) is an ``s3://`` location
  Redshift may also read (manifests).

The master password may come from the environment variable ``SPARKIFY_DWH_DB_PASSWORD`` instead; when
it is set it wins over the file. No message built here ever contains the password.
"""

from __future__ import annotations

import configparser
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD_ENV = "SPARKIFY_DWH_DB_PASSWORD"  # noqa: S105 - the name of a variable

# Redshift's rules for a master user password (CreateCluster, MasterUserPassword)
_PASSWORD_FORBIDDEN = set("'\"\\/@ ")
_CLUSTER_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,126}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<key>.*))?$")


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why (never a secret)."""


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix``: ``prefix`` is empty or ends with ``/``."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @classmethod
    def parse(cls, url: str, key: str) -> S3Location:
        match = _S3_URL.match(url.strip())
        if not match:
            raise ConfigError(f"{key}: expected s3://bucket[/prefix], got {url!r}")
        prefix = (match.group("key") or "").strip("/")
        return cls(match.group("bucket"), f"{prefix}/" if prefix else "")


@dataclass(frozen=True)
class DwhConfig:
    """Everything ``redshift_provision`` needs, checked."""

    region: str
    cluster_identifier: str
    cluster_type: str
    node_type: str
    num_nodes: int
    db_name: str
    db_user: str
    port: int
    iam_role_name: str
    ingress_cidr: str
    security_group_name: str
    publicly_accessible: bool
    skip_final_snapshot: bool
    source: S3Location
    workspace: S3Location | None
    db_password: str = field(repr=False)


def _clean(value: str | None) -> str:
    """A value as the seed writes them: ``HOST=''`` means empty."""
    if value is None:
        return ""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    return value


def _bool(value: str, key: str) -> bool:
    lowered = value.lower()
    if lowered in {"true", "yes", "1", "on"}:
        return True
    if lowered in {"false", "no", "0", "off"}:
        return False
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _int(value: str, key: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{key}: expected a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{key}: must be between {low} and {high}, got {number}")
    return number


def check_password(password: str) -> None:
    """Redshift's master password rules, checked before any AWS call; the message never quotes it."""
    problems = []
    if not 8 <= len(password) <= 64:
        problems.append("8 to 64 characters")
    if not any(c.isupper() for c in password):
        problems.append("an upper-case letter")
    if not any(c.islower() for c in password):
        problems.append("a lower-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("a digit")
    if any(c in _PASSWORD_FORBIDDEN or not 33 <= ord(c) <= 126 for c in password):
        problems.append("only printable ASCII, without ' \" \\ / @ or spaces")
    if problems:
        raise ConfigError("DWH_DB_PASSWORD: Redshift needs " + ", ".join(problems))


class _Reader:
    """The parsed file, read the way the seed writes it."""

    def __init__(self, path: Path) -> None:
        self.parser = configparser.ConfigParser(interpolation=None)
        self.parser.optionxform = str.upper  # the seed writes keys in upper case; accept either
        self.parser.read(path)

    def get(self, section: str, key: str, default: str = "") -> str:
        return _clean(self.parser.get(section, key, fallback=None)) or default

    def required(self, section: str, key: str) -> str:
        value = self.get(section, key)
        if not value:
            raise ConfigError(f"[{section}] {key} is required")
        return value

    def paired(self, dwh_key: str, cluster_key: str, default: str = "") -> str:
        """A [DWH] key and its [CLUSTER] twin: either may be set; both set must agree."""
        dwh, cluster = self.get("DWH", dwh_key), self.get("CLUSTER", cluster_key)
        if dwh and cluster and dwh != cluster:
            raise ConfigError(f"[DWH] {dwh_key} and [CLUSTER] {cluster_key} disagree: set one, or the same value")
        return dwh or cluster or default


def _cluster_shape(reader: _Reader) -> dict:
    identifier = reader.required("DWH", "DWH_CLUSTER_IDENTIFIER").lower()  # Redshift stores it in lower case
    if not _CLUSTER_ID.match(identifier):
        raise ConfigError(
            "DWH_CLUSTER_IDENTIFIER: 1-63 letters, digits and hyphens, starting with a letter, "
            "no two hyphens in a row, not ending with one"
        )
    cluster_type = reader.get("DWH", "DWH_CLUSTER_TYPE", "multi-node")
    if cluster_type not in {"single-node", "multi-node"}:
        raise ConfigError(f"DWH_CLUSTER_TYPE: single-node or multi-node, got {cluster_type!r}")
    num_nodes = _int(reader.get("DWH", "DWH_NUM_NODES", "1"), "DWH_NUM_NODES", 1, 128)
    if cluster_type == "multi-node" and num_nodes < 2:
        raise ConfigError("DWH_NUM_NODES: a multi-node cluster has at least 2 nodes")
    if cluster_type == "single-node" and num_nodes != 1:
        raise ConfigError("DWH_NUM_NODES: a single-node cluster has 1 node")
    return {
        "cluster_identifier": identifier,
        "cluster_type": cluster_type,
        "num_nodes": num_nodes,
        "node_type": reader.required("DWH", "DWH_NODE_TYPE"),
    }


def _database(reader: _Reader, environ: dict[str, str]) -> dict:
    names = {
        "db_name": ("DWH_DB", reader.paired("DWH_DB", "DB_NAME")),
        "db_user": ("DWH_DB_USER", reader.paired("DWH_DB_USER", "DB_USER")),
    }
    for key, value in names.values():
        if not value:
            raise ConfigError(f"[DWH] {key} is required")
        if not _NAME.match(value):
            raise ConfigError(f"{key}: letters, digits, _ and $, starting with a letter or _")
    password = environ.get(PASSWORD_ENV) or reader.paired("DWH_DB_PASSWORD", "DB_PASSWORD")
    if not password:
        raise ConfigError(f"no master password: set [DWH] DWH_DB_PASSWORD or the environment variable {PASSWORD_ENV}")
    check_password(password)
    return {
        **{field_name: value for field_name, (_, value) in names.items()},
        "port": _int(reader.paired("DWH_PORT", "DB_PORT", "5439"), "DWH_PORT", 1150, 65535),
        "db_password": password,
    }


def _access(reader: _Reader, cluster_identifier: str) -> dict:
    role_name = reader.required("DWH", "DWH_IAM_ROLE_NAME")
    if not _ROLE_NAME.match(role_name):
        raise ConfigError("DWH_IAM_ROLE_NAME: 1-64 letters, digits and +=,.@_-")
    try:
        cidr = str(ipaddress.IPv4Network(reader.required("DWH", "DWH_INGRESS_CIDR"), strict=True))
    except ValueError as error:
        raise ConfigError(f"DWH_INGRESS_CIDR: not an IPv4 network ({error})") from None
    return {
        "iam_role_name": role_name,
        "ingress_cidr": cidr,
        "security_group_name": reader.get("DWH", "DWH_SECURITY_GROUP_NAME", f"{cluster_identifier}-ingress"),
        "publicly_accessible": _bool(reader.get("DWH", "DWH_PUBLICLY_ACCESSIBLE", "true"), "DWH_PUBLICLY_ACCESSIBLE"),
        "skip_final_snapshot": _bool(reader.get("DWH", "DWH_SKIP_FINAL_SNAPSHOT", "true"), "DWH_SKIP_FINAL_SNAPSHOT"),
    }


def load(path: Path, environ: dict[str, str]) -> DwhConfig:
    """Read ``path`` (the seed's ``dwh.cfg`` layout) and the password override from ``environ``."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (copy config/dwh.cfg.example to it and fill it in)")
    reader = _Reader(path)
    for key in ("KEY", "SECRET"):
        if reader.get("AWS", key):
            raise ConfigError(
                f"[AWS] {key} is set: credentials are not read from this file. Leave it empty and use "
                "the AWS chain instead (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)."
            )
    shape = _cluster_shape(reader)
    workspace = reader.get("S3", "WORKSPACE")
    return DwhConfig(
        region=reader.required("AWS", "REGION"),
        **shape,
        **_database(reader, environ),
        **_access(reader, shape["cluster_identifier"]),
        source=_source_root(
            reader.get("S3", "LOG_DATA"), reader.get("S3", "SONG_DATA"), reader.get("S3", "LOG_JSONPATH")
        ),
        workspace=S3Location.parse(workspace, "[S3] WORKSPACE") if workspace else None,
    )


def _source_root(log_data: str, song_data: str, log_jsonpath: str) -> S3Location:
    """The one root the seed's three [S3] keys share; the pipeline reads that fixed layout below it."""
    for key, value in (("LOG_DATA", log_data), ("SONG_DATA", song_data), ("LOG_JSONPATH", log_jsonpath)):
        if not value:
            raise ConfigError(f"[S3] {key} is required")
    log = S3Location.parse(log_data, "[S3] LOG_DATA")
    if log.prefix != "log_data/" and not log.prefix.endswith("/log_data/"):
        raise ConfigError("[S3] LOG_DATA: must end with /log_data (the layout the pipeline reads)")
    root = S3Location(log.bucket, log.prefix.removesuffix("log_data/"))
    expected = {"SONG_DATA": f"{root.prefix}song_data/", "LOG_JSONPATH": f"{root.prefix}log_json_path.json/"}
    for key, value in (("SONG_DATA", song_data), ("LOG_JSONPATH", log_jsonpath)):
        location = S3Location.parse(value, f"[S3] {key}")
        if (location.bucket, location.prefix) != (root.bucket, expected[key]):
            raise ConfigError(f"[S3] {key}: must be s3://{root.bucket}/{expected[key].rstrip('/')}, beside LOG_DATA")
    return root


def render_policy(document: dict, config: DwhConfig, **extra: str) -> dict:
    """A policy document from docs/iam/, its ``<placeholders>`` filled from ``config``.

    Statements whose ``Sid`` starts with ``Workspace`` are dropped when no workspace is configured.
    Substitution walks the JSON values, so no value can change the document's structure.
    """
    values = {
        "<source-bucket>": config.source.bucket,
        "<source-prefix>": config.source.prefix,
        "<region>": config.region,
        "<cluster-identifier>": config.cluster_identifier,
        "<db-user>": config.db_user,
        "<db-name>": config.db_name,
        "<role-name>": config.iam_role_name,
        **{f"<{name.replace('_', '-')}>": value for name, value in extra.items()},
    }
    if config.workspace:
        values["<workspace-bucket>"] = config.workspace.bucket
        values["<workspace-prefix>"] = config.workspace.prefix

    def fill(value):
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, str):
            for placeholder, replacement in values.items():
                value = value.replace(placeholder, replacement)
            if "<" in value and ">" in value:
                raise ConfigError(f"policy placeholder without a value in {value!r}")
        return value

    statements = [
        statement
        for statement in document["Statement"]
        if config.workspace or not statement.get("Sid", "").startswith("Workspace")
    ]
    return fill({**document, "Statement": statements})
