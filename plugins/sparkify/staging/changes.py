"""Which hours a restaged object changed: so that hours loaded before the change are reloaded, not left stale.

A day file that changes after some of its hours were loaded (corrected, or completed late) is staged
again in place of its old rows, but a run loads only its own window: the hours loaded before would keep
what the old version said, and no window-scoped check can see it (issue 10, item 7, across windows).
So, in the transaction that replaces an object's rows, the old rows are kept aside, compared with the
new ones hour by hour (rows that differ, or a different count), and each hour that changed before the
run's window is written to ``stale_hours``. The fact load that reloads an hour deletes it there; until
then the songplays check ``hours_to_reload`` fails, naming the hours (see ``sql/models/songplays.yml``).

Hours at or after the run's window are left out: on the schedule they are loaded later, by their own
runs (a backfill that runs windows newest first would miss a change to an hour it already loaded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkify.identifiers import placeholders

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_REPLACED = "replaced_rows"


@dataclass
class ChangedHours:
    """Tracks the objects one staging transaction replaces, for ``table`` placed in hours by ``time_column``."""

    table: str
    time_column: str
    stale_before: dt.datetime
    run_id: str | None = None
    #: each listed object's day and the margin around it: hours outside it are never loaded from that
    #: object's rows (the staging audit refuses such rows), so they are never stale
    day_of: Mapping[str, dt.date] = field(default_factory=dict)
    margin: dt.timedelta = dt.timedelta(days=1)
    _units: tuple[str, ...] = ()

    def before_delete(self, cursor: Any, units: Sequence[str]) -> None:
        """Keep the rows of ``units`` aside before they are deleted (same transaction)."""
        # Redshift takes server-side parameters in INSERT, not in CREATE TABLE AS: the table is made empty
        cursor.execute(f"create temp table {_REPLACED} as select * from {self.table} limit 0")
        cursor.execute(
            f"insert into {_REPLACED} select * from {self.table} where _source_key in ({placeholders(units)})",
            tuple(units),
        )
        self._units = tuple(units)

    def after_copy(self, cursor: Any) -> int:
        """Compare the kept rows with the new ones; record the changed hours before ``stale_before``.
        Returns how many hours were recorded."""
        if not self._units:
            return 0
        units, self._units = self._units, ()
        new = f"select * from {self.table} where _source_key in ({placeholders(units)})"
        hour = f"date_trunc('hour', {self.time_column})"
        # an hour changed if a row is in one version and not the other, or if it holds more copies of one
        cursor.execute(
            f"select distinct d.hour, d._source_key from ("
            f" select {hour} as hour, _source_key from (select * from {_REPLACED} except {new}) as gone"
            f" union select {hour} as hour, _source_key from ({new} except select * from {_REPLACED}) as came"
            f" union select coalesce(o.hour, n.hour) as hour, coalesce(o._source_key, n._source_key) from"
            f" (select {hour} as hour, _source_key, count(*) as c from {_REPLACED} group by 1, 2) as o"
            f" full outer join (select {hour} as hour, _source_key, count(*) as c from ({new}) as x group by 1, 2)"
            f" as n on o.hour = n.hour and o._source_key = n._source_key"
            f" where coalesce(o.c, 0) <> coalesce(n.c, 0)"
            f") as d where d.hour < %s order by 1, 2",
            (*units, *units, *units, self.stale_before),
        )
        changed = [(h, key) for h, key in cursor.fetchall() if h is not None and self._loadable(h, key)]
        cursor.execute(f"drop table {_REPLACED}")
        if changed:
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            cursor.executemany(
                "insert into stale_hours (table_name, hour, object_key, run_id, detected_at)"
                " values (%s, %s, %s, %s, %s)",
                [(self.table, h, key, self.run_id, now) for h, key in changed],
            )
        return len(changed)

    def _loadable(self, hour: dt.datetime, key: str) -> bool:
        day = self.day_of.get(key)
        if day is None:
            return True
        return _midnight(day) - self.margin <= hour < _midnight(day) + dt.timedelta(days=1) + self.margin


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def reloaded(cursor: Any, staged_tables: Sequence[str], params: dict[str, Any]) -> None:
    """A fact load of the window ``params`` reloaded its hours from ``staged_tables``: they are not stale."""
    if staged_tables:
        cursor.execute(
            f"delete from stale_hours where hour >= %s and hour < %s and table_name in ({placeholders(staged_tables)})",
            (params["window_start"], params["window_end"], *staged_tables),
        )
