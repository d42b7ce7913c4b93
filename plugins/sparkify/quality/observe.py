"""Run checks' queries, counting the checks that share a scan in one pass over it.

A table's row checks (``not_null`` on three columns, ``accepted_values``, ``range``) each count the rows
of the same scan (the table, or its rows of the window) that meet a condition. Run one by one they read
the window once per check: four passes over a month's 790,000 songplays. Counted together, as
``sum(case when <condition> then 1 else 0 end)`` per check (no ``filter`` clause: Redshift has none),
they read it once. The observed values are the same counts; a check with no scan of its own
(``unique``, ``relationships``, ``custom``) runs its own query as before.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sparkify.quality.check import Check


def _params(sql: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    return params if "%(" in sql else None


class AnswersOnce:
    """The cursor of a transaction that only reads, answering each scalar query once.

    Several checks ask the same question: ``row_count``, ``loaded_equals_staged`` and ``songplays_volume``
    each count the window's songplays (a scan of 7.9 million rows for a month at 10 M events). Within one
    transaction that writes nothing the answer cannot change, so :func:`scalar` asks the server once.
    Everything else goes to the wrapped cursor.
    """

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.answers: dict[tuple[str, str], Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def scalar(cursor: Any, sql: str, params: dict[str, Any] | None) -> Any:
    """The first column of the first row of ``sql``, or ``None``."""
    bound = _params(sql, params)
    key = (sql, repr(sorted(bound.items())) if bound else "")
    answers = cursor.answers if isinstance(cursor, AnswersOnce) else None
    if answers is not None and key in answers:
        return answers[key]
    cursor.execute(sql, bound)
    row = cursor.fetchone()
    value = row[0] if row else None
    if answers is not None:
        answers[key] = value
    return value


def observe(cursor: Any, checks: Sequence[Check], params: dict[str, Any] | None) -> list[Any]:
    """The observed value of each of ``checks``, in order."""
    observed: list[Any] = [None] * len(checks)
    shared: dict[str, list[int]] = defaultdict(list)
    for index, check in enumerate(checks):
        if check.scan and check.condition:
            shared[check.scan].append(index)
        else:
            observed[index] = scalar(cursor, check.sql, params)
    for scan, members in shared.items():
        if len(members) == 1:
            observed[members[0]] = scalar(cursor, checks[members[0]].sql, params)
            continue
        counts = ", ".join(
            f"coalesce(sum(case when {checks[i].condition} then 1 else 0 end), 0) as c{n}"
            for n, i in enumerate(members)
        )
        sql = f"select {counts} {scan}"
        cursor.execute(sql, _params(sql, params))
        row = cursor.fetchone()
        for n, index in enumerate(members):
            observed[index] = row[n]
    return observed
