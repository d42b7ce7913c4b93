"""Fault injection: start from a clean generated source, break one thing the way real data breaks.

Every helper edits a source folder in place (a copy made for the test) and returns what a good error
message must name (the object's path, ``line N``, the field's JSONPath), so that each fault case can state
its expected outcome precisely. The expected tables come from ``oracle.py``, never from the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from support import oracle

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import EllipsisType

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
    #: the field is a key of a file read with ``auto`` (song files): named ``field <key>``, not by a JSONPath
    auto: bool = False

    @property
    def field_named(self) -> str | None:
        """The field as an error and the quarantine name it: ``$['userId']``, or the key of an ``auto`` file."""
        if self.field is None or self.field.startswith("$"):
            return self.field
        return self.field if self.auto else f"$['{self.field}']"

    def names(self, object_name: str | None = None, *, line: bool = True) -> list[str]:
        """What a message must hold: the object (``object_name``, else the path), the line, the field."""
        out = [object_name or str(self.path)]
        if self.line is not None and line:
            out.append(f"line {self.line}")
        if self.field_named is not None:
            out.append(f"field {self.field_named}" if self.auto else self.field_named)
        return out

    def as_target_names(self, outcome: Fails) -> Where:
        """This place with the field the target names (``outcome.field``) when it differs."""
        return self if outcome.field is ... else replace(self, field=outcome.field)  # type: ignore[arg-type]


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
    with ``auto``, so an error names the field by its key (``field duration``), not by a JSONPath."""
    path = song_files(source)[n]
    record = json.loads(path.read_text(encoding="utf-8"))
    if value is ...:
        record.pop(field, None)
    else:
        record[field] = value
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return Where(path, 1, field, auto=True)


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


# -- the fault cases: one per kind of fault, with its outcome on each target ----------------------------

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Loaded:
    """The run succeeds; the star equals the oracle's over the faulty JSON; against a clean run ``lost``
    plays are missing and ``added`` new."""

    lost: int = 0
    added: int = 0
    warns: tuple[str, ...] = ()  # texts the task logs must hold (a warning about what was skipped)


@dataclass(frozen=True)
class Fails:
    """The run fails at once naming object, line and field; under the quarantine policy the record is kept
    aside with that object, line and field, and the rest loads (``quarantined``), or the object fails under
    that policy too (a fault of the whole object)."""

    says: tuple[str, ...] = ()  # texts the message (and a quarantined record's reason) must hold
    never_says: tuple[str, ...] = ()  # e.g. a library's internals instead of words
    staged: bool = False  # refused after staging (by the staging audit), rather than by staging itself
    quarantined: bool = True
    line_named: bool = True  # False: the message names a byte offset, not the fault's line
    #: the field as the target names it when it is not the injected one (a NaN's path, COPY's reading)
    field: str | EllipsisType | None = ...
    #: what the Redshift target (its COPY, then the staging rules in SQL) does where it differs
    redshift: Fails | None = None

    def on(self, target: str) -> Fails:
        return self.redshift if target == "redshift" and self.redshift is not None else self


@dataclass(frozen=True)
class Case:
    kind: str
    item: str  # the item of issue 10 (or 18) it belongs to
    inject: Callable[[Path], Where | Any]
    outcome: Loaded | Fails
    hourly: bool = False
    xfail: str | None = None

    def summary(self, target: str) -> str:
        """The case's outcome on ``target`` in words, for the docs' table (scripts/gen_docs.py)."""
        outcome = self.outcome
        if isinstance(outcome, Loaded):
            text = "loaded, equal to the oracle"
            if outcome.lost or outcome.added:
                text += f" ({outcome.lost} play(s) lost, {outcome.added} added against a clean run)"
            if target == "postgres" and outcome.warns:  # the logs are checked on PostgreSQL
                text += "; warns " + ", ".join(f"`{w}`" for w in outcome.warns)
            return text + ("; 48 hourly runs equal one run" if self.hourly and target == "postgres" else "")
        outcome = outcome.on(target)
        named = "object, line (and the field at fault)" if outcome.line_named else "object, byte offset"
        says = "; ".join(f"`{s}`" for s in outcome.says)
        text = f"fails at once: {named}" + (f"; {says}" if says else "")
        if outcome.quarantined:
            return text + ". Quarantine: the record kept aside (same object, line, field), the rest loaded"
        return text + ". Quarantine: fails too (a fault of the whole object)"


def _play_in_no_day_file(src: Path) -> None:
    _, play = find(src, DAY1)
    add_object(src, "log_data/2018/11/late-events.json", json.dumps({**play, "sessionId": 999_999}) + "\n")


def _truncated_last_line(src: Path) -> Where:
    path = day_file(src, DAY2)
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text[: len(text) - 25], encoding="utf-8")  # an upload cut short
    return Where(path, len(text.splitlines()))


def _not_utf8(src: Path) -> Where:
    path = day_file(src, DAY1)
    data = path.read_bytes()
    at = data.index(b'"Logged In"')
    path.write_bytes(data.replace(b'"Logged In"', b'"Logged In \xe9t\xe9"', 1))  # Latin-1
    return Where(path, data.count(b"\n", 0, at) + 1)  # PostgreSQL names the byte; Redshift's COPY the line


def _bom(src: Path) -> Where:
    path = day_file(src, DAY1)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return Where(path, 1)


def _matched_play_with_another_length(src: Path) -> None:
    """A play of a catalogue song, its length changed by a second: it names the song, matches none."""
    titles = {json.loads(p.read_text())["title"] for p in song_files(src)}
    n = next(n for n in range(100) if find(src, DAY1, n=n)[1]["song"] in titles)
    set_field(src, DAY1, "length", find(src, DAY1, n=n)[1]["length"] + 1.0, n=n)


def _same_play_resent_with_other_content(src: Path) -> None:
    """A play sent again in a second object of its day with another level and location: one play, the
    copy of the first object by key wins (songplays.sql)."""
    _, play = find(src, DAY1)
    other = {**play, "level": "paid" if play["level"] == "free" else "free", "location": "Elsewhere, XX"}
    add_object(src, "log_data/2018/11/2018-11-01-events-resent.json", json.dumps(other) + "\n")


def _same_play_a_fraction_of_a_millisecond_later(src: Path) -> None:
    """A play sent again 0.5 ms later (a JSON ts with a fraction), twice: another ts, so another play, whose
    id takes its ts to the microsecond (songplays.sql); its two copies are one play."""
    _, play = find(src, DAY1)
    later = json.dumps({**play, "ts": play["ts"] + 0.5}) + "\n"
    add_object(src, "log_data/2018/11/2018-11-01-events-later.json", later * 2)


def _nan(src: Path) -> Where:
    _, record = find(src, DAY1)
    raw = json.dumps({**record, "length": 1.5}).replace("1.5", "NaN")
    return replace_line(src, DAY1, raw)


def _crlf(src: Path) -> None:
    """A day file written on Windows: every line ends in CR LF (JSON reads CR as white space)."""
    path = day_file(src, DAY2)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def _item_in_session_as_a_string(src: Path) -> None:
    """Two plays whose ``itemInSession`` is a string of digits (``"3"``): an integer to COPY, as to the oracle."""
    for n in (0, 4):
        set_field(src, DAY1, "itemInSession", str(find(src, DAY1, n=n)[1]["itemInSession"]), n=n)


def _two_songs_in_one_file(src: Path) -> None:
    """A song file holding two songs, one JSON object a line: both are songs (COPY reads every object)."""
    first, second = song_files(src)[:2]
    second_song = second.read_text(encoding="utf-8").strip()
    first.write_text(first.read_text(encoding="utf-8").strip() + "\n" + second_song + "\n", encoding="utf-8")
    second.unlink()


def _one_json_array(src: Path) -> Where:
    """A day file written as one JSON array of its events (``[{…}, {…}]``) instead of JSON lines."""
    path = day_file(src, DAY2)
    path.write_text(json.dumps([json.loads(line) for line in lines(path)]) + "\n", encoding="utf-8")
    return Where(path, 1)


DATA_FAULTS = [
    # -- item 1: what a play's identity is ------------------------------------------------------------
    Case("exact-duplicate-line", "1", lambda s: duplicate_line(s, DAY1), Loaded(), hourly=True),
    Case(
        "same-play-repeated-an-hour-later",
        "1",
        lambda s: repeat_play(s, DAY1, HOUR),
        Loaded(added=1),
        hourly=True,
    ),
    Case(
        "same-play-repeated-a-day-later",
        "1",
        lambda s: repeat_play(s, DAY1, DAY, into=DAY2),
        Loaded(added=1),
        hourly=True,
    ),
    Case(
        "same-line-in-a-second-object-of-the-day",
        "1, 6",
        lambda s: add_object(s, "log_data/2018/11/2018-11-01-events-resent.json", lines(day_file(s, DAY1))[0] + "\n"),
        Loaded(),
        hourly=True,
    ),
    # -- item 2: userId that is not an integer -------------------------------------------------------
    Case(
        "user-id-not-an-integer",
        "2",
        lambda s: set_field(s, DAY1, "userId", "abc"),
        Fails(says=("expected an integer",), redshift=Fails(says=("Invalid digit", "'abc'"))),
    ),
    Case(
        "user-id-out-of-range",
        "2",
        lambda s: set_field(s, DAY2, "userId", "99999999999"),
        Fails(says=("out of range",), redshift=Fails(says=("Overflow", "'99999999999'"))),
    ),
    Case(
        "user-id-not-an-integer-on-an-event-that-is-no-play",
        "2",
        lambda s: set_field(s, DAY1, "userId", "abc", page="Home", n=3),
        Fails(says=("expected an integer",), redshift=Fails(says=("Invalid digit",))),
    ),
    # -- item 6: objects of a day ------------------------------------------------------------------------
    Case(
        "day-split-in-two-objects",
        "6",
        lambda s: split_day_file(s, DAY1, "log_data/2018/11/2018-11-01-events-part2.json"),
        Loaded(),
    ),
    Case(
        "empty-object-in-the-day-folder",
        "6",
        lambda s: add_object(s, "log_data/2018/11/2018-11-02-x", ""),
        Loaded(),
    ),
    Case(
        "marker-file-in-the-day-folder",
        "6",
        lambda s: add_object(s, "log_data/2018/11/_SUCCESS", ""),
        Loaded(warns=("log_data/2018/11/_SUCCESS (named for no day)",)),
    ),
    Case(
        "object-named-for-no-day",
        "6",
        _play_in_no_day_file,
        Loaded(
            warns=(
                "1 object(s) under log_data/2018/10/, log_data/2018/11/ are not staged",
                "late-events.json (named for no day)",
            )
        ),
    ),
    # -- malformed objects: a clear error naming object and line -----------------------------------------
    Case(
        "invalid-json-line",
        "suite",
        lambda s: replace_line(s, DAY1, '{"artist": "Ween", "ts": '),
        Fails(says=("invalid JSON",), redshift=Fails(says=("Invalid JSON",))),
    ),
    Case(
        "upload-cut-short",
        "suite",
        _truncated_last_line,
        Fails(says=("invalid JSON",), redshift=Fails(says=("Invalid JSON",))),
    ),
    Case(
        "not-utf-8",
        "suite",
        _not_utf8,
        # PostgreSQL refuses the object's text (named by byte offset); Redshift's COPY refuses the record
        Fails(
            says=("not UTF-8",),
            line_named=False,
            quarantined=False,
            redshift=Fails(says=("invalid or unsupported UTF8", "e9")),
        ),
    ),
    Case(
        "array-instead-of-object",
        "suite",
        lambda s: replace_line(s, DAY2, "[1, 2]"),
        # Redshift's COPY reads an array as a record whose JSONPaths find nothing: its ts is null
        Fails(
            says=("expected a JSON object",),
            redshift=Fails(says=("null: a value is needed", "no window would ever load it"), field="ts"),
        ),
    ),
    Case(
        "ts-not-a-number",
        "suite",
        lambda s: set_field(s, DAY1, "ts", "yesterday"),
        Fails(says=("expected",), redshift=Fails(says=("Invalid timestamp", "'yesterday'"))),
    ),
    # -- item 12: the smaller points that json_copy.py handles -----------------------------------------
    Case(
        "byte-order-mark",
        "12",
        _bom,
        # PostgreSQL refuses the object; Redshift's COPY the record the mark opens (its line 1)
        Fails(says=("byte order mark",), quarantined=False, redshift=Fails(says=("Invalid JSON",))),
    ),
    Case(
        "nan-is-not-json",
        "12",
        _nan,
        Fails(says=("NaN",), field='$["length"]', redshift=Fails(says=("Invalid JSON", "NaN"), field=None)),
    ),
    Case(
        "huge-ts",
        "12",
        lambda s: set_field(s, DAY1, "ts", 10**20),
        Fails(
            says=("expected epoch milliseconds",),
            never_says=("days=", "magnitude", "OverflowError"),
            redshift=Fails(says=("Invalid timestamp", "'100000000000000000000'")),
        ),
    ),
    # -- items 4, 5, 7: silent loss; the reconciliation per object is phase 2 ---------------------------
    # issue 18: the records that no window could load are refused as they are staged, naming the value
    Case(
        "play-without-ts",
        "4, 7, 18.1",
        lambda s: set_field(s, DAY1, "ts", ...),
        Fails(says=("null: a value is needed", "songplays.yml")),
    ),
    Case(
        "play-with-ts-minus-one",
        "4, 7, 18.1",
        lambda s: set_field(s, DAY1, "ts", -1),
        Fails(says=("-1 (1969-12-31 23:59:59.999000)", "no window would ever load it")),
    ),
    Case(
        "play-whose-ts-falls-on-the-next-day",
        "5, 7",
        lambda s: move_event_to_next_day(s, DAY1),
        Loaded(lost=1, added=1),  # the play moved to another ts: another identity, loaded in its own window
        hourly=True,
    ),
    Case(
        "play-two-days-away-from-its-file",
        "5, 7, 18.1",
        lambda s: set_field(s, DAY1, "ts", find(s, DAY1)[1]["ts"] + 2 * 24 * 3600 * 1000),
        Fails(says=("no window would ever load it", "its file's day is 2018-11-01")),
    ),
    # -- issue 18: what the models rely on, checked as each record is staged ---------------------------
    Case(
        "ts-in-seconds-instead-of-milliseconds",
        "18.1",
        lambda s: set_field(s, DAY1, "ts", find(s, DAY1)[1]["ts"] // 1000),
        Fails(says=("no window would ever load it", "(1970-01-18 "), never_says=("NotNullViolation",)),
    ),
    Case(
        "ts-in-seconds-on-an-event-that-is-no-play",
        "18.1",
        lambda s: set_field(s, DAY1, "ts", find(s, DAY1, "Home")[1]["ts"] // 1000, page="Home"),
        Fails(says=("no window would ever load it", "(1970-01-18 ")),
    ),
    Case(
        "session-id-null-on-a-play",
        "18.1",
        lambda s: set_field(s, DAY1, "sessionId", None),
        Fails(says=("null: a value is needed", "not_null(songplay_id)"), never_says=("NotNullViolation",)),
    ),
    Case(
        "item-in-session-missing-on-a-play",
        "18.1",
        lambda s: set_field(s, DAY2, "itemInSession", ..., n=3),
        Fails(says=("null: a value is needed", "not_null(songplay_id)")),
    ),
    Case(
        "user-id-empty-on-a-play",
        "18.1",
        lambda s: set_field(s, DAY1, "userId", "", n=2),
        Fails(says=('"": a value is needed', "not_null(songplay_id)")),
    ),
    Case(
        "negative-song-duration",
        "18.2",
        lambda s: set_song_field(s, "duration", -215.5),
        Fails(says=("-215.5 is not > 0", "songs.yml: range(duration)")),
    ),
    Case(
        "song-without-song-id",
        "18.6",
        lambda s: set_song_field(s, "song_id", None, n=3),
        Fails(says=("null: a value is needed", "songs.yml: not_null(song_id)")),
    ),
    Case(
        "negative-item-in-session",
        "18.6",
        lambda s: set_field(s, DAY2, "itemInSession", -1),
        Fails(says=("-1 is not >= 0", "staging_rules range(item_in_session)")),
    ),
    Case(
        "artist-latitude-out-of-range",
        "18.6",
        lambda s: set_song_field(s, "artist_latitude", 123.4, n=1),
        Fails(says=("123.4 is not <= 90", "range(latitude)")),
    ),
    Case(
        "play-naming-a-song-with-another-length",
        "18.6",
        _matched_play_with_another_length,
        Loaded(warns=("plays_matching_a_song_but_not_its_duration",)),
    ),
    Case("same-play-resent-with-other-content", "18.6", _same_play_resent_with_other_content, Loaded(), hourly=True),
    Case(
        "same-play-a-fraction-of-a-millisecond-later",
        "23",
        _same_play_a_fraction_of_a_millisecond_later,
        Loaded(added=1),
    ),
    # vocabularies: normalised (trimmed, canonical case), a value outside them counted, never dropped
    Case("page-in-lower-case", "18.4", lambda s: set_field(s, DAY1, "page", "nextsong"), Loaded()),
    Case(
        "page-with-a-trailing-space",
        "18.4",
        lambda s: set_field(s, DAY2, "page", "NextSong ", n=4),
        Loaded(),
        hourly=True,
    ),
    Case(
        "level-method-auth-in-other-spellings",
        "18.4",
        lambda s: [
            set_field(s, DAY1, "level", " PAID", n=5),
            set_field(s, DAY1, "method", "put", n=6),
            set_field(s, DAY1, "auth", "logged in ", n=7),
        ],
        Loaded(),
    ),
    Case(
        "page-outside-the-vocabulary",
        "18.4",
        lambda s: set_field(s, DAY1, "page", "Next Song"),
        Loaded(lost=1, warns=("staged_vocabulary(staging_events.page)", "Next Song")),
    ),
    # -- more of real data's shapes (issue 18: cases of our own) -----------------------------------------
    Case("day-file-with-crlf-line-ends", "18.7", _crlf, Loaded(), hourly=True),
    Case(
        "item-in-session-as-a-string",
        "18.7",
        _item_in_session_as_a_string,
        Loaded(),
    ),
    Case("song-file-with-two-songs", "18.7", _two_songs_in_one_file, Loaded()),
    Case(
        "day-file-as-one-json-array",
        "18.7",
        _one_json_array,
        # PostgreSQL refuses the array; Redshift's COPY reads it as one record whose JSONPaths find nothing
        Fails(
            says=("expected a JSON object",),
            redshift=Fails(says=("null: a value is needed", "no window would ever load it"), field="ts"),
        ),
    ),
]
