"""The time window one DAG run processes, whichever way the run was started.

A run processes ``[start, end)``. The explicit bounds (operator arguments or the run params
``window_start``/``window_end``) win; otherwise the run's data interval is used. Airflow 3 can start a
run with no data interval (a manual trigger without a logical date) or an empty one (a timetable whose
intervals have no length): both are refused with an error that says how to pass a window, never
guessed, so no run processes an empty or unbounded span by accident.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

UTC = dt.UTC


class WindowError(AirflowFailException, ValueError):
    """The run's window is missing, empty or malformed: a retry cannot fix it, so the task fails at once."""


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)`` of event time."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise WindowError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise WindowError(f"empty window: end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    @property
    def sql_params(self) -> dict[str, dt.datetime]:
        """Bounds as naive UTC datetimes, matching the warehouse's ``timestamp`` columns."""
        return {
            "window_start": self.start.astimezone(UTC).replace(tzinfo=None),
            "window_end": self.end.astimezone(UTC).replace(tzinfo=None),
        }

    def days(self) -> Iterator[dt.date]:
        """Every UTC calendar day that the window touches."""
        day = self.start.astimezone(UTC).date()
        last = (self.end.astimezone(UTC) - dt.timedelta(microseconds=1)).date()
        while day <= last:
            yield day
            day += dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def parse_instant(value: Any, name: str) -> dt.datetime | None:
    """Parse an ISO 8601 string or datetime; naive values are taken as UTC. Blank means absent."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text in ("", "None", "null"):
            return None
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise WindowError(f"{name}: {text!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def resolve_window(
    context: Mapping[str, Any],
    window_start: Any = None,
    window_end: Any = None,
) -> Window:
    """Return the window for this task instance.

    Precedence: the explicit bounds given to the operator, then the run params ``window_start`` and
    ``window_end``, then the run's data interval. Bounds come in pairs: one without the other is an
    error, as is a missing or empty data interval.
    """
    params = context.get("params") or {}
    for source, (start, end) in (
        ("operator arguments", (window_start, window_end)),
        ("run params", (params.get("window_start"), params.get("window_end"))),
    ):
        start_at = parse_instant(start, "window_start")
        end_at = parse_instant(end, "window_end")
        if start_at and end_at:
            return Window(start_at, end_at)
        if start_at or end_at:
            raise WindowError(f"{source}: window_start and window_end must be given together")

    start_at = parse_instant(context.get("data_interval_start"), "data_interval_start")
    end_at = parse_instant(context.get("data_interval_end"), "data_interval_end")
    if start_at is None or end_at is None:
        raise WindowError(
            "this run has no data interval (a manual run without a logical date): trigger it with a "
            "logical date, or pass window_start and window_end as run params"
        )
    if end_at <= start_at:
        raise WindowError(
            f"this run's data interval [{start_at.isoformat()}, {end_at.isoformat()}) is empty: pass "
            "window_start and window_end as run params, or use a timetable whose runs cover an interval"
        )
    return Window(start_at, end_at)
