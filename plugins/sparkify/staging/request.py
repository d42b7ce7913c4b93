"""What a staging task asks of its warehouse: a table, a source, the objects, and how to read them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkify.staging.quarantine import BadRecordPolicy

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sparkify.sources import Source, SourceObject
    from sparkify.staging.changes import ChangedHours
    from sparkify.staging.rules import StagingRules

AUTO_FORMATS = ("auto", "auto ignorecase")


@dataclass
class StageOptions:
    """Tuning and credentials of one staging task (the operator's fixed arguments)."""

    max_workers: int = 8
    batch_bytes: int = 16 * 1024 * 1024
    manifest_batch: int = 1000
    copy_options: tuple[str, ...] = ()
    iam_role: str | None = None
    aws_conn_id: str | None = "aws_default"
    #: ``s3://bucket/prefix`` where Redshift's COPY manifests may be written (never the source)
    workspace: str | None = None
    #: what to do with a record that cannot be staged (``sparkify.staging.quarantine``)
    bad_records: BadRecordPolicy = field(default_factory=BadRecordPolicy)


@dataclass
class StagedObjects:
    """What one staging task loaded, for its lineage: totals, and the first ``keep`` objects.

    The stagers add each object once its transaction has committed. Memory stays bounded whatever
    the number of objects (a prefix of millions of song files keeps ``keep`` keys and three counts).
    """

    keep: int = 100
    count: int = 0
    size: int = 0
    rows: int = 0
    #: ``(key, size, rows)`` of the first ``keep`` objects staged (rows ``None`` where one COPY loaded many)
    objects: list[tuple[str, int, int | None]] = field(default_factory=list)

    def add(self, objects: list[SourceObject], rows: int) -> None:
        """Record ``objects``, committed together with ``rows`` rows."""
        self.count += len(objects)
        self.size += sum(obj.size for obj in objects)
        self.rows += rows
        for obj in objects[: max(self.keep - len(self.objects), 0)]:
            self.objects.append((obj.key, obj.size, rows if len(objects) == 1 else None))

    @property
    def keys(self) -> frozenset[str]:
        """The keys of :attr:`objects`."""
        return frozenset(key for key, _, _ in self.objects)

    @property
    def complete(self) -> bool:
        """Whether every staged object is listed in :attr:`objects`."""
        return self.count == len(self.objects)


@dataclass
class StageRequest:
    """Stage ``objects`` of ``source`` into ``table``.

    ``one_unit_per_object`` is true for daily files (one COPY each); otherwise a warehouse may load
    many objects in one unit (Redshift: a manifest).
    """

    table: str
    source: Source
    objects: Iterator[SourceObject]
    json_format: str
    one_unit_per_object: bool
    options: StageOptions = field(default_factory=StageOptions)
    #: filled by the stager as objects commit: what the run read, for lineage
    staged: StagedObjects = field(default_factory=StagedObjects)
    log: Any = field(  # the task's logger (Airflow's structlog) or a stdlib one
        default_factory=lambda: logging.getLogger("sparkify.staging")
    )
    #: the Airflow run staging this, recorded with quarantined records
    run_id: str | None = None
    #: with daily files: records the hours that objects staged again changed (``sparkify.staging.changes``)
    changes: ChangedHours | None = None
    #: what the models need of each staged record (``sparkify.staging.rules``); None: nothing checked
    rules: StagingRules | None = None

    @property
    def auto_format(self) -> bool:
        return self.json_format.strip().lower() in AUTO_FORMATS


def new_counts() -> dict[str, int]:
    """The counters every staging summary reports."""
    return {
        "objects_listed": 0,
        "objects_skipped": 0,
        "objects_staged": 0,
        "records_quarantined": 0,
        "rows_staged": 0,
        "rows_replaced": 0,
    }
