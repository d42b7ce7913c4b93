"""Data-quality checks declared as data: ``sql/models/<table>.yml`` beside the model they guard.

A file names its table, optionally the column that places a row in a run's window, and a list of
checks. Each check compiles to a query that returns one number (the *observed* value), compared with
an *expected* value; most also have a query for a few offending rows, shown when the check fails::

    table: songplays
    time_column: start_time
    checks:
      - row_count: {min: 1}
        severity: warn
      - not_null: [songplay_id, start_time]
      - unique: [songplay_id]
      - accepted_values: {column: level, values: [free, paid]}
      - relationships: {column: user_id, to: users.user_id}
      - range: {column: duration, greater_than: 0}
      - custom:
          name: loaded_equals_staged
          sql: select count(*) from songplays where {window}
          expect_sql: select count(*) from staging_events where page = 'NextSong' and {window:ts}
          compare: "="

``scope: window`` (or ``table``, the default) limits a check to the rows of the run's window.
``severity: warn`` reports a failure without failing the task. In custom SQL, ``{window}`` stands for
the window filter on the table's time column and ``{window:col}`` for the filter on another column.
"""

from sparkify.quality.check import COMPARISONS, SCOPES, SEVERITIES, Check, CheckDefinitionError
from sparkify.quality.compile import compile_table_checks, load_checks, load_table_checks
from sparkify.quality.kinds import KINDS, CheckContext, kind

__all__ = [
    "COMPARISONS",
    "KINDS",
    "SCOPES",
    "SEVERITIES",
    "Check",
    "CheckContext",
    "CheckDefinitionError",
    "compile_table_checks",
    "kind",
    "load_checks",
    "load_table_checks",
]
