"""Run declared data-quality checks, record every result, and fail once listing each failure."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException
from tabulate import tabulate

from sparkify.lineage import quality_lineage
from sparkify.models.catalogue import load_catalogue
from sparkify.operators.base import WarehouseOperator
from sparkify.quality import Check, load_checks
from sparkify.quality.check import CADENCES, RunFacts, Verdict
from sparkify.quality.gate import key_enforced
from sparkify.quality.observe import AnswersOnce, observe, scalar
from sparkify.window import Window, parse_instant, resolve_window

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from sparkify.warehouses.base import Warehouse


@dataclass
class CheckResult:
    """What one check observed."""

    check: Check
    observed: Any
    expected: Any
    passed: bool
    sample: list[tuple] | None = None
    #: a health check's verdict (its texts, and the severity it reached)
    verdict: Verdict | None = None

    @property
    def expected_text(self) -> str:
        if self.verdict is not None:
            return self.verdict.expected
        return self.check.describe_expected(self.expected)

    @property
    def severity(self) -> str:
        """The severity this result carries: the check's, or the level a health check reached."""
        return self.verdict.severity if self.verdict is not None else self.check.severity

    @property
    def value(self) -> float | None:
        """The observed value as a number, if it is one: what ``quality_results.observed_value`` holds."""
        if self.verdict is not None:
            return self.verdict.value
        if isinstance(self.observed, bool) or not isinstance(self.observed, (int, float, decimal.Decimal)):
            return None
        return float(self.observed)

    @property
    def warned(self) -> bool:
        return not self.passed and self.severity == "warn"


class DataQualityOperator(WarehouseOperator):
    """Run every check, write each result to ``results_table``, then fail if an error-level check failed.

    Checks come from ``checks`` (a list of :class:`~sparkify.quality.Check`) and from the catalogue's YAML files of
    ``tables`` (``sql/models/<table>.yml``; every star table when ``tables`` is ``None``), less those the
    engine enforces itself (``unique`` and ``not_null`` on a primary key, where primary keys are enforced).
    Row checks over the same rows are counted in one pass (``sparkify.quality.observe``). A failing check of
    severity ``error`` fails the task with ``AirflowFailException``, which skips the retries (bad data is not fixed
    by trying again), and the message lists every failing check with its table, observed and expected values and a
    few offending rows. A ``warn`` failure is logged and recorded but lets the run go on. A database error (a lost
    connection) is raised as is, so Airflow retries it.

    :param tables: tables whose declared checks to run.
    :param checks: further checks, in code.
    :param cadences: which declared checks to run: ``hourly`` ones (every ETL run; window-scoped where the
        table grows with history) and/or ``daily`` ones (full-table checks, run by ``sparkify_audit``).
    :param results_table: where results are recorded; ``None`` to record nothing.
    :param window_start: explicit window start (templated) for window-scoped checks.
    :param window_end: explicit window end (templated).
    :param redshift_conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("window_start", "window_end")
    ui_color = "#89DA59"

    def __init__(
        self,
        *,
        tables: Sequence[str] | None = None,
        checks: Sequence[Check] = (),
        cadences: Sequence[str] = ("hourly",),
        results_table: str | None = "quality_results",
        window_start: str | None = None,
        window_end: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = list(tables) if tables is not None else None
        self.extra_checks = list(checks)
        if self.tables == [] and not self.extra_checks:
            raise ValueError(f"{self.task_id}: no tables and no checks to run")
        unknown = set(cadences) - set(CADENCES)
        if unknown or not cadences:
            raise ValueError(f"{self.task_id}: cadences must be some of {CADENCES}, got {list(cadences)}")
        self.cadences = tuple(cadences)
        self.results_table = results_table
        self.window_start = window_start
        self.window_end = window_end
        self.check_results: list[CheckResult] = []

    def run(self, warehouse: Warehouse, context: Any) -> dict[str, int]:
        declared = load_checks(self.tables) if self.tables != [] else []
        checks = [c for c in declared if c.cadence in self.cadences] + self.extra_checks
        window = None
        if any(c.uses_window for c in checks):
            window = resolve_window(context, self.window_start, self.window_end)
        params = window.sql_params if window else None
        facts = self._facts(context)
        results = []
        with warehouse.transaction() as transaction:
            cursor = AnswersOnce(transaction)  # the checks only read: a query asked twice is run once
            enforced = {t for t in {c.table for c in checks if c.implied_by_key} if key_enforced(warehouse, cursor, t)}
            checks = [c for c in checks if not (c.implied_by_key and c.table in enforced)]
            plain = [c for c in checks if c.evaluate is None]
            observed = iter(observe(cursor, plain, params))
            for check in checks:
                if check.evaluate is not None:
                    verdict = check.evaluate(cursor, params, facts)
                    results.append(
                        CheckResult(check, verdict.observed, verdict.expected, verdict.passed, verdict=verdict)
                    )
                else:
                    results.append(self._judge(cursor, check, next(observed), params))
        self.check_results = results  # for lineage, failing or not
        self.log.info("Data quality results%s:\n%s", f" for {window}" if window else "", format_results(results))
        if self.results_table:
            self._record(warehouse, results, context, window)

        failed = [r for r in results if not r.passed]
        errors = [r for r in failed if r.severity == "error"]
        warnings = [r for r in failed if r.warned]
        for result in warnings:
            self.log.warning("warn-level check failed: %s", describe_failure(result))
        if errors:
            listing = "\n".join(f"- {describe_failure(r)}" for r in errors)
            raise AirflowFailException(f"{len(errors)} of {len(results)} data quality checks failed:\n{listing}")
        self._publish(context, results, window)
        if warnings:
            self._alert(context, warnings, window)
        return {"checks": len(results), "failed": len(failed), "warnings": len(warnings)}

    def _facts(self, context: Any) -> RunFacts:
        """The run's type, id, and whether its window was given explicitly (run params or arguments)."""
        params = context.get("params") or {}
        dag_run = context.get("dag_run")
        run_type = getattr(dag_run, "run_type", None) or context.get("run_type") or ""
        explicit = any(
            parse_instant(start, "window_start") is not None and parse_instant(end, "window_end") is not None
            for start, end in (
                (self.window_start, self.window_end),
                (params.get("window_start"), params.get("window_end")),
            )
        )
        return RunFacts(
            run_id=str(context.get("run_id") or getattr(dag_run, "run_id", "") or ""),
            run_type=str(getattr(run_type, "value", run_type)),
            explicit_window=explicit,
            results_table=self.results_table,
        )

    def _alert(self, context: Any, warnings: list[CheckResult], window: Window | None) -> None:
        """Send the warnings through the ``sparkify_alerts`` notifier, as a warning (the run goes on)."""
        from sparkify.alerts import SparkifyAlert

        run_id = context.get("run_id") or ""
        headline = f"{len(warnings)} data-quality warning{'s' if len(warnings) > 1 else ''} in run {run_id}"
        if window:
            headline += f", window {window}"
        text = "\n".join([headline, *(f"- {describe_failure(r)}" for r in warnings)])
        try:
            SparkifyAlert(kind="warning", text=text).notify(context)
        except Exception:  # an alert that cannot be sent must not fail a run whose data passed
            self.log.exception("could not send the data-quality warnings through sparkify_alerts")

    def _publish(self, context: Any, results: list[CheckResult], window: Window | None) -> None:
        """Describe each checked table's asset event (emitted once this task succeeds, so a downstream
        DAG scheduled on ``sparkify.<table>`` never starts on data that failed its checks)."""
        outlet_events = context.get("outlet_events")
        if not self.outlets or outlet_events is None:
            return
        ti = context.get("ti")
        loaded: dict[str, Any] = {}
        for task in self.upstream_list:
            table = getattr(task, "table", None)
            if table and ti is not None:
                loaded[table] = ti.xcom_pull(task_ids=task.task_id)
        bounds = [window.start.isoformat(), window.end.isoformat()] if window else None
        for asset in self.outlets:
            table = str(getattr(asset, "name", "")).rpartition(".")[2]
            own = [r for r in results if r.check.table == table]
            outlet_events[asset].extra = {
                "window": bounds,
                "load": loaded.get(table),
                "checks": {
                    "passed": sum(r.passed for r in own),
                    "warnings": sum(not r.passed for r in own),
                    "total": len(own),
                },
                # what each warning saw, for whoever consumes the asset (a downstream DAG, a dashboard)
                "warnings": [
                    {"check": r.check.name, "observed": str(r.observed)[:500], "expected": r.expected_text[:500]}
                    for r in own
                    if not r.passed
                ],
            }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: each checked table as an input with a data-quality assertion per check, and the
        results table as the output. Also serves failures: failing checks are assertions with success
        false."""
        tables = self.tables if self.tables is not None else load_catalogue().star_names
        return quality_lineage(self.lineage_naming, self.check_results, tables, self.results_table)

    @staticmethod
    def _judge(cursor: Any, check: Check, observed: Any, params: dict | None) -> CheckResult:
        expected = scalar(cursor, check.expected_sql, params) if check.expected_sql else check.expected
        passed = check.passes(observed, expected)
        sample = None
        if not passed and check.sample_sql:
            cursor.execute(check.sample_sql, params if "%(" in check.sample_sql else None)
            sample = cursor.fetchall()
        return CheckResult(check, observed, expected, passed, sample)

    def _record(self, warehouse: Warehouse, results: list[CheckResult], context: Any, window: Window | None) -> None:
        run_id = str(context.get("run_id") or "")
        bounds = window.sql_params if window else {"window_start": None, "window_end": None}
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows = [
            (
                run_id,
                bounds["window_start"],
                bounds["window_end"],
                r.check.table,
                r.check.name,
                r.severity,
                r.passed,
                str(r.observed)[:1024],
                r.expected_text[:1024],
                now,
                r.value,
            )
            for r in results
        ]
        with warehouse.transaction() as cursor:
            cursor.executemany(
                f"insert into {self.results_table} (run_id, window_start, window_end, table_name, check_name,"
                " severity, passed, observed, expected, checked_at, observed_value)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )


def describe_failure(result: CheckResult) -> str:
    text = (
        f"{result.check.table}: {result.check.name} ({result.check.scope}, {result.severity}): "
        f"observed {result.observed}, expected {result.expected_text}"
    )
    if result.sample:
        text += "; e.g. " + "; ".join(str(row) for row in result.sample)
    return text


def format_results(results: list[CheckResult]) -> str:
    """A plain-text table of results, one line per check."""
    rows = [
        (
            "PASS" if r.passed else ("WARN" if r.severity == "warn" else "FAIL"),
            r.check.table,
            r.check.name,
            str(r.observed),
            r.expected_text,
        )
        for r in results
    ]
    return tabulate(rows, headers=("status", "table", "check", "observed", "expected"), tablefmt="simple")
