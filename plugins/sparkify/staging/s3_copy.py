"""Staging for warehouses that read S3 themselves (Redshift): one server-side ``COPY`` per load unit.

A unit is one object (a day file), or, for many small objects (song files), a batch of them. Every
COPY names exactly its unit's objects: ``COPY … FROM 's3://…/2018-11-05-events.json'`` is a key
*prefix* to Redshift, which would also load ``2018-11-05-events.json.late`` and
``2018-11-05-events.json.gz`` (each staged again as a unit of its own). So each unit is loaded through a
manifest whose entries are ``mandatory`` (a missing object fails the COPY rather than loading less).
Manifests are written to the configured *workspace* (``s3://bucket/prefix``), never to the source,
which may be read-only (``s3://udacity-dend`` is), and deleted once their unit has committed; a failed
unit's manifest stays for inspection and is overwritten by the retry (same objects, same name).

Without a workspace a one-object unit is copied by its key, after a listing of that key as a prefix
shows no other object under it; one that has neighbours fails, naming them and asking for a workspace.

Compression is told by each object's first bytes (one ranged GET per object to stage,
:mod:`sparkify.staging.compression`), never by its name: a gzip object's unit gets COPY's ``GZIP`` option,
and a batch never mixes gzip and plain objects. Another compression fails its unit, naming it, after
the units before it have committed. Each unit is copied into a temporary table and inserted with its
``_source_key`` in one transaction with its ledger rows.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from sparkify.errors import ConfigurationError, about
from sparkify.models.columns import column_names
from sparkify.sources import S3Source
from sparkify.staging.compression import GZIP, MAGIC_BYTES, compression_of
from sparkify.staging.json_copy import Column, StagingDataError
from sparkify.staging.ledger import StagingLedger
from sparkify.staging.load_errors import LoadErrors, _value
from sparkify.staging.quarantine import Quarantine
from sparkify.staging.redshift_copy import Credentials, copy_statement, manifest_document, redact
from sparkify.staging.request import new_counts
from sparkify.staging.s3_access import S3Access

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sparkify.sources import SourceObject
    from sparkify.staging.request import StageRequest
    from sparkify.warehouses.base import Warehouse

_UNIT_TABLE = "stage_unit"


@dataclass(frozen=True)
class LoadUnit:
    """One COPY: the unit's key (its rows' ``_source_key``), its objects, and how Redshift reads them."""

    key: str
    objects: list[SourceObject]
    #: the manifest naming exactly ``objects``; None: copied by the key itself (no workspace, one object)
    manifest_uri: str | None
    #: ``"gzip"`` or None, the same for every object of the unit
    compression: str | None = None
    #: why the unit cannot be loaded (an unreadable compression), raised when its turn comes
    error: StagingDataError | None = None


class S3CopyStager(S3Access, LoadErrors):
    """Stages one :class:`~sparkify.staging.request.StageRequest` with ``COPY … FROM 's3://…'``."""

    def __init__(self, warehouse: Warehouse, request: StageRequest) -> None:
        if not isinstance(request.source, S3Source):
            raise ConfigurationError(f"{warehouse.name} copies from S3 only; source {request.source.uri} is not s3://")
        self.warehouse = warehouse
        self.request = request
        self.source: S3Source = request.source
        # manifests go to the workspace with Airflow's own AWS connection, like the listing: the listing's
        # own hook when it is that connection (a boto3 client costs about a quarter of a second to build)
        same = self.source.hook.aws_conn_id == request.options.aws_conn_id
        self.s3 = self.source.hook if same else S3Hook(aws_conn_id=request.options.aws_conn_id)
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
        for number, unit in enumerate(units, start=1):
            if unit.error is not None:  # the units before it stay committed
                raise unit.error
            if unit.manifest_uri:
                self._write(unit.manifest_uri, manifest_document([self.source.locate(o.key) for o in unit.objects]))
            else:
                self._check_alone(unit.objects[0])
            rows = self._copy_unit(unit, credentials, region, json_format)
            if unit.manifest_uri:
                self._delete(unit.manifest_uri)
            self.counts["objects_staged"] += len(unit.objects)
            self.counts["rows_staged"] += rows
            request.staged.add(unit.objects, rows)
            request.log.info("%s: COPY unit %d/%d done, %d rows", request.table, number, len(units), rows)
        with self.warehouse.transaction() as cursor:
            self.warehouse.refresh_statistics(cursor, request.table, self.counts["rows_staged"])
        return self.counts

    # -- planning --------------------------------------------------------------------------------------

    def load_units(
        self,
        pending: list[SourceObject],
        ledger: dict[str, tuple[str, str]],
        listed: Iterable[SourceObject],
    ) -> list[LoadUnit]:
        """The COPYs to run, in key order.

        Daily files are a unit each. Otherwise pending objects are grouped into manifests of
        ``manifest_batch``; a changed object that was loaded through a manifest takes the rest of that
        manifest's objects with it, since their rows are deleted together. A batch holds gzip or plain
        objects, never both (COPY's ``GZIP`` applies to every object it reads).
        """
        workspace = (self.request.options.workspace or "").strip().rstrip("/")
        if self.request.one_unit_per_object:
            kinds = self._compressions(pending)
            return [self._unit(obj.key, [obj], workspace, kinds[obj.key]) for obj in pending]
        stale_units = {ledger[o.key][1] for o in pending if o.key in ledger}
        pending_keys = {o.key for o in pending}
        reload = [o for o in listed if o.key not in pending_keys and ledger.get(o.key, ("", ""))[1] in stale_units]
        todo = sorted([*pending, *reload], key=lambda o: o.key)
        kinds = self._compressions(todo)
        if len(todo) == 1:
            return [self._unit(todo[0].key, todo, workspace, kinds[todo[0].key])]
        if todo and not workspace:
            raise ConfigurationError(
                f"{self.request.table}: {len(todo)} objects need COPY manifests, and no workspace is set. Set "
                "the Variable sparkify_workspace (or the warehouse connection's extra 'workspace') to an "
                "s3://bucket/prefix that Airflow can write and Redshift can read, in the source bucket's region (make "
                "redshift-up creates one when dwh.cfg's [S3] WORKSPACE is empty); the source is never written"
            )
        units: list[LoadUnit] = []
        bad = [o for o in todo if isinstance(kinds[o.key], StagingDataError)]
        units += [self._unit(o.key, [o], workspace, kinds[o.key]) for o in bad]
        batch = self.request.options.manifest_batch
        for kind in (None, GZIP):
            group = [o for o in todo if kinds[o.key] == kind]
            for start in range(0, len(group), batch):
                chunk = group[start : start + batch]
                digest = hashlib.sha1(
                    "\n".join(f"{o.key} {o.version}" for o in chunk).encode(), usedforsecurity=False
                ).hexdigest()
                unit = f"manifests/{self.request.table}/{digest}.manifest"
                units.append(LoadUnit(unit, chunk, f"{workspace}/{unit}", kind))
        return sorted(units, key=lambda u: u.objects[0].key)

    def _unit(
        self, key: str, objects: list[SourceObject], workspace: str, kind: str | StagingDataError | None
    ) -> LoadUnit:
        """A unit named ``key``, through a manifest when there is a workspace (its name: the objects' keys and
        versions, so a retry overwrites a failed attempt's manifest)."""
        if isinstance(kind, StagingDataError):
            return LoadUnit(key, objects, None, None, kind)
        manifest_uri = None
        if workspace:
            digest = hashlib.sha1(
                "\n".join(f"{o.key} {o.version}" for o in objects).encode(), usedforsecurity=False
            ).hexdigest()
            manifest_uri = f"{workspace}/manifests/{self.request.table}/{digest}.manifest"
        return LoadUnit(key, objects, manifest_uri, kind)

    def _compressions(self, objects: list[SourceObject]) -> dict[str, str | StagingDataError | None]:
        """Each object's compression from its first bytes, read concurrently; an unreadable one's error."""

        def sniff(obj: SourceObject) -> str | StagingDataError | None:
            where = self.source.locate(obj.key)
            try:
                return compression_of(self.source.head(obj.key, MAGIC_BYTES) if obj.size else b"", where=where)
            except StagingDataError as error:
                return error

        if not objects:
            return {}
        with ThreadPoolExecutor(max_workers=self.request.options.max_workers, thread_name_prefix="sniff") as pool:
            return dict(zip((o.key for o in objects), pool.map(sniff, objects), strict=True))

    def _check_alone(self, obj: SourceObject) -> None:
        """Without a manifest, COPY reads every object whose key starts with ``obj``'s: make sure it is the only one."""
        from botocore.exceptions import BotoCoreError

        full = self.source.locate(obj.key).removeprefix(f"s3://{self.source.bucket}/")
        try:
            page = self.source.client.list_objects_v2(Bucket=self.source.bucket, Prefix=full, MaxKeys=11)
        except (BotoCoreError, ClientError) as error:
            raise about(error, self.source.locate(obj.key), "cannot list") from error
        others = [item["Key"] for item in page.get("Contents", []) if item["Key"] != full]
        if others:
            named = ", ".join(f"s3://{self.source.bucket}/{key}" for key in others[:10])
            raise ConfigurationError(
                f"{self.request.table}: COPY from {self.source.locate(obj.key)} would also load {named}, whose keys "
                "start with it (Redshift reads a COPY's key as a prefix). Set the Variable sparkify_workspace (or "
                "the warehouse connection's extra 'workspace') to an s3://bucket/prefix that Airflow can write and "
                "Redshift can read: each COPY then names exactly its object in a manifest"
            )

    def _copy_unit(self, load: LoadUnit, credentials: Credentials, region: str | None, json_format: str) -> int:
        table = self.request.table
        unit, objects, manifest_uri = load.key, load.objects, load.manifest_uri
        copy_from = manifest_uri or self.source.locate(unit)

        began = None  # when the COPY began, on Serverless

        def explain(cursor: Any, error: BaseException) -> None:
            """Called after the rollback, on the same session: name what Redshift rejected."""
            if isinstance(error, StagingDataError):
                raise error  # a staging rule broken (sparkify.staging.rules): it names the unit and value
            message = redact(str(error), credentials.secrets)
            try:
                rejected = self._load_errors(cursor, began, skipped=False)
            except Exception:  # the session itself is gone: report the original error
                rejected = []
            if rejected:
                listing = "; ".join(
                    f"{str(file).strip()}, line {line}{self._field(column, kind)}: {str(reason).strip()}{_value(value)}"
                    for file, line, column, kind, value, reason in rejected
                )
                raise StagingDataError(f"{table}: COPY from {copy_from} rejected {listing}") from None
            # keep the error's kind (a lost connection retries, a rejected statement fails now), not its text
            raise about(error, copy_from, f"{table}: COPY failed", detail=message) from None

        # a session per unit: Serverless's load errors are found by session and start time (load_errors.py)
        with self.warehouse.transaction(on_error=explain, own_session=True) as cursor:
            self.warehouse.lock(cursor, table)
            self.counts["rows_replaced"] += self.ledger.forget(cursor, [o.key for o in objects])
            described = [Column(*c) for c in column_names(cursor, table) if not c[0].startswith("_")]
            columns = [c.name for c in described]
            self._mapping(described)  # read once, before the COPY: its errors name fields by their JSONPath
            column_list = ", ".join(columns)
            # CTAS, not LIKE: LIKE copies NOT NULL, and COPY leaves _source_key (NOT NULL) empty
            cursor.execute(f"create temp table {_UNIT_TABLE} as select {column_list} from {table} limit 0")
            options = tuple(self.request.options.copy_options)
            policy = self.quarantine.policy
            if load.compression == GZIP:
                options += ("gzip",)
            if policy.quarantines:  # Redshift skips up to MAXERROR bad records and lists them as load errors
                # in place of the options' own MAXERROR: Redshift refuses an option given twice
                options = tuple(o for o in options if o.split(maxsplit=1)[:1] not in (["maxerror"], ["MAXERROR"]))
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
            if self.serverless:  # the server's clock, for SYS_LOAD_ERROR_DETAIL's start_time
                cursor.execute("select getdate()")
                began = cursor.fetchone()[0]
            cursor.execute(statement)
            if policy.quarantines:
                self._quarantine_skipped(cursor, objects, began)
            self._enforce_rules(cursor, _UNIT_TABLE, unit, objects, described)
            cursor.execute(
                f"insert into {table} ({column_list}, _source_key) select {column_list}, %s from {_UNIT_TABLE}",
                (unit,),
            )
            rows = cursor.rowcount
            cursor.execute(f"drop table {_UNIT_TABLE}")
            # a manifest's rows cannot be told apart by object: only the unit's total is known, which is the
            # object's own count when the unit holds one object
            self.ledger.record(cursor, [(o, rows if len(objects) == 1 else None, unit) for o in objects])
        return rows
