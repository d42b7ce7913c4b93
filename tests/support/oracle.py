"""Expected warehouse contents computed straight from the JSON files, independently of the SQL.

It reads the source with the standard library and applies the rules stated in the issues: one
songplay per NextSong event, songs matched on title, artist name and duration (smallest song_id when
several match), users from their latest event by ts, ISO weeks, weekday 0 = Sunday, empty strings as
NULL, year 0 as NULL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

EPOCH = dt.datetime(1970, 1, 1)


def _blank(value):
    return None if isinstance(value, str) and not value.strip() else value


def events(source: Path, days: set[dt.date] | None = None) -> list[dict]:
    rows = []
    for path in sorted((source / "log_data").rglob("*.json")):
        day = dt.date.fromisoformat(path.name[:10])
        if days is None or day in days:
            rows.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return rows


def songs(source: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((source / "song_data").rglob("*.json"))]


def moment(ts_ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ts_ms)


def songplays(all_events: list[dict], all_songs: list[dict], start: dt.datetime, end: dt.datetime) -> dict[str, tuple]:
    """songplay rows keyed by (session, item, user), as tuples in the table's column order minus the id."""
    catalog: dict[tuple, tuple] = {}
    for song in sorted(all_songs, key=lambda s: s["song_id"]):
        catalog.setdefault((song["title"], song["artist_name"], song["duration"]), (song["song_id"], song["artist_id"]))
    lo, hi = start.replace(tzinfo=None), end.replace(tzinfo=None)
    plays = {}
    for event in all_events:
        when = moment(event["ts"])
        if event["page"] != "NextSong" or not lo <= when < hi:
            continue
        song_id, artist_id = catalog.get((event["song"], event["artist"], event["length"]), (None, None))
        agent = _blank(event["userAgent"])
        plays[(event["sessionId"], event["itemInSession"], event["userId"])] = (
            when,
            int(event["userId"]),
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
    wanted = {e["userId"] for e in window_events if _blank(e["userId"])}
    latest: dict[str, dict] = {}
    for event in history:
        uid = event["userId"]
        if uid in wanted:
            key = (event["ts"], event["sessionId"], event["itemInSession"])
            if uid not in latest or key > (latest[uid]["ts"], latest[uid]["sessionId"], latest[uid]["itemInSession"]):
                latest[uid] = event
    return {int(uid): (e["firstName"], e["lastName"], e["gender"], e["level"]) for uid, e in latest.items()}


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
