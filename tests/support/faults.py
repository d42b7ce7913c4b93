"""Fault injection: start from a clean generated source, break one thing the way real data breaks.

Every helper edits a source folder in place (a copy made for the test) and returns what a good error
message must name (the object's path, ``line N``, the field's JSONPath), so that each fault case can state
its expected outcome precisely. The expected tables come from ``oracle.py``, never from the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from support import oracle

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.UTC
DAY1, DAY2 = dt.date(2018, 11, 1), dt.date(2018, 11, 2)
#: the generated source's two days: the window every fault case runs
START, END = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC)
HOURS = [(START + dt.timedelta(hours=h), START + dt.timedelta(hours=h + 1)) for h in range(48)]


@dataclass(frozen=True)
class Where:
    """Where a fault sits: what the error message must name."""

    path: Path
    line: int | None = None
    field: str | None = None

    def names(self) -> list[str]:
        out = [str(self.path)]
        if self.line is not None:
            out.append(f"line {self.line}")
        if self.field is not None:
            out.append(f"$['{self.field}']")
        return out


def copy_source(clean: Path, target: Path) -> Path:
    shutil.copytree(clean, target)
    return target


def day_file(source: Path, day: dt.date) -> Path:
    return source / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, text_lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in text_lines), encoding="utf-8")


def find(source: Path, day: dt.date, page: str = "NextSong", n: int = 0) -> tuple[int, dict]:
    """The ``n``-th event of ``page`` in the day file: (0-based index, record)."""
    matches = [(i, json.loads(text)) for i, text in enumerate(lines(day_file(source, day)))]
    return [(i, r) for i, r in matches if r.get("page") == page][n]


def set_field(source: Path, day: dt.date, field: str, value: Any, page: str = "NextSong", n: int = 0) -> Where:
    """Give the ``n``-th ``page`` event of the day ``field = value`` (``...`` removes the field)."""
    path = day_file(source, day)
    text_lines = lines(path)
    index, record = find(source, day, page, n)
    if value is ...:
        record.pop(field, None)
    else:
        record[field] = value
    text_lines[index] = json.dumps(record)
    write_lines(path, text_lines)
    return Where(path, index + 1, field)


def replace_line(source: Path, day: dt.date, raw: str, page: str = "NextSong", n: int = 0) -> Where:
    """Put the text ``raw`` (not necessarily JSON) in place of an event's line."""
    path = day_file(source, day)
    text_lines = lines(path)
    index, _ = find(source, day, page, n)
    text_lines[index] = raw
    write_lines(path, text_lines)
    return Where(path, index + 1)


def repeat_play(source: Path, day: dt.date, shift: dt.timedelta, into: dt.date | None = None, n: int = 0) -> dict:
    """Append a copy of the ``n``-th play of ``day`` with ``ts`` moved by ``shift``, same session, item and
    user, to the day file of ``into`` (default: ``day``). Returns the copy."""
    _, record = find(source, day, "NextSong", n)
    copy = {**record, "ts": record["ts"] + int(shift / dt.timedelta(milliseconds=1))}
    target = day_file(source, into or day)
    write_lines(target, [*lines(target), json.dumps(copy)])
    return copy


def duplicate_line(source: Path, day: dt.date, n: int = 0) -> None:
    """Write the ``n``-th play's line twice, as an at-least-once producer does."""
    path = day_file(source, day)
    text_lines = lines(path)
    index, _ = find(source, day, "NextSong", n)
    text_lines.insert(index + 1, text_lines[index])
    write_lines(path, text_lines)


def song_files(source: Path) -> list[Path]:
    """The song files, in the order of their keys."""
    return sorted((source / "song_data").rglob("*.json"), key=lambda p: p.relative_to(source).as_posix())


def set_song_field(source: Path, field: str, value: Any, n: int = 0) -> Where:
    """Give the ``n``-th song file (by key) ``field = value`` (``...`` removes the field). Song files map
    with ``auto``, so an error names the field by its key (``field duration``), not by a JSONPath: the
    returned place names object and line, the case's texts the field."""
    path = song_files(source)[n]
    record = json.loads(path.read_text(encoding="utf-8"))
    if value is ...:
        record.pop(field, None)
    else:
        record[field] = value
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return Where(path, 1)


def add_object(source: Path, key: str, content: str | bytes) -> Path:
    path = source / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def split_day_file(source: Path, day: dt.date, part_key: str) -> Path:
    """Move the second half of the day's events to another object of the same day (a split upload)."""
    path = day_file(source, day)
    text_lines = lines(path)
    half = len(text_lines) // 2
    write_lines(path, text_lines[:half])
    return add_object(source, part_key, "".join(f"{line}\n" for line in text_lines[half:]))


def move_event_to_next_day(source: Path, day: dt.date, n: int = 0) -> dict:
    """Give the ``n``-th play of ``day`` a ``ts`` on the next day, leaving it in ``day``'s file."""
    path = day_file(source, day)
    text_lines = lines(path)
    index, record = find(source, day, "NextSong", n)
    record["ts"] += 24 * 3600 * 1000
    text_lines[index] = json.dumps(record)
    write_lines(path, text_lines)
    return record


# -- expected tables -------------------------------------------------------------------------------


def oracle_tables(source: Path, start: dt.datetime = START, end: dt.datetime = END) -> dict[str, list[tuple]]:
    """Every star table as the oracle computes it from the JSON, in the shape of ``warehouse_state.snapshot``."""
    days = {start.date() + dt.timedelta(days=n) for n in range((end - start).days + 1)}
    history = oracle.events(source, days)
    all_songs = oracle.songs(source)
    plays = oracle.songplays(history, all_songs, start, end)
    users = oracle.users(oracle.in_window(history, start, end), history)
    return {
        "songplays": sorted((oracle.songplay_id(*identity), *row) for identity, row in plays.items()),
        "users": sorted((uid, *attrs) for uid, attrs in users.items()),
        "songs": sorted((sid, *attrs) for sid, attrs in oracle.song_rows(all_songs).items()),
        "artists": sorted((aid, *attrs) for aid, attrs in oracle.artist_rows(all_songs).items()),
        "time": sorted((t, *attrs) for t, attrs in oracle.time_rows(plays).items()),
    }


def play_changes(clean: dict[str, list[tuple]], faulty: dict[str, list[tuple]]) -> tuple[int, int]:
    """(plays lost, plays added) of a faulty run's songplays against a clean run's, by songplay_id."""
    before = {row[0] for row in clean["songplays"]}
    after = [row[0] for row in faulty["songplays"]]
    doubled = len(after) - len(set(after))
    return len(before - set(after)), len(set(after) - before) + doubled
