"""``staging_ledger``: one row per source object staged into a staging table, so none is staged twice.

Every object's rows carry a ``_source_key``: the object's own key, or, where Redshift loads many small
objects with one manifest COPY, that manifest's key (the object's *load unit*). Replacing a changed
object deletes its unit's rows and ledger rows in the same transaction that stages it again. The
queries use ``in (…)`` lists rather than arrays, which Redshift lacks, so both engines share them.

A local file's row also keeps its ``object_fingerprint`` (``sparkify.sources.fingerprint_of``): a listed
file whose fingerprint is the recorded one is unchanged and is not read at all; any other is hashed, and
skipped if its content is the staged version (its new fingerprint is then recorded, so it is read once).

Retention (:meth:`StagingLedger.retire`) deletes the staged rows of old objects and marks their ledger
rows ``retired_at``: a retired object whose version has not changed is never staged again.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any

from sparkify.identifiers import placeholders
from sparkify.staging.quarantine import forget_quarantined

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sparkify.sources import SourceObject
    from sparkify.staging.changes import ChangedHours
    from sparkify.warehouses.base import Warehouse

PAGE = 1000  # keys checked per query: one S3 listing page


class StagingLedger:
    """The ledger rows of one staging table."""

    def __init__(self, warehouse: Warehouse, table: str, changes: ChangedHours | None = None) -> None:
        self.warehouse = warehouse
        self.table = table
        #: with a time column: the hours that restaged objects changed are recorded (``staging.changes``)
        self.changes = changes

    def versions(self, cursor: Any, keys: list[str]) -> dict[str, tuple[str, str]]:
        """``{key: (version, load unit)}`` of the staged objects among ``keys``."""
        if not keys:
            return {}
        cursor.execute(
            "select object_key, object_version, load_unit from staging_ledger"
            f" where table_name = %s and object_key in ({placeholders(keys)})",
            (self.table, *keys),
        )
        return {key: (version, unit) for key, version, unit in cursor.fetchall()}

    def known(self, cursor: Any, keys: list[str]) -> dict[str, tuple[str, str | None, bool]]:
        """``{key: (version, fingerprint, retired)}`` of the staged objects among ``keys``."""
        if not keys:
            return {}
        cursor.execute(
            "select object_key, object_version, object_fingerprint, retired_at is not null from staging_ledger"
            f" where table_name = %s and object_key in ({placeholders(keys)})",
            (self.table, *keys),
        )
        return {key: (version, fingerprint, bool(retired)) for key, version, fingerprint, retired in cursor.fetchall()}

    def unstaged(self, listed: Iterator[SourceObject], counts: dict[str, int]) -> Iterator[SourceObject]:
        """The listed objects whose current version is not staged, checked a page of keys at a time so
        that memory stays bounded however many objects the source holds.

        An object whose fingerprint is the one recorded is skipped unread; one whose fingerprint moved but
        whose content (version) did not is skipped too, and its new fingerprint recorded. Retired objects
        of the same version are skipped and listed in :attr:`retired`."""
        self.retired: list[str] = []
        while page := list(itertools.islice(listed, PAGE)):
            with self.warehouse.transaction() as cursor:
                staged = self.known(cursor, [o.key for o in page])
            counts["objects_listed"] += len(page)
            refreshed: list[tuple[str | None, str, str, str]] = []
            for obj in page:
                if obj.key not in staged:
                    yield obj  # never staged: its version is computed where it is read, not here
                    continue
                version, fingerprint, retired = staged[obj.key]
                if obj.fingerprint is not None and obj.fingerprint == fingerprint:
                    pass  # unchanged since it was staged: not read
                elif version == obj.version:
                    if obj.fingerprint is not None:
                        refreshed.append((obj.fingerprint, self.table, obj.key, version))
                else:
                    yield obj
                    continue
                counts["objects_skipped"] += 1
                if retired:
                    self.retired.append(obj.key)
            if refreshed:
                with self.warehouse.transaction() as cursor:
                    cursor.executemany(
                        "update staging_ledger set object_fingerprint = %s"
                        " where table_name = %s and object_key = %s and object_version = %s",
                        refreshed,
                    )

    def retired_among(self, keys: list[str]) -> list[str]:
        """The keys among ``keys`` whose staged rows retention deleted (their ledger rows are retired)."""
        found: list[str] = []
        for start in range(0, len(keys), PAGE):
            chunk = keys[start : start + PAGE]
            with self.warehouse.transaction() as cursor:
                cursor.execute(
                    "select object_key from staging_ledger where table_name = %s and retired_at is not null"
                    f" and object_key in ({placeholders(chunk)}) order by object_key",
                    (self.table, *chunk),
                )
                found.extend(row[0] for row in cursor.fetchall())
        return found

    def all_units(self) -> dict[str, tuple[str, str]]:
        """``{key: (version, load unit)}`` of every object staged into this table."""
        with self.warehouse.transaction() as cursor:
            cursor.execute(
                "select object_key, object_version, load_unit from staging_ledger where table_name = %s",
                (self.table,),
            )
            return {key: (version, unit) for key, version, unit in cursor.fetchall()}

    def forget(self, cursor: Any, keys: list[str]) -> int:
        """Delete the staged rows, ledger rows and quarantined records of every load unit that holds one
        of ``keys``. Returns the number of staged rows deleted."""
        if not keys:
            return 0
        forget_quarantined(cursor, self.table, keys)
        cursor.execute(
            "select distinct load_unit from staging_ledger"
            f" where table_name = %s and object_key in ({placeholders(keys)})",
            (self.table, *keys),
        )
        units = [row[0] for row in cursor.fetchall()]
        if not units:
            return 0
        if self.changes is not None:
            self.changes.before_delete(cursor, units)
        cursor.execute(f"delete from {self.table} where _source_key in ({placeholders(units)})", units)
        deleted = cursor.rowcount
        cursor.execute(
            f"delete from staging_ledger where table_name = %s and load_unit in ({placeholders(units)})",
            (self.table, *units),
        )
        return deleted

    def record(self, cursor: Any, staged: list[tuple[SourceObject, int | None, str]]) -> None:
        """Write ledger rows ``(object, rows, load unit)`` in the staging transaction, so both commit together;
        the hours changed by objects staged again are recorded in the same transaction."""
        if self.changes is not None:
            self.changes.after_copy(cursor)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        cursor.executemany(
            "insert into staging_ledger (table_name, object_key, object_version, object_size,"
            " row_count, load_unit, loaded_at, object_fingerprint) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (self.table, obj.key, obj.version, obj.size, rows, unit, now, obj.fingerprint)
                for obj, rows, unit in staged
            ],
        )

    def retire(self, cursor: Any, time_column: str, cutoff: dt.datetime) -> tuple[int, int]:
        """Delete the staged rows of every load unit whose rows all have ``time_column`` before ``cutoff``
        and that no stale hour names, and mark its ledger rows retired (kept, so that the unchanged object
        is not staged again). Returns ``(load units, rows)`` retired. Reads only the rows before ``cutoff``
        (the time column's index or sort key) and the candidate units' rows."""
        cursor.execute(
            f"select _source_key from {self.table} where _source_key in"
            f" (select distinct _source_key from {self.table} where {time_column} < %s)"
            f" group by _source_key having max({time_column}) < %s"
            " and _source_key not in (select object_key from stale_hours where table_name = %s)",
            (cutoff, cutoff, self.table),
        )
        units = sorted(row[0] for row in cursor.fetchall())
        deleted = 0
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for start in range(0, len(units), PAGE):
            chunk = units[start : start + PAGE]
            cursor.execute(f"delete from {self.table} where _source_key in ({placeholders(chunk)})", chunk)
            deleted += cursor.rowcount
            cursor.execute(
                "update staging_ledger set retired_at = %s"
                f" where table_name = %s and load_unit in ({placeholders(chunk)})",
                (now, self.table, *chunk),
            )
        return len(units), deleted
