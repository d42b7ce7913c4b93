"""Expected warehouse contents computed straight from the JSON files, independently of the SQL.

It reads the source with the standard library and applies the rules stated in the issues: one
songplay per distinct play identity (session, item, user, ts: an exact repeat is one play, a repeat at
another ts another), songs matched on title, artist name and duration (smallest song_id when
several match), users from their latest event by ts, ISO weeks, weekday 0 = Sunday, empty strings as
NULL, year 0 as NULL.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

EPOCH = dt.datetime(1970, 1, 1)


def _blank(value):
    return None if isinstance(value, str) and not value.strip() else value


def _file_day(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(name[:10])
    except ValueError:
        return None  # a file named for no day is staged by no window


#: the vocabularies staging normalises (issue 18): trimmed, matched without regard to case; written out
#: here as the issue states them, not read from the catalogue the pipeline uses
VOCABULARIES = {
    "page": [
        *("NextSong", "Home", "Login", "Logout", "Settings", "Help", "About", "Error", "Upgrade", "Downgrade"),
        *("Register", "Cancel", "Save Settings", "Submit Upgrade", "Submit Downgrade", "Submit Registration"),
        *("Cancellation Confirmation", "Add Friend", "Add to Playlist", "Thumbs Up", "Thumbs Down", "Roll Advert"),
    ],
    "level": ["free", "paid"],
    "method": ["GET", "PUT"],
    "auth": ["Logged In", "Logged Out", "Guest", "Cancelled"],
    "gender": ["F", "M"],
}


def normalised(event: dict) -> dict:
    """The event with its vocabulary fields as staged: a known value in its canonical spelling, another
    value trimmed."""
    out = dict(event)
    for name, known in VOCABULARIES.items():
        value = out.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = next((k for k in known if k.casefold() == value.strip().casefold()), value.strip())
    return out


def events(source: Path, days: set[dt.date] | None = None, *, every_object: bool = False) -> list[dict]:
    """Every event of the day files (all files named ``YYYY-MM-DD…`` under ``log_data/``) of ``days``.

    Each event carries ``_object``, its file's key relative to the source, which decides between
    differing copies of one play. ``every_object``: not only ``*.json`` but every file named for a day
    whatever its extension (``….json.late``, ``….json.gz``), hidden ones (``.``, ``_``) aside, gzip ones
    (RFC 1952's first bytes 1f 8b) decompressed with the standard library.
    """
    rows = []
    pattern = "*" if every_object else "*.json"
    for path in sorted((source / "log_data").rglob(pattern), key=lambda p: p.relative_to(source).as_posix()):
        day = _file_day(path.name)
        if not path.is_file() or path.name.startswith((".", "_")):
            continue
        if day is not None and (days is None or day in days):
            key = path.relative_to(source).as_posix()
            data = path.read_bytes()
            text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
            rows.extend({**normalised(json.loads(line)), "_object": key} for line in text.splitlines() if line.strip())
    return rows


def _objects(text: str) -> list[dict]:
    """Every JSON object of ``text``, one after the other (a song file usually holds one)."""
    decoder, out, position = json.JSONDecoder(), [], 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        value, position = decoder.raw_decode(text, position)
        out.append(value)
    return out


def songs(source: Path) -> list[dict]:
    """Every song file's records, in the order of the files' keys, each with its key as ``_object``."""
    paths = sorted((source / "song_data").rglob("*.json"), key=lambda p: p.relative_to(source).as_posix())
    return [{**song, "_object": p.relative_to(source).as_posix()} for p in paths for song in _objects(p.read_text())]


def moment(ts_ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ts_ms)


def user_id(value) -> int | None:
    """A userId as the warehouse holds it: an integer, or None for a blank one."""
    value = _blank(value)
    return None if value is None else int(value)


def songplay_id(session_id: int, item_in_session: int, user: int | None, ts_ms: int) -> str:
    """The play's ts to the millisecond as 17 digits (YYYYMMDDHHMMSSmmm, UTC), then the first 15 hex digits
    of the md5 of its identity as text: session-item-user-ts, ts as 'YYYY-MM-DD HH:MM:SS.mmm' (with six
    digits, 'SS.uuuuuu', when the ts has a fraction of a millisecond: it is a play of its own)."""
    when = moment(ts_ms)
    ms = f"{when.microsecond // 1000:03d}"
    fraction = ms if when.microsecond % 1000 == 0 else f"{when.microsecond:06d}"
    stamp = f"{when:%Y-%m-%d %H:%M:%S}.{fraction}"
    text = f"{session_id}-{item_in_session}-{'' if user is None else user}-{stamp}"
    return f"{when:%Y%m%d%H%M%S}{ms}" + hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:15]


def _nulls_last(value) -> tuple:
    return (value is None, value)


def songplays(
    all_events: list[dict], all_songs: list[dict], start: dt.datetime, end: dt.datetime
) -> dict[tuple, tuple]:
    """songplay rows keyed by (session, item, user, ts), as tuples in the table's column order minus the id.

    Copies of one identity that differ elsewhere: the copy from the first file by key wins, then the
    smallest level, song, artist, length, location and user agent (None last).
    """
    catalog: dict[tuple, tuple] = {}
    published: dict[str, dict] = {}  # one version per song_id: the first file's (songs are in path order)
    for song in all_songs:
        published.setdefault(song["song_id"], song)
    for song in sorted(published.values(), key=lambda s: s["song_id"]):
        catalog.setdefault((song["title"], song["artist_name"], song["duration"]), (song["song_id"], song["artist_id"]))
    lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)
    chosen: dict[tuple, dict] = {}
    for event in all_events:
        when = moment(event["ts"])
        if event["page"] != "NextSong" or not lo <= when < hi:
            continue
        identity = (event["sessionId"], event["itemInSession"], user_id(event["userId"]), event["ts"])
        rank = (
            event.get("_object", ""),
            *(_nulls_last(_blank(event[f])) for f in ("level", "song", "artist", "length", "location", "userAgent")),
        )
        if identity not in chosen or rank < chosen[identity][0]:
            chosen[identity] = (rank, event)
    plays = {}
    for identity, (_, event) in chosen.items():
        when = moment(event["ts"])
        song_id, artist_id = catalog.get((event["song"], event["artist"], event["length"]), (None, None))
        agent = _blank(event["userAgent"])
        plays[identity] = (
            when,
            user_id(event["userId"]),
            event["level"],
            song_id,
            artist_id,
            event["sessionId"],
            _blank(event["location"]),
            agent.strip('"') if agent else None,
        )
    return plays


def users(window_events: list[dict], history: list[dict]) -> dict[int, tuple]:
    """Users seen in ``window_events``, described by their latest event in ``history``."""
    wanted = {user_id(e["userId"]) for e in window_events} - {None}
    latest: dict[int, dict] = {}
    for event in history:
        uid = user_id(event["userId"])
        if uid in wanted:
            key = (event["ts"], event["sessionId"], event["itemInSession"])
            if uid not in latest or key > (latest[uid]["ts"], latest[uid]["sessionId"], latest[uid]["itemInSession"]):
                latest[uid] = event
    return {uid: (e["firstName"], e["lastName"], e["gender"], e["level"]) for uid, e in latest.items()}


def in_window(all_events: list[dict], start: dt.datetime, end: dt.datetime) -> list[dict]:
    lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return [e for e in all_events if lo <= moment(e["ts"]) < hi]


def song_rows(all_songs: list[dict]) -> dict[str, tuple]:
    rows = {}
    for s in all_songs:
        rows.setdefault(s["song_id"], (s["title"], s["artist_id"], s["year"] or None, s["duration"]))
    return rows


def artist_rows(all_songs: list[dict]) -> dict[str, tuple]:
    rows = {}
    for s in sorted(all_songs, key=lambda s: s["song_id"]):
        rows.setdefault(
            s["artist_id"],
            (
                _blank(s["artist_name"]),
                _blank(s["artist_location"]),
                s["artist_latitude"],
                s["artist_longitude"],
            ),
        )
    return rows


def time_rows(plays: dict[str, tuple]) -> dict[dt.datetime, tuple]:
    rows = {}
    for play in plays.values():
        t = play[0]
        rows[t] = (t.hour, t.day, t.isocalendar()[1], t.month, t.year, t.isoweekday() % 7)
    return rows
