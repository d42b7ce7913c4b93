"""What the models need of each staged record, checked while it is staged (issue 18).

A record that stages fine but breaks a model later is found too late: a ``"sessionId": null`` makes the
fact's ``md5(… || session_id || …)`` NULL and the insert fails with a ``NotNullViolation`` that names no
object; a negative song duration fails the ``songs`` load. So the staging of each record checks what the
models built from its table rely on, and a record that breaks a rule is treated as any other bad record:
under ``fail`` its object fails naming object, line, field and value; under ``quarantine`` it goes to
``quarantined_records`` and the rest loads. No database constraint is the first to notice bad data.

The rules come from the catalogue (``sql/models/*.yml``), so a new model's needs are checked too:

* ``not_null`` on a model column: each staging column it is computed ``from:`` must have a value;
* ``range`` on a model column computed from one staging column: the same bounds on that column;
* ``accepted_values`` on a model column computed from one staging column: that column's values are
  *normalised* (trimmed, then matched without regard to case: ``" Paid"`` stages as ``paid``);
* ``staging_rules:`` for what no model column shows: ``range`` and ``vocabulary`` (normalised, like
  ``accepted_values``) on ``<staging table>.<column>``;
* ``reads: {<staging table>: {column: value}}`` restricts a model's rules to the rows it reads (the fact
  reads ``page = NextSong`` only, so a logged-out ``Home`` event may have no userId).

A value outside a vocabulary is kept (trimmed), never dropped: a warn-level check counts it (see
``vocabulary_checks``). And for day files, the stage operator adds the rule that no window could load a
record whose time column is missing or further than the margin from its file's day (``ts`` in seconds
instead of milliseconds is 1970).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from itertools import compress
from operator import and_
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sparkify.staging.json_copy import Column

_NULL = r"\N"
_EPOCH = dt.datetime(1970, 1, 1)
_BOUNDS = {
    "min": (lambda v, b: v >= b, ">="),
    "max": (lambda v, b: v <= b, "<="),
    "greater_than": (lambda v, b: v > b, ">"),
    "less_than": (lambda v, b: v < b, "<"),
}


class RuleViolation(ValueError):
    """A record breaks a staging rule: ``index`` is the column, the message says why (with the value)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Rule:
    """One requirement on a staging column. ``when``: ``(column, values)`` pairs the row must match
    (after normalisation) for the rule to apply; a value ``None`` in ``values`` means *any value*."""

    column: str
    kind: str  # not_null | range | vocabulary
    origin: str
    bounds: tuple[tuple[str, Any], ...] = ()
    values: tuple[str, ...] = ()
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    @property
    def identity(self) -> tuple:
        return (self.column, self.kind, self.bounds, self.values, self.when)


def time_rule(column: str, day: dt.date, margin: dt.timedelta) -> Rule:
    """The rule of a day file's time column: a value within ``margin`` of the file's day, else no window
    would ever load the record (it would be staged and never loaded)."""
    low = dt.datetime.combine(day, dt.time()) - margin
    high = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1) + margin
    return Rule(
        column,
        "window",
        f"no window would ever load it: its file's day is {day}, margin {margin.days} day(s)",
        bounds=(("min", low), ("less_than", high)),
    )


@dataclass
class RecordRules:
    """The rules of one object's records, compiled against the staging columns and their JSON paths."""

    columns: Sequence[Column]
    describe: Sequence[str]
    rules: Sequence[Rule]
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {c.name: i for i, c in enumerate(self.columns)}
        known = [r for r in self.rules if r.column in self._index and all(c in self._index for c, _ in r.when)]
        self.rules = known
        #: column index → {casefolded trimmed value: canonical value}
        self.vocabularies: dict[int, dict[str, str]] = {}
        for rule in known:
            if rule.kind == "vocabulary":
                table = self.vocabularies.setdefault(self._index[rule.column], {})
                for value in rule.values:
                    table.setdefault(value.strip().casefold(), value)
        self.checks = [r for r in known if r.kind != "vocabulary"]

    # -- the reference path: converted COPY text cells ------------------------------------------------

    def apply(self, raw: list[Any], cells: list[str]) -> list[str]:
        """Normalise the vocabulary cells in place, then check every rule; raise :class:`RuleViolation`."""
        for index, canonical in self.vocabularies.items():
            cell = cells[index]
            if cell != _NULL:
                cells[index] = canonical.get(cell.strip().casefold(), cell.strip() or cell)
        for rule in self.checks:
            if not self._applies(rule, cells):
                continue
            index = self._index[rule.column]
            cell = cells[index]
            if cell == _NULL:
                if rule.kind == "range":
                    continue  # a range holds the values there are; not_null says whether one must be
                raise RuleViolation(index, f"{_shown(raw[index])}: a value is needed ({rule.origin})")
            if rule.kind == "not_null":
                continue
            value: Any = dt.datetime.fromisoformat(cell) if rule.kind == "window" else float(cell)
            for name, bound in rule.bounds:
                test, sign = _BOUNDS[name]
                if not test(value, bound):
                    shown = _shown(raw[index]) + (f" ({value.isoformat(sep=' ')})" if rule.kind == "window" else "")
                    raise RuleViolation(index, f"{shown} is not {sign} {_shown(bound)} ({rule.origin})")
        return cells

    def _applies(self, rule: Rule, cells: list[str]) -> bool:
        for column, values in rule.when:
            cell = cells[self._index[column]]
            if values == (None,):
                if cell == _NULL:
                    return False
            elif cell not in values:
                return False
        return True

    # -- the fast path: columns of decoded JSON values -------------------------------------------------

    def plainly_met(self, columns: list[list[Any]]) -> bool:
        """Whether every rule visibly holds for these decoded values, with no normalisation needed (the
        fast path's test; on doubt the reference path decides, record by record)."""
        for index, canonical in self.vocabularies.items():
            try:
                if not set(columns[index]) <= {None, *canonical.values()}:
                    return False
            except TypeError:  # an object or array where a word belongs: the reference path names it
                return False
        masks: dict[tuple, list[bool]] = {}  # rules of one model share its condition: computed once
        return all(self._plainly_holds(rule, columns, masks) for rule in self.checks)

    def _plainly_holds(self, rule: Rule, columns: list[list[Any]], masks: dict[tuple, list[bool]]) -> bool:
        values = self._rows_read(rule, columns, masks)
        if rule.kind == "range":
            values = [v for v in values if v is not None]
        elif None in values:
            return False
        kinds = set(map(type, values))
        if str in kinds:  # a blank string stages as NULL; a number as a string is converted: no plain case
            return rule.kind == "not_null" and all(v.strip() for v in values if type(v) is str)
        if rule.kind == "not_null" or not values:
            return True
        if not kinds <= {int, float} or any(map(math.isnan, values)):
            return False
        low, high = min(values), max(values)
        for name, bound in rule.bounds:
            test = _BOUNDS[name][0]
            if rule.kind == "window":
                bound = (bound - _EPOCH) / dt.timedelta(milliseconds=1)
            if not (test(low, bound) and test(high, bound)):
                return False
        return True

    def _rows_read(self, rule: Rule, columns: list[list[Any]], masks: dict[tuple, list[bool]]) -> list[Any]:
        """The values of ``rule``'s column in the rows its condition selects."""
        values = columns[self._index[rule.column]]
        if not rule.when:
            return values
        mask: list[bool] | None = masks.get(rule.when)
        if mask is None:
            for column, wanted in rule.when:
                held = columns[self._index[column]]
                if wanted == (None,):
                    selected = [h is not None and h != "" for h in held]
                else:
                    selected = list(map(wanted.__contains__, held))  # in C: the common case, page = NextSong
                mask = selected if mask is None else list(map(and_, mask, selected))
            masks[rule.when] = mask = mask or []
        return list(compress(values, mask))


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return json.dumps(value, ensure_ascii=False)


@dataclass
class StagingRules:
    """The rules of one staging task: the catalogue's for its table, and per day file the time rule.

    :param rules: the table's rules (:func:`sparkify.staging.catalogue_rules.table_rules`).
    :param time_column: with day files, the column that places a row in a window.
    :param day_of: each day file's day (filled as the listing is read, before any object is staged).
    :param margin: how far from its file's day a record may be (the stage task's ``margin_days``).
    """

    rules: Sequence[Rule]
    time_column: str | None = None
    day_of: Mapping[str, dt.date] | None = None
    margin: dt.timedelta = dt.timedelta(days=1)

    def rules_of(self, key: str) -> list[Rule]:
        """The rules of object ``key``'s records: the table's, and its day's time rule for a day file."""
        rules = list(self.rules)
        day = self.day_of.get(key) if self.day_of is not None and self.time_column else None
        if day is not None:
            rules.append(time_rule(self.time_column, day, self.margin))  # type: ignore[arg-type]
        return rules

    def for_object(self, key: str, columns: Sequence[Column], describe: Sequence[str]) -> RecordRules | None:
        """The compiled rules of object ``key``'s records, or None when there are none."""
        compiled = RecordRules(columns, describe, self.rules_of(key))
        return compiled if compiled.rules else None
