"""What the Sparkify view shows, as data: the star tables, the checks' history, the quarantine and the
ledger (:class:`Snapshot`, read by :func:`sparkify.ui.queries.read_snapshot`), and its JSON form.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class StarTable:
    name: str
    kind: str
    exists: bool
    rows: int | None = None
    time_column: str | None = None
    newest: dt.datetime | None = None  # newest value of the time column (the fact and time tables)
    last_run_id: str | None = None
    last_window_start: dt.datetime | None = None
    last_window_end: dt.datetime | None = None
    last_checked_at: dt.datetime | None = None
    age_seconds: int | None = None
    fresh: bool = False


@dataclass
class CheckHistory:
    table_name: str
    check_name: str
    severity: str
    days: list[dict[str, Any]] = field(default_factory=list)  # {day, pass, warn, fail}, oldest first
    passed: int = 0
    warned: int = 0
    failed: int = 0
    last_status: str = ""
    last_observed: str | None = None
    last_expected: str | None = None
    last_checked_at: dt.datetime | None = None
    last_failure: dict[str, Any] | None = None  # run_id, checked_at, observed, expected, sample


@dataclass
class Snapshot:
    target: str
    now: dt.datetime
    days: int
    missing_tables: list[str]
    star: list[StarTable]
    quality: list[CheckHistory]
    quality_days: list[dt.date]
    quarantine_total: int
    quarantine: list[dict[str, Any]]
    hours: list[tuple[dt.datetime, int]]
    ledger_tables: list[dict[str, Any]]
    ledger_days: list[dict[str, Any]]
    ledger_recent: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready values (timestamps in ISO 8601, UTC, without offset as stored)."""
        return _jsonable(
            {
                **asdict(self),
                "hours": [{"hour": hour, "songplays": plays} for hour, plays in self.hours],
            }
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
