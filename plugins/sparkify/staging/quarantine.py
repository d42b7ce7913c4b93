"""Bad records: fail the object (the default), or quarantine them and stage the rest.

Under ``fail``, the first record that cannot be staged fails its object, naming object, line and field;
the objects before it stay staged. Under ``quarantine``, such records (not JSON, not an object, NaN, a
value its column cannot hold, a value that breaks what a model needs: ``sparkify.staging.rules``) are
left out and written to ``quarantined_records`` with the object, line, field, reason and the record's
text, in the transaction that stages the rest of the object, so the window loads without them and
nothing is lost without a trace. At most ``max_bad_records`` are
quarantined per task run: beyond that the data is wrong, not a few records of it, and the object fails as
under ``fail``. Errors of a whole object (a BOM, not UTF-8) fail it under either policy.

Values that ``TRUNCATECOLUMNS`` cuts to their column's length are staged (cut) under either policy, and
counted per object and column in ``truncated_values``, with the first one's line and start, for a
warn-level check to report.

Repair: fix the object at the source; its new version is staged again in place of the old rows and of
its quarantined records; rerun the window (``airflow tasks clear``, or the UI's *Clear*) to load it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkify.identifiers import placeholders
from sparkify.staging.json_copy import StagingDataError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sparkify.staging.json_copy import Reject, Truncated

POLICIES = ("fail", "quarantine")
TABLE = "quarantined_records"
TRUNCATIONS = "truncated_values"
_EXAMPLE_CHARS = 200  # the start of the first value cut, as an example
_RECORD_CHARS = 4000  # the record column holds 4,096 bytes; longer records keep their start
_REASON_CHARS = 1000


@dataclass(frozen=True)
class BadRecordPolicy:
    """What staging does with a record it cannot stage."""

    mode: str = "fail"
    max_bad_records: int = 100

    def __post_init__(self) -> None:
        if self.mode not in POLICIES:
            raise ValueError(f"bad_records must be one of {', '.join(POLICIES)}, got {self.mode!r}")
        if self.max_bad_records < 0:
            raise ValueError(f"max_bad_records must be 0 or more, got {self.max_bad_records}")

    @property
    def quarantines(self) -> bool:
        return self.mode == "quarantine"


@dataclass
class Quarantine:
    """The records one staging task run leaves out, by object, until they are written."""

    table: str
    policy: BadRecordPolicy
    run_id: str | None = None
    pending: dict[str, list[tuple[int | None, str | None, str, str]]] = field(default_factory=dict)
    count: int = 0
    #: per object and column: [values cut, first line, longest length, the first value's start]
    truncations: dict[str, dict[str, list]] = field(default_factory=dict)

    def rejecter(self, key: str, where: str) -> Reject | None:
        """The ``reject`` callback for object ``key`` (named ``where`` in errors); None under ``fail``."""
        if not self.policy.quarantines:
            return None
        records = self.pending.setdefault(key, [])

        def reject(line: int, field_path: str | None, reason: str, record: str) -> None:
            self.count += 1
            if self.count > self.policy.max_bad_records:
                at = f", field {field_path}" if field_path else ""
                raise StagingDataError(
                    f"{where}, line {line}{at}: {reason}; more than max_bad_records={self.policy.max_bad_records}"
                    " bad records in this run: the data is wrong, not a few records of it"
                )
            records.append((line, field_path, reason, record))

        return reject

    def truncater(self, key: str) -> Truncated:
        """The ``truncated`` callback for object ``key``: counts the values TRUNCATECOLUMNS cuts, per column
        (under either policy: a cut value is staged, so it is reported, never left out)."""

        def truncated(line: int, column: str, length: int, value: str) -> None:
            columns = self.truncations.setdefault(key, {})
            seen = columns.get(column)
            if seen is None:
                columns[column] = [1, line, length, value[:_EXAMPLE_CHARS]]
            else:
                seen[0] += 1
                seen[2] = max(seen[2], length)

        return truncated

    def discard(self, key: str) -> None:
        """Forget what was collected for ``key`` (its object was not staged after all)."""
        self.count -= len(self.pending.pop(key, []))
        self.truncations.pop(key, None)

    def write(self, cursor: Any, keys: Iterable[str]) -> int:
        """Insert the records collected for ``keys`` (objects being committed); returns how many."""
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows = [
            (self.table, key, line, field_path, reason[:_REASON_CHARS], record[:_RECORD_CHARS], self.run_id, now)
            for key in keys
            for line, field_path, reason, record in self.pending.pop(key, [])
        ]
        if rows:
            cursor.executemany(
                f"insert into {TABLE} (table_name, object_key, line_number, field, reason, record, run_id,"
                " quarantined_at) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        cut = [
            (self.table, key, column, count, line, longest, example, self.run_id, now)
            for key in keys
            for column, (count, line, longest, example) in sorted(self.truncations.pop(key, {}).items())
        ]
        if cut:
            cursor.executemany(
                f"insert into {TRUNCATIONS} (table_name, object_key, column_name, value_count, first_line, longest,"
                " example, run_id, counted_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                cut,
            )
        return len(rows)


def forget_quarantined(cursor: Any, table: str, keys: list[str]) -> None:
    """Delete the quarantined records and truncation counts of ``keys`` (objects staged again: their new
    version decides)."""
    if keys:
        for name in (TABLE, TRUNCATIONS):
            cursor.execute(
                f"delete from {name} where table_name = %s and object_key in ({placeholders(keys)})", (table, *keys)
            )
