#!/usr/bin/env python3
"""Generate Sparkify demo data in the exact layout and quirks of the Udacity dataset.

    python scripts/generate_demo_data.py OUT [--songs N] [--users N] [--days N] [--events-per-day N]
                                             [--start YYYY-MM-DD] [--seed N]

Writes ``OUT/song_data/<A>/<B>/<C>/TR….json`` (one JSON object per file), ``OUT/log_data/YYYY/MM/
YYYY-MM-DD-events.json`` (JSON lines) and ``OUT/log_json_path.json``. The quirks are the real data's:
``year`` 0 for unknown years, null coordinates and empty locations, an empty ``userId`` and null names
on logged-out pages, ``ts`` in epoch milliseconds, ``registration`` as a float, user agents wrapped in
quotes with escaped slashes, and unicode names. Most NextSong events play a generated song (same title,
artist and length as its file); some play songs that are not in ``song_data``. The same arguments give
the same bytes. Events are written a day at a time, so millions of events need little memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import string
from dataclasses import dataclass
from pathlib import Path

LOG_JSONPATHS = [
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
]
WORDS = [
    "love",
    "night",
    "heart",
    "fire",
    "dream",
    "rain",
    "city",
    "gold",
    "river",
    "light",
    "shadow",
    "blue",
    "wild",
    "road",
    "summer",
    "ghost",
    "echo",
    "storm",
    "paper",
    "silver",
    "honey",
    "ocean",
    "midnight",
    "velvet",
    "neon",
    "thunder",
    "garden",
    "mirror",
    "sugar",
    "winter",
    "stone",
]
UNICODE_WORDS = ["Café", "Über", "Señorita", "Fußball", "Ça Va", "Nöel", "東京", "Мечта", "Søren", "Ætherial"]
FIRST_NAMES = [
    "Lily",
    "Jacob",
    "Kaylee",
    "Walter",
    "Chloe",
    "Aleena",
    "Jayden",
    "Tegan",
    "Ryan",
    "Mohammad",
    "Zoë",
    "José",
    "Björn",
    "Amélie",
    "Chiara",
    "Anaïs",
    "Kai",
    "Noor",
    "Elif",
    "Mateo",
]
LAST_NAMES = [
    "Koch",
    "Garrison",
    "Summers",
    "Frye",
    "Cuevas",
    "Kirby",
    "Bell",
    "Levine",
    "Smith",
    "Rodriguez",
    "Müller",
    "García",
    "Núñez",
    "Øster",
    "Đorđević",
    "O'Brien",
    "Nguyen",
    "Larsen",
    "Costa",
    "Silva",
]
PLACES = [
    "San Francisco-Oakland-Hayward, CA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Atlanta-Sandy Springs-Roswell, GA",
    "Tampa-St. Petersburg-Clearwater, FL",
    "Lansing-East Lansing, MI",
    "Portland-South Portland, ME",
    "San José, CA",
    "Montréal, QC",
]
ARTIST_PLACES = [
    "Detroit, MI",
    "London, England",
    "Reykjavík, Iceland",
    "Kingston, Jamaica",
    "Los Angeles, CA",
    "Berlin, Germany",
    "São Paulo, Brazil",
    "Nashville, TN",
    "Tokyo, Japan",
    "Dublin, Ireland",
]
AGENTS = [  # real user agents of the era, as the Udacity logs carry them
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
]
BROWSE_PAGES = ["Home", "Settings", "Help", "About", "Save Settings", "Error"]


@dataclass(frozen=True)
class Song:
    song_id: str
    title: str
    artist_id: str
    artist_name: str
    duration: float


@dataclass
class User:
    user_id: str
    first_name: str
    last_name: str
    gender: str
    level: str
    location: str
    agent: str
    registration: float


def _code(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def _title(rng: random.Random) -> str:
    words = [rng.choice(WORDS).capitalize() for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words) + 1), rng.choice(UNICODE_WORDS))
    return " ".join(words)


def write_songs(out: Path, rng: random.Random, count: int) -> list[Song]:
    """One file per song, like the Million Song Dataset subset: song_data/<A>/<B>/<C>/TR….json."""
    artists = []
    for _ in range(max(1, count // 3)):
        located = rng.random() < 0.6
        artists.append(
            {
                "artist_id": _code(rng, "AR"),
                "artist_latitude": round(rng.uniform(-60, 70), 5) if located else None,
                "artist_longitude": round(rng.uniform(-170, 170), 5) if located else None,
                "artist_location": rng.choice(ARTIST_PLACES) if located or rng.random() < 0.3 else "",
                "artist_name": _title(rng)
                if rng.random() < 0.5
                else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            }
        )
    songs = []
    for _ in range(count):
        artist = rng.choice(artists)
        track = _code(rng, "TR")
        song = {
            "num_songs": 1,
            **artist,
            "song_id": _code(rng, "SO"),
            "title": _title(rng),
            "duration": round(rng.uniform(30, 600), 5),
            "year": 0 if rng.random() < 0.45 else rng.randint(1960, 2010),
        }
        path = out / "song_data" / track[2] / track[3] / track[4] / f"{track}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(song, ensure_ascii=False))
        songs.append(Song(song["song_id"], song["title"], artist["artist_id"], artist["artist_name"], song["duration"]))
    return songs


def make_users(rng: random.Random, count: int, start: dt.datetime) -> list[User]:
    users = []
    for number in range(1, count + 1):
        registered = start - dt.timedelta(days=rng.uniform(1, 60))
        users.append(
            User(
                user_id=str(number),
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                gender=rng.choice("FM"),
                level="paid" if rng.random() < 0.3 else "free",
                location=rng.choice(PLACES),
                agent=f'"{rng.choice(AGENTS)}"',
                registration=float(int(registered.timestamp() * 1000)),
            )
        )
    return users


def _event(user: User | None, **fields: object) -> dict:
    event = {
        "artist": None,
        "auth": "Logged In",
        "firstName": None,
        "gender": None,
        "itemInSession": 0,
        "lastName": None,
        "length": None,
        "level": "free",
        "location": None,
        "method": "GET",
        "page": "Home",
        "registration": None,
        "sessionId": 0,
        "song": None,
        "status": 200,
        "ts": 0,
        "userAgent": None,
        "userId": "",
    }
    if user is not None:
        event.update(
            firstName=user.first_name,
            gender=user.gender,
            lastName=user.last_name,
            level=user.level,
            location=user.location,
            registration=user.registration,
            userAgent=user.agent,
            userId=user.user_id,
        )
    else:
        event.update(auth="Logged Out", level=fields.pop("level", "free"))
    event.update(fields)
    return event


def day_events(
    rng: random.Random, day: dt.date, users: list[User], songs: list[Song], count: int, session_ids: list[int]
) -> list[dict]:
    """About ``count`` events for one UTC day: sessions of browsing and NextSong plays."""
    day_start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
    events: list[dict] = []
    while len(events) < count:
        session_ids[0] += 1
        session = session_ids[0]
        ts = day_start + rng.randrange(0, 86_400_000 - 3_600_000)
        item = 0
        if rng.random() < 0.08:  # a logged-out visitor: empty userId, no names
            for page in ("Home", "Login"):
                events.append(
                    _event(
                        None,
                        page=page,
                        sessionId=session,
                        itemInSession=item,
                        ts=ts,
                        method="PUT" if page == "Login" else "GET",
                        status=307 if page == "Login" else 200,
                    )
                )
                item += 1
                ts += rng.randrange(1_000, 60_000)
            continue
        user = rng.choice(users)
        for _ in range(rng.randint(1, 25)):
            roll = rng.random()
            if roll < 0.8:
                if rng.random() < 0.85:
                    song = rng.choice(songs)
                    title, artist, length = song.title, song.artist_name, song.duration
                else:  # a song that song_data does not hold
                    title, artist, length = _title(rng), _title(rng), round(rng.uniform(30, 600), 5)
                events.append(
                    _event(
                        user,
                        page="NextSong",
                        method="PUT",
                        artist=artist,
                        song=title,
                        length=length,
                        sessionId=session,
                        itemInSession=item,
                        ts=ts,
                    )
                )
                ts += int(length * 1000)
            elif roll < 0.82 and user.level == "free":
                events.append(
                    _event(
                        user,
                        page="Submit Upgrade",
                        method="PUT",
                        status=307,
                        sessionId=session,
                        itemInSession=item,
                        ts=ts,
                    )
                )
                user.level = "paid"
                ts += rng.randrange(1_000, 30_000)
            elif roll < 0.83 and user.level == "paid":
                events.append(
                    _event(
                        user,
                        page="Submit Downgrade",
                        method="PUT",
                        status=307,
                        sessionId=session,
                        itemInSession=item,
                        ts=ts,
                    )
                )
                user.level = "free"
                ts += rng.randrange(1_000, 30_000)
            else:
                events.append(_event(user, page=rng.choice(BROWSE_PAGES), sessionId=session, itemInSession=item, ts=ts))
                ts += rng.randrange(1_000, 60_000)
            item += 1
            if ts >= day_start + 86_400_000:
                break
    events = [e for e in events if e["ts"] < day_start + 86_400_000]
    events.sort(key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"]))
    return events


def _log_line(event: dict) -> str:
    # the real files escape slashes ("Mozilla\/5.0") and keep non-ASCII as \u escapes
    return json.dumps(event, separators=(",", ":")).replace("/", "\\/")


def generate(
    out: str | Path,
    *,
    songs: int = 120,
    users: int = 40,
    days: int = 3,
    events_per_day: int = 400,
    start: dt.date = dt.date(2018, 11, 1),
    seed: int = 42,
) -> dict[str, int]:
    """Write a dataset to ``out`` and return what was written."""
    out = Path(out)
    rng = random.Random(seed)
    song_list = write_songs(out, rng, songs)
    people = make_users(rng, users, dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC))
    (out / "log_json_path.json").write_text(
        json.dumps({"jsonpaths": [f"$['{name}']" for name in LOG_JSONPATHS]}, indent=0)
    )
    session_ids = [0]
    total = 0
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        path = out / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        events = day_events(rng, day, people, song_list, events_per_day, session_ids)
        with path.open("w") as handle:
            for event in events:
                handle.write(_log_line(event) + "\n")
        total += len(events)
    return {"songs": songs, "users": users, "days": days, "events": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to write (created if missing)")
    parser.add_argument("--songs", type=int, default=120)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--events-per-day", type=int, default=400)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2018, 11, 1))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    written = generate(
        args.out,
        songs=args.songs,
        users=args.users,
        days=args.days,
        events_per_day=args.events_per_day,
        start=args.start,
        seed=args.seed,
    )
    print(
        f"wrote {written['songs']} song files and {written['events']} events over {written['days']} day(s) to {args.out}"
    )


if __name__ == "__main__":
    main()
