"""The assertion most integration tests end with: every star table equals the oracle's computation."""

from __future__ import annotations

import datetime as dt

from support import oracle
from support.warehouse_state import keyed, rows


def days_touched(start: dt.datetime, end: dt.datetime) -> set[dt.date]:
    """The day files a window [start, end) stages: every date from start's to that of end's last instant,
    and the day before and after them (an event filed under a neighbouring day loads in any run order)."""
    first = start.date() - dt.timedelta(days=1)
    last = (end - dt.timedelta(microseconds=1)).date() + dt.timedelta(days=1)
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


def assert_star_schema_matches(db, source, start, end, *, every_object: bool = False) -> None:
    """Compare every star table with what the oracle computes from the JSON files (``every_object``: from
    every file named for a day, gzip ones too: ``oracle.events``)."""
    history = oracle.events(source, days_touched(start, end), every_object=every_object)
    all_songs = oracle.songs(source)
    plays = oracle.songplays(history, all_songs, start, end)

    assert len(plays) == rows(db, "select count(*) from songplays")[0][0]
    loaded_plays = sorted(
        rows(
            db, "select start_time, user_id, level, song_id, artist_id, session_id, location, user_agent from songplays"
        ),
        key=repr,
    )
    assert loaded_plays == sorted(plays.values(), key=repr)
    assert rows(db, "select count(distinct songplay_id) from songplays")[0][0] == len(plays)
    assert {r[0] for r in rows(db, "select songplay_id from songplays")} == {oracle.songplay_id(*i) for i in plays}
    # ids in time order: sorting by the key sorts by start_time (to the millisecond)
    by_id = rows(db, "select date_trunc('milliseconds', start_time) from songplays order by songplay_id")
    assert by_id == sorted(by_id)
    matched = sum(1 for p in plays.values() if p[3] is not None)
    assert rows(db, "select count(song_id) from songplays")[0][0] == matched

    assert keyed(db, "users", "user_id") == oracle.users(oracle.in_window(history, start, end), history)
    assert keyed(db, "songs", "song_id") == oracle.song_rows(all_songs)
    assert keyed(db, "artists", "artist_id") == oracle.artist_rows(all_songs)
    assert keyed(db, "time", "start_time") == oracle.time_rows(plays)
