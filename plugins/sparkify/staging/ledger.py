"""``staging_ledger``: one row per source object staged into a staging table, so none is staged twice.

Every object's rows carry a ``_source_key``: the object's own key, or, where Redshift loads many small
objects with one manifest COPY, that manifest's key (the object's *load unit*). Replacing a changed
object deletes its unit's rows and ledger rows in the same transaction that stages it again. The
queries use ``in (…)`` lists rather than arrays, which Redshift lacks, so both engines share them.
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

    def unstaged(self, listed: Iterator[SourceObject], counts: dict[str, int]) -> Iterator[SourceObject]:
        """The listed objects whose current version is not staged, checked a page of keys at a time so
        that memory stays bounded however many objects the source holds."""
        while page := list(itertools.islice(listed, PAGE)):
            with self.warehouse.transaction() as cursor:
                staged = self.versions(cursor, [o.key for o in page])
            counts["objects_listed"] += len(page)
            for obj in page:
                if staged.get(obj.key, ("",))[0] == obj.version:
                    counts["objects_skipped"] += 1
                else:
                    yield obj

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
            " row_count, load_unit, loaded_at) values (%s, %s, %s, %s, %s, %s, %s)",
            [(self.table, obj.key, obj.version, obj.size, rows, unit, now) for obj, rows, unit in staged],
        )
