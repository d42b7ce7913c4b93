"""Staging for warehouses that read S3 themselves (Redshift): one server-side ``COPY`` per load unit.

A unit is one object (a day file), or, for many small objects (song files), a manifest that names
exactly the pending objects. Manifests are written to the configured *workspace*
(``s3://bucket/prefix``), never to the source, which may be read-only (``s3://udacity-dend`` is), and
deleted once their unit has committed; a failed unit's manifest stays for inspection and is
overwritten by the retry (same objects, same name). Each unit is copied into a temporary table and
inserted with its ``_source_key`` in one transaction with its ledger rows.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.log import mask_secret

from sparkify.errors import ConfigurationError, about
from sparkify.json_copy import StagingDataError
from sparkify.redshift_copy import Credentials, copy_statement, manifest_document, redact
from sparkify.sources import S3Source
from sparkify.staging.ledger import StagingLedger
from sparkify.staging.quarantine import Quarantine
from sparkify.staging.request import new_counts
from sparkify.staging.rules import enforce_in_sql
from sparkify.warehouses.base import column_names

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sparkify.sources import SourceObject
    from sparkify.staging.request import StageRequest
    from sparkify.warehouses.base import Warehouse

_UNIT_TABLE = "stage_unit"
_LOAD_ERRORS = (
    "select filename, line_number, colname, type, raw_field_value, err_reason"
    " from stl_load_errors where query = pg_last_copy_id() order by line_number limit 5"
)
# the records a COPY with MAXERROR skipped (the quarantine policy): every one of them
_SKIPPED_RECORDS = (
    "select filename, line_number, colname, err_reason, raw_line"
    " from stl_load_errors where query = pg_last_copy_id() order by filename, line_number"
)


class S3CopyStager:
    """Stages one :class:`~sparkify.staging.request.StageRequest` with ``COPY … FROM 's3://…'``."""

    def __init__(self, warehouse: Warehouse, request: StageRequest) -> None:
        if not isinstance(request.source, S3Source):
            raise ConfigurationError(f"{warehouse.name} copies from S3 only; source {request.source.uri} is not s3://")
        self.warehouse = warehouse
        self.request = request
        self.source: S3Source = request.source
        # manifests go to the workspace with Airflow's own AWS connection, like the listing
        self.s3 = S3Hook(aws_conn_id=request.options.aws_conn_id)
        self.ledger = StagingLedger(warehouse, request.table, request.changes)
        self.counts = new_counts()
        self.quarantine = Quarantine(request.table, request.options.bad_records, request.run_id)

    def run(self) -> dict[str, int]:
        request = self.request
        # units are planned over the whole listing: keys only, never contents
        listed = list(request.objects)
        ledger = self.ledger.all_units()
        pending = [o for o in listed if ledger.get(o.key, ("",))[0] != o.version]
        self.counts.update(objects_listed=len(listed), objects_skipped=len(listed) - len(pending))
        units = self.load_units(pending, ledger, listed)
        if not units:
            return self.counts
        credentials, region = self._credentials()
        json_format = request.json_format if request.auto_format else self.source.locate(request.json_format)
        for number, (unit, objects, manifest_uri) in enumerate(units, start=1):
            if manifest_uri:
                self._write(manifest_uri, manifest_document([self.source.locate(o.key) for o in objects]))
            rows = self._copy_unit(unit, objects, manifest_uri, credentials, region, json_format)
            if manifest_uri:
                self._delete(manifest_uri)
            self.counts["objects_staged"] += len(objects)
            self.counts["rows_staged"] += rows
            request.staged.add(objects, rows)
            request.log.info("%s: COPY unit %d/%d done, %d rows", request.table, number, len(units), rows)
        with self.warehouse.transaction() as cursor:
            self.warehouse.refresh_statistics(cursor, request.table, self.counts["rows_staged"])
        return self.counts

    def _quarantine_skipped(self, cursor: Any, objects: list[SourceObject]) -> None:
        """Write the records the COPY just skipped to the quarantine, in the unit's transaction."""
        key_of = {self.source.locate(o.key): o.key for o in objects}
        cursor.execute(_SKIPPED_RECORDS)
        for filename, line, column, reason, raw in cursor.fetchall():
            uri = str(filename).strip()
            key = key_of.get(uri, uri)
            reject = self.quarantine.rejecter(key, uri)
            assert reject is not None  # only called under the quarantine policy
            reject(int(line), str(column).strip() or None, str(reason).strip(), str(raw or "").strip())
        self.counts["records_quarantined"] += self.quarantine.write(cursor, list(self.quarantine.pending))

    def _enforce_rules(self, cursor: Any, unit: str, objects: list[SourceObject], columns: list[str]) -> None:
        """What the models need of each record (``sparkify.staging.rules``), on the unit's COPY'd rows."""
        rules = self.request.rules
        if rules is None:
            return
        where = self.source.locate(unit) if len(objects) == 1 else f"{unit} ({len(objects)} objects)"
        reject = self.quarantine.rejecter(objects[0].key if len(objects) == 1 else unit, where)
        enforce_in_sql(cursor, _UNIT_TABLE, columns, rules.rules_of(objects[0].key), where, reject)
        self.counts["records_quarantined"] += self.quarantine.write(cursor, list(self.quarantine.pending))

    # -- planning --------------------------------------------------------------------------------------

    def load_units(
        self,
        pending: list[SourceObject],
        ledger: dict[str, tuple[str, str]],
        listed: Iterable[SourceObject],
    ) -> list[tuple[str, list[SourceObject], str | None]]:
        """``(unit key, objects, manifest URI or None)`` for each COPY to run.

        Daily files are a unit each. Otherwise pending objects are grouped into manifests of
        ``manifest_batch``; a changed object that was loaded through a manifest takes the rest of that
        manifest's objects with it, since their rows are deleted together.
        """
        if self.request.one_unit_per_object:
            return [(obj.key, [obj], None) for obj in pending]
        stale_units = {ledger[o.key][1] for o in pending if o.key in ledger}
        pending_keys = {o.key for o in pending}
        reload = [o for o in listed if o.key not in pending_keys and ledger.get(o.key, ("", ""))[1] in stale_units]
        todo = sorted([*pending, *reload], key=lambda o: o.key)
        if len(todo) == 1:
            return [(todo[0].key, todo, None)]
        workspace = (self.request.options.workspace or "").strip().rstrip("/")
        if todo and not workspace:
            raise ConfigurationError(
                f"{self.request.table}: {len(todo)} objects need COPY manifests, and no workspace is set. Set "
                "the Variable sparkify_workspace (or the warehouse connection's extra 'workspace') to an "
                "s3://bucket/prefix that Airflow can write and Redshift can read; the source is never written"
            )
        units: list[tuple[str, list[SourceObject], str | None]] = []
        batch = self.request.options.manifest_batch
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            digest = hashlib.sha1(
                "\n".join(f"{o.key} {o.version}" for o in chunk).encode(), usedforsecurity=False
            ).hexdigest()
            unit = f"manifests/{self.request.table}/{digest}.manifest"
            units.append((unit, chunk, f"{workspace}/{unit}"))
        return units

    # -- S3 and credentials ----------------------------------------------------------------------------

    def _write(self, uri: str, text: str) -> None:
        parsed = urlparse(uri)
        self.s3.load_string(text, key=parsed.path.lstrip("/"), bucket_name=parsed.netloc, replace=True)

    def _delete(self, uri: str) -> None:
        parsed = urlparse(uri)
        self.s3.delete_objects(bucket=parsed.netloc, keys=[parsed.path.lstrip("/")])

    def _credentials(self) -> tuple[Credentials, str | None]:
        """Redshift's way into S3: the IAM role (operator argument, or the warehouse connection's extra
        ``iam_role``), else the AWS connection's keys. The region: the AWS connection's ``region_name``
        (or ``region``), or the warehouse connection's ``region``."""
        options = self.request.options
        hook = self.s3
        aws_extra = hook.get_connection(options.aws_conn_id).extra_dejson if options.aws_conn_id else {}
        region = (
            aws_extra.get("region_name")
            or aws_extra.get("region")
            or self.warehouse.extra.get("region")
            or self.warehouse.extra.get("region_name")
        )
        role = options.iam_role or self.warehouse.extra.get("iam_role")
        if role:
            return Credentials(iam_role=role), region
        frozen = hook.get_credentials()
        keys = Credentials(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
        for secret in keys.secrets:
            mask_secret(secret)  # Airflow's log masker then hides it wherever it would be printed
        return keys, region

    # -- one unit --------------------------------------------------------------------------------------

    def _copy_unit(
        self,
        unit: str,
        objects: list[SourceObject],
        manifest_uri: str | None,
        credentials: Credentials,
        region: str | None,
        json_format: str,
    ) -> int:
        table = self.request.table
        copy_from = manifest_uri or self.source.locate(unit)

        def explain(cursor: Any, error: BaseException) -> None:
            """Called after the rollback, on the same session: name what Redshift rejected."""
            if isinstance(error, StagingDataError):
                raise error  # a staging rule broken (sparkify.staging.rules): it names the unit and value
            message = redact(str(error), credentials.secrets)
            try:
                cursor.execute(_LOAD_ERRORS)
                rejected = cursor.fetchall()
            except Exception:  # the session itself is gone: report the original error
                rejected = []
            if rejected:
                listing = "; ".join(
                    f"{file.strip()}, line {line}, field {column.strip()} ({kind.strip()}): {reason.strip()}"
                    f" (value {str(value).strip()!r})"
                    for file, line, column, kind, value, reason in rejected
                )
                raise StagingDataError(f"{table}: COPY from {copy_from} rejected {listing}") from None
            # keep the error's kind (a lost connection retries, a rejected statement fails now), not its text
            raise about(error, copy_from, f"{table}: COPY failed", detail=message) from None

        with self.warehouse.transaction(on_error=explain) as cursor:
            self.warehouse.lock(cursor, table)
            self.counts["rows_replaced"] += self.ledger.forget(cursor, [o.key for o in objects])
            columns = [name for name, _, _ in column_names(cursor, table) if not name.startswith("_")]
            column_list = ", ".join(columns)
            # CTAS, not LIKE: LIKE copies NOT NULL, and COPY leaves _source_key (NOT NULL) empty
            cursor.execute(f"create temp table {_UNIT_TABLE} as select {column_list} from {table} limit 0")
            options = tuple(self.request.options.copy_options)
            policy = self.quarantine.policy
            if policy.quarantines:  # Redshift skips up to MAXERROR bad records and lists them in stl_load_errors
                options += (f"maxerror {max(policy.max_bad_records - self.quarantine.count, 0)}",)
            statement = copy_statement(
                table=_UNIT_TABLE,
                columns=columns,
                s3_uri=copy_from,
                credentials=credentials,
                json_format=json_format,
                region=region,
                manifest=manifest_uri is not None,
                options=options,
            )
            self.request.log.info("Running %s", redact(statement))
            cursor.execute(statement)
            if policy.quarantines:
                self._quarantine_skipped(cursor, objects)
            self._enforce_rules(cursor, unit, objects, columns)
            cursor.execute(
                f"insert into {table} ({column_list}, _source_key) select {column_list}, %s from {_UNIT_TABLE}",
                (unit,),
            )
            rows = cursor.rowcount
            cursor.execute(f"drop table {_UNIT_TABLE}")
            # a manifest's rows cannot be told apart by object: only the unit's total is known
            self.ledger.record(cursor, [(o, None if manifest_uri else rows, unit) for o in objects])
        return rows
