"""Which objects hold a window's events: every object of each day the window touches, and what was left out.

A producer does not always write one file per day. A late upload, a file split in parts, or a stream
writer such as Kinesis Data Firehose (``log_data/2018/11/01/13/stream-1-2018-11-01-13-05-...``, no
extension) all put several objects in a day. So a day is not one key but a key *prefix*: the
``daily_key`` pattern cut after its day field (``%d`` or ``%j``).

* ``log_data/%Y/%m/%Y-%m-%d-events.json`` (the Udacity layout): day prefix ``log_data/2018/11/2018-11-01``,
  so ``2018-11-01-events.json``, ``2018-11-01-events-2.json`` and ``2018-11-01-late.json`` all belong to
  the 1st;
* ``log_data/%Y/%m/%d/`` (Firehose): day prefix ``log_data/2018/11/01``, every object below it.

The folder holding the day prefixes (``log_data/2018/11/``) is listed once per run and folder, so that
objects that belong to no day are seen too. Every object of a window day is staged, whatever its
extension (Firehose writes none), except hidden and marker files (names starting with ``.`` or ``_``,
such as ``_SUCCESS``). What is left out is never silent: :meth:`DayListing.report` gives one warning line
for the skipped objects (with the reason) and one for the days without any object.

Every object of a day is its own load unit, named exactly (never as a key prefix, which on Redshift
would also load ``2018-11-01-events.json.late``): a longer-named neighbour such as
``2018-11-01-events.json.late`` is therefore one more object of the 1st, staged once, on its own. An
object and its ``.gz`` twin (``…-events.json`` and ``…-events.json.gz``) are one logical object: a day
holding both fails, naming both (:func:`sparkify.staging.compression.one_per_logical_name`).

``margin_days`` also lists the days around the window (not reported when empty): an event filed under
the day before or after its own (a late event around midnight, a producer's clock) is then staged before
any window that holds its ``ts`` is loaded, whatever order the runs come in.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sparkify.staging.compression import one_per_logical_name

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sparkify.sources import Source, SourceObject
    from sparkify.window import Window

#: strftime fields and the text they produce; any other field matches any text
_FIELDS = {"Y": r"\d{4}", "m": r"\d{2}", "d": r"\d{2}", "j": r"\d{3}", "y": r"\d{2}", "H": r"\d{2}", "%": "%"}
_DAY_FIELD = re.compile(r"%[dj]")
_SAMPLE = 10  # skipped keys and missing-day ranges named in a report line; the rest are counted

NO_DAY = "named for no day"
HIDDEN = "hidden or marker file"


def day_prefix_pattern(daily_key: str) -> str:
    """``daily_key`` cut after its last day field: the prefix shared by all the objects of one day."""
    fields = list(_DAY_FIELD.finditer(daily_key))
    if not fields:
        raise ValueError(f"daily_key {daily_key!r} has no day field (%d or %j), so it cannot name a day's objects")
    return daily_key[: fields[-1].end()]


def _pattern_regex(pattern: str) -> re.Pattern:
    parts, position = [], 0
    for match in re.finditer(r"%(.)", pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        parts.append(_FIELDS.get(match.group(1), r".+?"))
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts))


def _is_hidden(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith((".", "_"))


def _ranges(days: list[dt.date]) -> list[str]:
    """``[1, 2, 3, 5]`` as ``["1..3", "5"]`` for dates: a missing month is one item, not thirty."""
    spans: list[list[dt.date]] = []
    for day in days:
        if spans and (day - spans[-1][1]).days == 1:
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return [f"{a.isoformat()}" if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in spans]


def _named(items: list[str], total: int) -> str:
    shown = ", ".join(items[:_SAMPLE])
    return shown + (f" and {total - _SAMPLE} more" if total > _SAMPLE else "")


@dataclass
class DayListing:
    """The objects of every UTC day ``window`` touches, in key order; iterate it once.

    After iteration, ``skipped`` holds ``(key, reason)`` for the objects left out (the first few; all
    are counted in ``skipped_count``), ``missing_days`` the window's days without any object.
    """

    source: Source
    daily_key: str
    window: Window
    margin_days: int = 0
    days: list[dt.date] = field(init=False)
    listed_days: list[dt.date] = field(init=False)
    #: the day of every object yielded, by key
    day_of: dict[str, dt.date] = field(default_factory=dict)
    objects_listed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_count: int = 0
    missing_days: list[dt.date] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.days = list(self.window.days())
        first = self.days[0] - dt.timedelta(days=self.margin_days)
        count = len(self.days) + 2 * self.margin_days
        self.listed_days = [first + dt.timedelta(days=n) for n in range(count)]
        self._day_pattern = day_prefix_pattern(self.daily_key)
        self._day_regex = _pattern_regex(self._day_pattern)

    def folders(self) -> list[str]:
        """The folders holding the window's day prefixes, each once, in day order."""
        folders: dict[str, None] = {}
        for day in self.listed_days:
            prefix = day.strftime(self._day_pattern)
            folders.setdefault(prefix[: prefix.rfind("/") + 1], None)
        return list(folders)

    def _skip(self, key: str, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < _SAMPLE:
            self.skipped.append((key, reason))

    def __iter__(self) -> Iterator[SourceObject]:
        return one_per_logical_name(self._objects(), locate=self.source.locate)

    def _objects(self) -> Iterator[SourceObject]:
        wanted = {day.strftime(self._day_pattern): day for day in self.listed_days}
        found: set[dt.date] = set()
        for folder in self.folders():
            for obj in self.source.list(folder, suffix=""):
                if obj.key.endswith("/"):
                    continue  # a "folder" marker some S3 tools create: no data, nothing to say
                self.objects_listed += 1
                match = self._day_regex.match(obj.key)
                if match is None:
                    self._skip(obj.key, NO_DAY)  # no window of any day will ever stage it
                    continue
                day = wanted.get(match.group(0))
                if day is None:
                    continue  # another day's object: the windows touching that day stage it
                if _is_hidden(obj.key):
                    self._skip(obj.key, HIDDEN)
                    continue
                found.add(day)
                self.day_of[obj.key] = day
                yield obj
        self.missing_days = [day for day in self.days if day not in found]

    def report(self) -> list[str]:
        """One line about the skipped objects, one about the days without objects: what to warn about."""
        lines = []
        if self.skipped_count:
            named = [f"{self.source.locate(key)} ({reason})" for key, reason in self.skipped]
            lines.append(
                f"{self.skipped_count} object(s) under {', '.join(self.folders())} are not staged: "
                f"{_named(named, self.skipped_count)}. Day files must start with the day prefix "
                f"{self._day_pattern!r}; hidden and marker files (., _) are left out"
            )
        if self.missing_days:
            ranges = _ranges(self.missing_days)
            lines.append(
                f"no objects for {len(self.missing_days)} of {len(self.days)} day(s) of window {self.window}: "
                f"{_named(ranges, len(ranges))} (no events those days?)"
            )
        return lines
