"""Health checks: is the data fresh, is there as much of it as usual, was any of it left out?

Three kinds, declared in ``sql/models/<table>.yml`` like the others but judged in Python from a few
queries (each a :class:`~sparkify.quality.check.Check` with an ``evaluate``), because their expected
value depends on the run (its type, its window) or on history:

* ``freshness`` (like dbt's source freshness): the age of the newest timestamp that ``newest`` selects,
  against the window's end or against another query's timestamp (``against``); older than
  ``warn_after`` warns, older than ``error_after`` fails. ``backfills: skip`` leaves it out of backfill
  runs and of runs given an explicit window, whose data is old because their window is;
* ``volume`` (like common-sql's ``SQLIntervalCheckOperator``): the window's count (``sql``, with
  ``{window}``) against the median of the same hours on each of the ``history_days`` days before, as a
  ratio bounded by ``min_ratio`` and ``max_ratio``. A day counts as history once a run recorded checks
  for it in ``quality_results``; with fewer than ``min_history_days`` such days the check passes and says
  ``no history yet``;
* ``quarantined``: the records of a staging table left out under the ``quarantine`` policy, for the
  window (its objects, or quarantined by this run): any warns, naming the count and the reasons; more
  than ``fail_above`` fails.

Every query is portable to Redshift: no ``filter``, no ``string_agg``, no date arithmetic in SQL (the
shifted windows and ages are computed here).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Any

from sparkify.identifiers import check_identifier
from sparkify.quality.check import SEVERITIES, Check, CheckDefinitionError, RunFacts, Verdict
from sparkify.quality.history import COVERED, counts, covered, recorded
from sparkify.quality.kinds import CheckContext, kind
from sparkify.quality.observe import scalar

DAY = dt.timedelta(days=1)


def duration(value: Any, origin: str, key: str) -> dt.timedelta | None:
    """``{hours: 6}``, ``{minutes: 30}``, ``{days: 1}`` (or a sum of them) as a timedelta; None if absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value or set(value) - {"days", "hours", "minutes"}:
        raise CheckDefinitionError(f"{origin}: {key} must be a mapping of days, hours and/or minutes, got {value!r}")
    return dt.timedelta(**{k: float(v) for k, v in value.items()})


def hours(delta: dt.timedelta) -> str:
    # total_seconds: a pendulum Duration (from a run's data interval) has no timedelta arithmetic of its own
    seconds = delta.total_seconds()
    return f"{seconds / 3600:g} h" if seconds % 3600 == 0 else f"{seconds / 3600:.2f} h"


def _severity(common: dict[str, Any], origin: str, default: str = "warn") -> str:
    # a health check's severity is where it starts; its own thresholds can raise it to error
    severity = common.get("severity") or default
    if severity not in SEVERITIES:
        raise CheckDefinitionError(f"{origin}: severity must be one of {SEVERITIES}")
    return severity


# -- freshness ---------------------------------------------------------------------------------------------


@kind("freshness")
def freshness(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    label = name or arg.get("name") or f"freshness({ctx.table})"
    if not arg.get("newest"):
        raise CheckDefinitionError(f"{ctx.origin}: {label}: freshness needs `newest` (SQL for the newest timestamp)")
    newest_sql = ctx.expand_window(str(arg["newest"]))
    against = str(arg.get("against") or "window_end")
    against_sql = None if against == "window_end" else ctx.expand_window(against)
    warn_after = duration(arg.get("warn_after"), ctx.origin, "warn_after")
    error_after = duration(arg.get("error_after"), ctx.origin, "error_after")
    if warn_after is None and error_after is None:
        raise CheckDefinitionError(f"{ctx.origin}: {label}: freshness needs warn_after and/or error_after")
    backfills = arg.get("backfills", "check")
    if backfills not in ("check", "skip"):
        raise CheckDefinitionError(f"{ctx.origin}: {label}: backfills must be check or skip")
    limits = [f"warn after {hours(warn_after)}"] if warn_after is not None else []
    limits += [f"error after {hours(error_after)}"] if error_after is not None else []
    reference = "the window's end" if against_sql is None else "the reference"
    expected = f"age vs {reference}: {', '.join(limits)}"

    def evaluate(cursor: Any, params: dict[str, Any] | None, facts: RunFacts) -> Verdict:
        if backfills == "skip" and (facts.run_type == "backfill" or facts.explicit_window):
            why = "a backfill" if facts.run_type == "backfill" else "an explicit window"
            return Verdict("skipped", f"not checked on {why}: its data is as old as its window", True, "warn")
        newest = scalar(cursor, newest_sql, params)
        if against_sql is None:
            at = (params or {}).get("window_end")
        else:
            at = scalar(cursor, against_sql, params)
            if at is None:
                return Verdict(f"newest {newest}", f"{expected} (no reference: nothing to compare)", True, "warn")
        return judge_age(None if newest is None else (newest, at), warn_after, error_after, expected)

    common = {**common, "severity": "error" if error_after is not None else _severity(common, ctx.origin)}
    return [Check(ctx.table, label, newest_sql, expected=expected, compare="custom", evaluate=evaluate, **common)]


def judge_age(
    newest_at: tuple[Any, Any] | None, warn_after: dt.timedelta | None, error_after: dt.timedelta | None, expected: str
) -> Verdict:
    """The verdict on the age of ``newest`` at ``at`` (nothing found is older than any limit)."""
    if newest_at is None:
        age, observed = None, "nothing found"
    else:
        newest, at = newest_at
        age = dt.timedelta(seconds=max((at - newest).total_seconds(), 0.0))
        observed = f"{hours(age)} old (newest {newest}, reference {at})"
    if error_after is not None and (age is None or age > error_after):
        return Verdict(observed, expected, False, "error")
    if warn_after is not None and (age is None or age > warn_after):
        return Verdict(observed, expected, False, "warn")
    return Verdict(observed, expected, True, "error" if error_after is not None else "warn")


# -- volume ------------------------------------------------------------------------------------------------


def history_period(params: dict[str, Any]) -> dt.timedelta:
    """How far back each history window is: a day for windows of a day or less (the same hours), else the
    window's length in whole days (a 3-day window against the 3 days before, and so on)."""
    seconds = (params["window_end"] - params["window_start"]).total_seconds()  # a pendulum Duration, maybe
    return DAY * max(1, math.ceil(seconds / DAY.total_seconds()))


@kind("volume")
def volume(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    label = name or arg.get("name") or f"volume({ctx.table})"
    if not arg.get("sql"):
        raise CheckDefinitionError(f"{ctx.origin}: {label}: volume needs `sql` (a count over {{window}})")
    sql = ctx.expand_window(str(arg["sql"]))
    if "%(window_start)s" not in sql:
        raise CheckDefinitionError(f"{ctx.origin}: {label}: volume's sql must use the window ({{window}})")
    days = int(arg.get("history_days", 7))
    min_days = int(arg.get("min_history_days", days))
    low, high = arg.get("min_ratio", 0.5), arg.get("max_ratio", 2.0)
    if not 1 <= min_days <= days:
        raise CheckDefinitionError(f"{ctx.origin}: {label}: min_history_days must be 1 to history_days")
    bounds = " and ".join(
        text for text in (f">= {low}" if low is not None else "", f"<= {high}" if high is not None else "") if text
    )
    expected = f"ratio to the median of the {days} periods before {bounds}"

    def evaluate(cursor: Any, params: dict[str, Any] | None, facts: RunFacts) -> Verdict:
        assert params is not None
        observed = scalar(cursor, sql, params) or 0
        period = history_period(params)
        shifted = [
            {"window_start": params["window_start"] - period * back, "window_end": params["window_end"] - period * back}
            for back in range(1, days + 1)
        ]
        # each period's count, the day before first: the value this check recorded of it if it can
        # (recorded), else counted again if a run checked it (covered); a period no run checked is no history
        known: list[Any] = [COVERED] * len(shifted)
        if facts.results_table:
            known = recorded(cursor, facts.results_table, ctx.table, label, shifted)
            unknown = [n for n, value in enumerate(known) if value is None]
            checked = covered(cursor, facts.results_table, [shifted[n] for n in unknown])
            for n, yes in zip(unknown, checked, strict=True):
                known[n] = COVERED if yes else None
        recount = [n for n, value in enumerate(known) if value is COVERED]
        for n, count in zip(recount, counts(cursor, sql, [shifted[n] for n in recount]), strict=True):
            known[n] = count
        history = [int(value) for value in known if value is not None]
        if len(history) < min_days:
            note = f"no history yet: {len(history)} of {days} periods before were checked (needs {min_days})"
            return Verdict(str(observed), note, True, severity, value=observed)
        median = statistics.median(history)
        if median == 0:
            return Verdict(
                f"{observed} (median of history 0)",
                f"{expected}: no ratio to a median of 0",
                True,
                severity,
                value=observed,
            )
        ratio = observed / median
        passed = (low is None or ratio >= low) and (high is None or ratio <= high)
        text = f"{observed}: {ratio:.2f} × the median {median:g} of {history}"
        return Verdict(text, expected, passed, severity, value=observed)

    severity = _severity(common, ctx.origin)
    common = {**common, "severity": severity, "scope": "window"}
    return [Check(ctx.table, label, sql, expected=expected, compare="custom", evaluate=evaluate, **common)]


# -- quarantine --------------------------------------------------------------------------------------------


@kind("quarantined")
def quarantined(ctx: CheckContext, arg: Any, name: str | None, common: dict[str, Any]) -> list[Check]:
    staged = check_identifier(str(arg["table"]))
    label = name or arg.get("name") or f"quarantined({staged})"
    fail_above = arg.get("fail_above")
    window_column = arg.get("time_column")
    # the window's objects: those with staged rows in the window (their load unit is the rows' _source_key)
    of_window = ""
    if window_column:
        column = check_identifier(str(window_column), "column")
        of_window = (
            " or q.object_key in (select l.object_key from staging_ledger as l"
            f" where l.table_name = '{staged}' and l.load_unit in (select e._source_key from {staged} as e"
            f" where e.{column} >= %(window_start)s and e.{column} < %(window_end)s))"
        )
    sql = (
        "select q.field, q.reason, count(*) from quarantined_records as q"
        f" where q.table_name = '{staged}' and (q.run_id = %(run_id)s{of_window})"
        " group by q.field, q.reason order by 3 desc, 1, 2"
    )
    expected = "no record quarantined" + (f"; fails above {fail_above}" if fail_above is not None else "")

    def evaluate(cursor: Any, params: dict[str, Any] | None, facts: RunFacts) -> Verdict:
        cursor.execute(sql, {**(params or {}), "run_id": facts.run_id})
        reasons = cursor.fetchall()
        count = sum(int(n) for _, _, n in reasons)
        if not count:
            return Verdict("0", expected, True, severity)
        listed = "; ".join(f"{n} × {field or 'record'}: {reason}" for field, reason, n in reasons[:5])
        more = f"; and {len(reasons) - 5} more reasons" if len(reasons) > 5 else ""
        observed = f"{count} records quarantined ({listed}{more})"
        if fail_above is not None and count > int(fail_above):
            return Verdict(observed, expected, False, "error")
        return Verdict(observed, expected, False, severity)

    severity = _severity(common, ctx.origin)
    common = {**common, "severity": severity, "scope": "window" if window_column else common["scope"]}
    return [Check(ctx.table, label, sql, expected=expected, compare="custom", evaluate=evaluate, **common)]
