"""Every knob of the pipeline in one place: its name, where it is read from, its default and its validation.

A knob is read from one of five places, and this module is the only one that knows which:

* ``connection``: an Airflow connection id (``AIRFLOW_CONN_<ID>`` works too), opened when a task runs;
* ``env``: an environment variable of the process that parses the DAG or runs the task;
* ``variable``: an Airflow Variable (``AIRFLOW_VAR_<NAME>`` works too), read at run time, never at import;
* ``extra``: a key of the warehouse connection's extra (``redshift`` by default);
* ``param``: a run param of ``sparkify_etl`` (the trigger form, ``--conf``), which wins over the Variable of
  the same name where both exist.

:func:`read_settings` reads them once per task into a :class:`Settings`; a value that does not parse fails
the task at once with a :class:`SettingError` naming the knob and where it came from. The configuration
table of the docs is :func:`markdown_table`, generated from :data:`SETTINGS` (``scripts/gen_docs.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkify.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

WHERE = {
    "connection": "Airflow connection",
    "env": "environment variable",
    "variable": "Airflow Variable",
    "extra": "warehouse connection extra",
    "param": "run param",
}


class SettingError(ConfigurationError):
    """A knob whose value does not parse: names the knob, where it was read and what it accepts."""


def _text(raw: Any) -> str:
    return str(raw).strip()


def _flag(raw: Any) -> bool:
    value = str(raw).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _whole_number(raw: Any, minimum: int) -> int:
    text = str(raw).strip()
    if not text.lstrip("-").isdigit() or int(text) < minimum:
        raise ValueError(f"expected a whole number >= {minimum}")
    return int(text)


def _positive_int(raw: Any) -> int:
    return _whole_number(raw, 1)


def _non_negative_int(raw: Any) -> int:
    return _whole_number(raw, 0)


def _one_of(*choices: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    parse.__doc__ = " | ".join(choices)
    return parse


@dataclass(frozen=True)
class Setting:
    """One knob: ``key`` read from ``kind`` (see :data:`WHERE`), ``default`` when unset or empty."""

    name: str
    kind: str
    key: str
    default: Any
    parse: Callable[[Any], Any] = field(default=_text, repr=False)
    help: str = ""

    def value(self, raw: Any) -> Any:
        """``raw`` parsed, or the default when it is unset or blank; a :class:`SettingError` otherwise."""
        if raw is None or str(raw).strip() == "":
            return self.default
        try:
            return self.parse(raw)
        except (TypeError, ValueError) as error:
            raise SettingError(f"{WHERE[self.kind]} {self.key}: {str(raw).strip()!r} is not valid: {error}") from None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "warehouse",
        "connection",
        "redshift",
        "",
        help="the warehouse: PostgreSQL or Redshift (docs/production.md); "
        "local: postgres://postgres@127.0.0.1:$SPARKIFY_PG_PORT/sparkify",
    ),
    Setting("aws", "connection", "aws_default", "", help="S3 access for s3:// sources and Redshift's manifests"),
    Setting("alerts", "connection", "sparkify_alerts", "", help="where alerts go (http or smtp); unset: only logged"),
    Setting(
        "source",
        "variable",
        "sparkify_source",
        "",
        help="folder or s3://bucket/prefix the DAG reads; local: .local/demo-data",
    ),
    Setting("source", "param", "source", "", help="a run's own source, over the Variable"),
    Setting(
        "workspace",
        "variable",
        "sparkify_workspace",
        "",
        help="s3://bucket/prefix for Redshift's COPY manifests (never the source); unused on PostgreSQL",
    ),
    Setting("workspace", "extra", "workspace", "", help="the same, on the warehouse connection"),
    Setting(
        "bad_records",
        "variable",
        "sparkify_bad_records",
        "fail",
        _one_of("fail", "quarantine"),
        "a record that cannot be staged fails its object, or goes to quarantined_records",
    ),
    Setting("bad_records", "param", "bad_records", "", _one_of("fail", "quarantine"), "a run's own policy"),
    Setting(
        "max_bad_records", "param", "max_bad_records", 100, _non_negative_int, "under quarantine, most left out a run"
    ),
    Setting(
        "staging_retention_days",
        "variable",
        "sparkify_staging_retention_days",
        35,
        _non_negative_int,
        "days of staged events kept before the newest loaded hour (daily, sparkify_audit); 0: keep all",
    ),
    Setting(
        "max_window_days", "variable", "sparkify_max_window_days", 366, _positive_int, "longest window one run takes"
    ),
    Setting("window_start", "param", "window_start", None, help="a run's window, with window_end (ISO 8601, offset)"),
    Setting("window_end", "param", "window_end", None, help="end of that window (exclusive)"),
    Setting("target", "extra", "target", "", _one_of("postgres", "redshift"), "the engine, when the host says nothing"),
    Setting("iam_role", "extra", "iam_role", "", help="the role Redshift's COPY assumes to read S3"),
    Setting("lock_timeout", "extra", "lock_timeout", "2min", help="PostgreSQL: how long a task waits for a lock"),
    Setting(
        "statement_timeout",
        "extra",
        "statement_timeout",
        "1h",
        help="longest statement: PostgreSQL's units ('1h'); on Redshift milliseconds (default 3,600,000)",
    ),
    Setting("work_mem", "extra", "work_mem", "", help="PostgreSQL: memory per sort or hash"),
    Setting(
        "load_sessions",
        "extra",
        "load_sessions",
        2,
        _positive_int,
        "PostgreSQL: sessions a bulk load of a window splits it across (1: one insert; decision 0020)",
    ),
    Setting(
        "catchup",
        "env",
        "SPARKIFY_CATCHUP",
        True,
        _flag,
        "catch up hourly runs from the start date; local: false (scripts/env.sh)",
    ),
    Setting(
        "warehouse_uri",
        "env",
        "SPARKIFY_WAREHOUSE_URI",
        "",
        help="the warehouse's URI in asset names; default: the local one on SPARKIFY_PG_PORT",
    ),
    Setting("pg_port", "env", "SPARKIFY_PG_PORT", 55432, _positive_int, "port of the project's own PostgreSQL"),
    Setting(
        "late_after_minutes",
        "env",
        "SPARKIFY_LATE_AFTER_MINUTES",
        None,
        _non_negative_int,
        "a run not finished this long after it was queued raises a deadline alert; unset: none",
    ),
    Setting("sql_dir", "env", "SPARKIFY_SQL_DIR", "", help="the sql/ folder, when not beside plugins/"),
    Setting(
        "sqs_queue_url",
        "env",
        "SPARKIFY_SQS_QUEUE_URL",
        "",
        help="the SQS queue of the source bucket's notifications (sparkify_events, docs/events.md); unset: no watcher",
    ),
    Setting(
        "events_batch_seconds",
        "env",
        "SPARKIFY_EVENTS_BATCH_SECONDS",
        10,
        _positive_int,
        "after a burst's first message, how long the trigger collects before one run",
    ),
    Setting("home", "env", "SPARKIFY_HOME", ".local", help="where the local stack lives (scripts/env.sh)"),
    Setting(
        "airflow_port", "env", "SPARKIFY_AIRFLOW_PORT", 8080, _positive_int, "the local Airflow's port (make airflow)"
    ),
)


def setting(name: str, kind: str) -> Setting:
    """The declaration of ``name`` read from ``kind``."""
    for candidate in SETTINGS:
        if candidate.name == name and candidate.kind == kind:
            return candidate
    raise KeyError(f"no setting {name!r} read from {kind!r}")


def from_env(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """An ``env`` knob's value (DAG parsing reads these: they are deployment settings, not per run)."""
    declared = setting(name, "env")
    return declared.value((os.environ if environ is None else environ).get(declared.key))


def from_variable(name: str) -> Any:
    """A ``variable`` knob's value, read from Airflow at run time."""
    from airflow.sdk import Variable

    declared = setting(name, "variable")
    return declared.value(Variable.get(declared.key, default=None))


def from_extra(name: str, extra: Mapping[str, Any]) -> Any:
    """An ``extra`` knob's value from the warehouse connection's extra."""
    declared = setting(name, "extra")
    return declared.value(extra.get(declared.key))


def from_param(name: str, params: Mapping[str, Any]) -> Any:
    """A ``param`` knob's value from the run params."""
    declared = setting(name, "param")
    return declared.value(params.get(declared.key))


def markdown_table() -> str:
    """The configuration table of the docs: every knob, where it is read, its default and what it does."""
    lines = ["| knob | read from | default | what it does |", "| --- | --- | --- | --- |"]
    for item in SETTINGS:
        default = "(unset)" if item.default in (None, "") else f"`{item.default}`"
        accepts = f" ({item.parse.__doc__})" if item.parse.__doc__ and "|" in item.parse.__doc__ else ""
        lines.append(f"| `{item.key}` | {WHERE[item.kind]} | {default} | {item.help}{accepts} |")
    return "\n".join(lines) + "\n"
