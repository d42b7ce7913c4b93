"""Amazon Redshift as the warehouse: production.

Redshift reads S3 itself, so staging sends one server-side ``COPY`` per load unit
(:mod:`sparkify.staging.s3_copy`) and reads the load-error system table to name what a failed load
rejected: ``stl_load_errors`` on a provisioned cluster, ``sys_load_error_detail`` on Redshift Serverless,
whose STL tables hold nothing (:attr:`RedshiftWarehouse.serverless` says which).
Its DDL adds distribution and sort keys (``sql/macros/redshift.sql``).
"""

from __future__ import annotations

from typing import Any

from sparkify.warehouses import register
from sparkify.warehouses.base import Warehouse

DEFAULT_STATEMENT_TIMEOUT_MS = 3_600_000


@register
class RedshiftWarehouse(Warehouse):
    """A Redshift cluster or Serverless workgroup, reached through a ``redshift`` (or ``postgres``)
    connection; IAM authentication with temporary credentials through the extra ``iam``."""

    name = "redshift"
    dialect = "redshift"
    staging_strategy = "s3_copy"
    # deleted rows of the oldest ts blocks: reclaim them now rather than when automatic vacuum comes by
    reclaim_sql = ("vacuum delete only {table} to 100 percent", "analyze {table}")
    default_port = 5439

    @classmethod
    def claims(cls, connection: Any) -> bool:
        host = (connection.host or "").lower()
        return connection.conn_type == "redshift" or ".redshift." in host or ".redshift-serverless." in host

    @property
    def serverless(self) -> bool:
        """A Serverless workgroup: its endpoint ``<workgroup>.<account>.<region>.redshift-serverless.amazonaws.com``,
        or, behind another host name (a proxy, a tunnel), the connection's extra ``redshift-serverless`` or
        ``workgroup-name`` (the amazon provider's own extras for a workgroup)."""
        host = (self.connection.host or "").lower()
        return (
            ".redshift-serverless." in host
            or _truthy(self.extra.get("redshift-serverless"))
            or bool(self.extra.get("workgroup-name"))
        )

    def session_settings(self) -> list[str]:
        # Redshift has no lock_timeout; its WLM query timeouts also apply
        timeout = int(self.extra.get("statement_timeout", DEFAULT_STATEMENT_TIMEOUT_MS))
        return [*super().session_settings(), f"set statement_timeout to {timeout}"]

    def lock(self, cursor: Any, table: str) -> None:
        cursor.execute(f"lock {table}")

    def lineage_namespace(self) -> str:
        """``redshift://{cluster_identifier}.{region}:{port}``, the OpenLineage naming spec for Redshift.

        The identifier and region come from the extras ``cluster-identifier`` (or ``workgroup-name``) and
        ``region`` (or ``region_name``) when set (the postgres hook's IAM extras), else from the endpoint
        ``<cluster>.<id>.<region>.redshift.amazonaws.com`` (or a Serverless workgroup's
        ``<workgroup>.<account>.<region>.redshift-serverless.amazonaws.com``); any other host is used
        whole, as the amazon provider does."""
        port = self.connection.port or self.default_port
        identifier = self.extra.get("cluster-identifier") or self.extra.get("workgroup-name")
        region = self.extra.get("region_name") or self.extra.get("region")
        host = (self.connection.host or "").lower()
        parts = host.split(".")
        if not identifier and len(parts) >= 6 and parts[3].startswith("redshift") and parts[4] == "amazonaws":
            identifier, region = parts[0], parts[2]
        if identifier and region:
            return f"redshift://{identifier}.{region}:{port}"
        return f"redshift://{host}:{port}"

    def refresh_statistics(self, cursor: Any, table: str, changed_rows: int | None = None) -> None:
        # COPY runs into a temporary table (STATUPDATE there would be wasted); Redshift's ANALYZE skips
        # tables that changed less than analyze_threshold_percent, so an hourly run pays little
        if changed_rows != 0:
            cursor.execute(f"analyze {table}")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
