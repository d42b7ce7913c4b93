"""Compare the star tables of a warehouse with tests/oracle.py's computation from the JSON files."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import oracle
from warehouse_state import keyed, rows

if TYPE_CHECKING:
    from pathlib import Path


def days_touched(start: dt.datetime, end: dt.datetime) -> set[dt.date]:
    """The day files a window [start, end) stages: every date from start's to that of end's last instant."""
    last = (end - dt.timedelta(microseconds=1)).date()
    return {start.date() + dt.timedelta(days=n) for n in range((last - start.date()).days + 1)}


def assert_star_tables_equal_oracle(db: Any, source: Path, start: dt.datetime, end: dt.datetime) -> None:
    """Every star table holds exactly what the oracle computes for [start, end) from ``source``."""
    history = oracle.events(source, days_touched(start, end))
    all_songs = oracle.songs(source)
    plays = oracle.songplays(history, all_songs, start, end)
    assert plays, "the window should hold plays, or the comparison proves little"

    loaded = rows(
        db, "select start_time, user_id, level, song_id, artist_id, session_id, location, user_agent from songplays"
    )
    assert sorted(loaded, key=repr) == sorted(plays.values(), key=repr)
    assert rows(db, "select count(distinct songplay_id) from songplays")[0][0] == len(plays)
    assert keyed(db, "users", "user_id") == oracle.users(oracle.in_window(history, start, end), history)
    assert keyed(db, "songs", "song_id") == oracle.song_rows(all_songs)
    assert keyed(db, "artists", "artist_id") == oracle.artist_rows(all_songs)
    assert keyed(db, "time", "start_time") == oracle.time_rows(plays)
