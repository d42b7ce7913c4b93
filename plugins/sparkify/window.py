"""The time window one DAG run processes, whichever way the run was started.

A run processes ``[start, end)``. The explicit bounds (operator arguments or the run params
``window_start``/``window_end``) win; otherwise the run's data interval is used. Airflow 3 can start a
run with no data interval (a manual trigger without a logical date) or an empty one (a timetable whose
intervals have no length): both are refused with an error that says how to pass a window, never
guessed, so no run processes an empty or unbounded span by accident.

Two more rules keep a typo from becoming a disaster:

* A bound must say which instant it is: an ISO 8601 timestamp with its UTC offset (``Z`` or ``+00:00``).
  A naive one (``2018-11-05T09:00:00``) is refused with a message showing the fix. The trigger form's
  ``date-time`` fields and the REST API's parameter validation refuse it too, so every way in agrees.
* A window spans at most ``sparkify_max_window_days`` days (Airflow Variable, default 366): a year's
  history in one run is the largest load anyone means; a window of 0001-9999 is a typo that would list
  3.65 million days. Longer loads are split into several runs (or the Variable raised, deliberately).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from sparkify.settings import SettingError, from_variable, setting

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

UTC = dt.UTC

#: Airflow Variable bounding a window's length, in days; default a year, leap day included (sparkify.settings)
MAX_WINDOW_DAYS_VARIABLE = setting("max_window_days", "variable").key


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
    """Parse an ISO 8601 string or an aware datetime, as UTC. Blank means absent; no offset is an error."""
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
        example = parsed.isoformat(timespec="seconds")
        raise WindowError(
            f"{name}: {str(value).strip()!r} has no UTC offset, so it names no single instant: "
            f"write {example}Z (UTC) or add the offset, e.g. {example}+00:00"
        )
    return parsed.astimezone(UTC)


def max_window_days() -> int:
    """The longest window a run may process, in days: Variable ``sparkify_max_window_days``, else 366."""
    try:
        return int(from_variable("max_window_days"))
    except SettingError as error:
        raise WindowError(str(error)) from None


def check_length(window: Window, max_days: int) -> Window:
    """``window``, if it spans at most ``max_days`` days; else a :class:`WindowError` saying what to do."""
    if window.end - window.start > dt.timedelta(days=max_days):
        span = (window.end - window.start) / dt.timedelta(days=1)
        raise WindowError(
            f"window {window} spans {span:,.1f} days, more than the {max_days} allowed: split it into "
            f"several runs of at most {max_days} days, or raise the Airflow Variable {MAX_WINDOW_DAYS_VARIABLE}"
        )
    return window


def resolve_window(
    context: Mapping[str, Any],
    window_start: Any = None,
    window_end: Any = None,
    *,
    max_days: int | None = None,
) -> Window:
    """Return the window for this task instance.

    Precedence: the explicit bounds given to the operator, then the run params ``window_start`` and
    ``window_end``, then the run's data interval. Bounds come in pairs: one without the other is an
    error, as is a missing or empty data interval, and a window longer than ``max_days`` (default: the
    Variable ``sparkify_max_window_days``, else 366 days).
    """
    window = _chosen_window(context, window_start, window_end)
    return check_length(window, max_days if max_days is not None else max_window_days())


def _chosen_window(context: Mapping[str, Any], window_start: Any, window_end: Any) -> Window:
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
