"""The analytics team's queries, answered on the Udacity sample and checked against the JSON itself."""

from __future__ import annotations

import collections
import datetime as dt
import subprocess
import sys

import pytest
from support import oracle
from support.paths import ROOT
from support.runner import run_window

from sparkify.models.sql_files import render_sql

UTC = dt.UTC
START, END = dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 12, 1, tzinfo=UTC)


@pytest.fixture
def sample_plays(dag, udacity_source, db) -> list[tuple]:
    run_window(dag, START, END, udacity_source)
    events = oracle.events(udacity_source)
    return list(oracle.songplays(events, oracle.songs(udacity_source), START, END).values())


def answer(db, name: str) -> list[tuple]:
    return db.execute(render_sql(f"analytics/{name}.sql", "postgres")).fetchall()


def test_plays_per_hour(db, sample_plays) -> None:
    counts = collections.Counter(p[0].hour for p in sample_plays)
    assert answer(db, "plays_per_hour") == sorted(counts.items())


def test_free_versus_paid(db, sample_plays) -> None:
    plays = collections.Counter(p[2] for p in sample_plays)
    listeners = {level: len({p[1] for p in sample_plays if p[2] == level}) for level in plays}
    rows = answer(db, "free_vs_paid")
    assert [(r[0], r[1], r[2]) for r in rows] == [(lvl, plays[lvl], listeners[lvl]) for lvl in sorted(plays)]
    assert float(sum(r[3] for r in rows)) == pytest.approx(100, abs=0.2)


def test_busiest_weekdays(db, sample_plays) -> None:
    counts = collections.Counter(p[0].isoweekday() % 7 for p in sample_plays)
    assert answer(db, "busiest_weekdays") == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def test_top_songs_and_artists(db, sample_plays, udacity_source) -> None:
    songs = {s["song_id"]: s for s in oracle.songs(udacity_source)}
    artist_names = oracle.artist_rows(list(songs.values()))
    known = [p for p in sample_plays if p[3] is not None]
    assert known, "the sample matches at least one song"
    by_song = collections.Counter((songs[p[3]]["title"], artist_names[p[4]][0]) for p in known)
    expected_songs = sorted(((t, a, n) for (t, a), n in by_song.items()), key=lambda r: (-r[2], r[0]))[:10]
    assert answer(db, "top_songs") == expected_songs
    by_artist = collections.Counter(artist_names[p[4]][0] for p in known)
    assert answer(db, "top_artists") == sorted(by_artist.items(), key=lambda kv: (-kv[1], kv[0]))[:10]


def test_sessions_per_user(db, sample_plays) -> None:
    sessions = collections.defaultdict(set)
    plays = collections.Counter()
    for p in sample_plays:
        sessions[p[1]].add(p[5])
        plays[p[1]] += 1
    expected = sorted(((uid, len(s), plays[uid]) for uid, s in sessions.items()), key=lambda r: (-r[1], -r[2], r[0]))
    assert [(r[0], r[4], r[5]) for r in answer(db, "sessions_per_user")] == expected[:10]


def test_make_analytics_prints_tables_and_draws_the_chart(db, sample_plays, tmp_path, warehouse_dsn) -> None:
    chart = tmp_path / "plays.png"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report.py"), "--analytics", "--chart", str(chart)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "== plays per hour" in done.stdout and "== top songs" in done.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000
