"""One compiled data-quality check: a query for the observed value, and how to judge it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=", "between")
SEVERITIES = ("error", "warn")
SCOPES = ("table", "window")
#: how often a check runs: every run of the ETL, or in the daily audit (sparkify_audit) only
CADENCES = ("hourly", "daily")


class CheckDefinitionError(ValueError):
    """A checks file is malformed; the message names the file and the check."""


@dataclass(frozen=True)
class RunFacts:
    """What a health check needs to know about the run besides its window (``sparkify.quality.health``)."""

    run_id: str = ""
    #: the Airflow run type (``scheduled``, ``manual``, ``backfill``, ``asset_triggered``…); "" when unknown
    run_type: str = ""
    #: the window came from explicit bounds (run params or operator arguments), not the data interval
    explicit_window: bool = False
    #: where earlier runs recorded their results (a window is history once a run checked it); None: none
    results_table: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What a health check concluded: its observed and expected values as text, whether it passed, and
    the severity it reached (a freshness check warns after one age and fails after another)."""

    observed: str
    expected: str
    passed: bool
    severity: str = "warn"
    #: the number observed, if one (a volume check's count): recorded as ``observed_value``, the history
    #: that later runs compare with
    value: float | None = None


@dataclass(frozen=True)
class Check:
    """One compiled check: a query for the observed value and how to judge it."""

    table: str
    name: str
    sql: str
    expected: Any = 0
    compare: str = "="
    tolerance: float = 0.0
    severity: str = "error"
    scope: str = "table"
    expected_sql: str | None = None
    sample_sql: str | None = None
    #: the check's kind (``not_null``, ``unique`` …) and the column it tests, if one: OpenLineage's assertion
    kind: str = "custom"
    cadence: str = "hourly"
    column: str | None = None
    #: for checks that count the rows of one scan meeting a condition: the scan (``from … [where …]``) and
    #: the row condition, so that checks over the same scan are counted together (``quality.observe``)
    scan: str | None = None
    condition: str | None = None
    #: the table's primary key implies it (``unique`` on the key, ``not_null`` on a key column): an engine
    #: that enforces primary keys cannot hold a row that fails it, so it is not run there
    implied_by_key: bool = False
    #: a health check (freshness, volume, quarantine): judged in Python from several queries, by
    #: ``evaluate(cursor, params, facts)``; ``sql`` is then its main query, shown in lineage
    evaluate: Callable[[Any, dict[str, Any] | None, RunFacts], Verdict] | None = None

    @property
    def uses_window(self) -> bool:
        if self.evaluate is not None:  # a health check: measured against the window or its history
            return True
        return any("%(window_" in (sql or "") for sql in (self.sql, self.expected_sql, self.sample_sql))

    def passes(self, observed: Any, expected: Any) -> bool:
        """Judge ``observed`` against ``expected`` (a pair for ``between``); NULL never passes."""
        if observed is None:
            return False
        if self.compare == "between":
            low, high = expected
            return (low is None or observed >= low - self.tolerance) and (
                high is None or observed <= high + self.tolerance
            )
        if expected is None:
            return False
        if self.compare in ("=", "!="):
            if isinstance(observed, (int, float)) and isinstance(expected, (int, float)):
                equal = math.isclose(float(observed), float(expected), rel_tol=0, abs_tol=self.tolerance)
            else:
                equal = observed == expected
            return equal if self.compare == "=" else not equal
        return {
            "<": observed < expected + self.tolerance,
            "<=": observed <= expected + self.tolerance,
            ">": observed > expected - self.tolerance,
            ">=": observed >= expected - self.tolerance,
        }[self.compare]

    def describe_expected(self, expected: Any) -> str:
        if self.compare == "between":
            low, high = expected
            text = f">= {low}" if high is None else f"<= {high}" if low is None else f"between {low} and {high}"
        else:
            text = f"{self.compare} {expected}"
        return f"{text} ± {self.tolerance:g}" if self.tolerance else text
