"""The benchmark's data: the project's generator, 30 days plus one held-back day, and the floor's CSV.

``.local/bench-<N>/data`` holds 31 days of events (``N / 30`` a day) and song files scaled with ``N``
(3,000 for a million events). The month under test is the first 30 days; the 31st day is the "hour
after 30 days of history", the same size as the first day's hours. With ``months`` > 1 (the benchmark's
``--history-months``) it holds ``30 * months + 1`` days: the generator writes day after day from one
seeded random stream, so the first 31 days are the same events. Generated once, reused after.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from generate_demo_data import LOG_JSONPATHS, generate

from benchmarks.settings import LOCAL

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

START = dt.date(2018, 11, 1)
MONTH_DAYS = 30
DAY_FILE = "log_data/{d:%Y}/{d:%m}/{d:%Y-%m-%d}-events.json"
_COMPLETE = ".complete.json"


@dataclass(frozen=True)
class Dataset:
    folder: Path
    events_requested: int
    events_month: int
    events_extra_day: int
    songs: int
    users: int
    day_files_bytes: int
    months: int = 1

    @property
    def month_start(self) -> dt.datetime:
        return dt.datetime(START.year, START.month, START.day, tzinfo=dt.UTC)

    @property
    def month_end(self) -> dt.datetime:
        return self.month_start + dt.timedelta(days=MONTH_DAYS)

    def month_window(self, month: int) -> tuple[dt.datetime, dt.datetime]:
        """The ``month``-th block of 30 days (1 is the month under test)."""
        start = self.month_start + dt.timedelta(days=MONTH_DAYS * (month - 1))
        return start, start + dt.timedelta(days=MONTH_DAYS)


def song_count(events: int) -> int:
    return max(100, round(events * 0.003))


def user_count(events: int) -> int:
    return min(10_000, max(40, events // 1000))


def ensure_dataset(events: int, home: Path | None = None, months: int = 1) -> Dataset:
    """Generate (or reuse) the data set for ``events`` events per 30 days over ``months`` of them, plus a day."""
    home = home or LOCAL / f"bench-{events}"
    folder = home / "data"
    marker = folder / _COMPLETE
    if marker.is_file():
        dataset = Dataset(folder=folder, **json.loads(marker.read_text()))
        if dataset.months >= months:
            return dataset
    songs, users = song_count(events), user_count(events)
    generate(
        folder,
        songs=songs,
        users=users,
        days=MONTH_DAYS * months + 1,
        events_per_day=max(1, events // MONTH_DAYS),
        start=START,
        seed=12,
    )
    day_files = [folder / DAY_FILE.format(d=START + dt.timedelta(days=n)) for n in range(MONTH_DAYS + 1)]
    counts = [sum(1 for _ in path.open("rb")) for path in day_files]
    dataset = Dataset(
        folder=folder,
        events_requested=events,
        events_month=sum(counts[:MONTH_DAYS]),
        events_extra_day=counts[MONTH_DAYS],
        songs=songs,
        users=users,
        day_files_bytes=sum(path.stat().st_size for path in day_files[:MONTH_DAYS]),
        months=months,
    )
    marker.write_text(json.dumps({k: v for k, v in asdict(dataset).items() if k != "folder"}))
    return dataset


def staged_day_files(dataset: Dataset, margin_days: int = 1) -> list[tuple[str, Path]]:
    """(key, path) of the day files that stage_events reads for the month's window, in order: the month's,
    and those of ``margin_days`` days either side that exist (the stage task's ``margin_days``: events of
    the window can sit in a neighbouring day's file). The floor copies these, the same rows."""
    days = range(-margin_days, MONTH_DAYS + margin_days)
    keys = [DAY_FILE.format(d=START + dt.timedelta(days=n)) for n in days]
    return [(key, dataset.folder / key) for key in keys if (dataset.folder / key).is_file()]


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return repr(value)


def floor_csv(dataset: Dataset) -> Path:
    """The events stage_events stages for the month (:func:`staged_day_files`) as CSV for ``COPY
    staging_events FROM STDIN (FORMAT csv)``: the same rows the pipeline stages, already encoded, so that
    COPY has nothing left to do but load. Written once."""
    path = dataset.folder.parent / "floor-staged-events.csv"
    if path.is_file():
        return path
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as out:
        for key, day_file in staged_day_files(dataset):
            quoted_key = _csv_value(key)
            with day_file.open(encoding="utf-8") as lines:
                for line in lines:
                    event = json.loads(line)
                    values = [event.get(name) for name in LOG_JSONPATHS]
                    ts = values[15]
                    values[15] = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    values[17] = values[17] or None  # user_id is an integer column: "" stages as NULL
                    out.write(",".join(_csv_value(v) for v in values) + "," + quoted_key + "\n")
    partial.rename(path)
    return path


def read_through(paths: Iterable[Path]) -> int:
    """Read each file once, in 1 MiB chunks, so that what reads it next finds it in the page cache (never
    whole: a whole-file buffer would raise this process's, and its children's, peak RSS, as Linux carries
    it into vfork + exec). Returns the bytes read."""
    size = 0
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                size += len(chunk)
    return size


def warm_month_inputs(dataset: Dataset) -> dict[str, float]:
    """Read every file the month's run reads (its day files, every song file, the JSONPaths file) once, so
    that the run finds them in the page cache as the floor finds its CSV (the floor warms it the same way).
    Without it, whatever ran before evicts them: right after the floor, the month's ``stage_songs`` took
    5.6 s for 3,000 song files at 1 M events instead of 1.0 s, and the first day file at 10 M 18 s instead
    of 6. Returns the files and bytes read and the seconds it took."""
    began = time.perf_counter()
    paths = [path for _, path in staged_day_files(dataset)]
    paths += sorted((dataset.folder / "song_data").rglob("*.json"))
    paths.append(dataset.folder / "log_json_path.json")
    size = read_through(paths)
    return {"files": len(paths), "bytes": size, "seconds": time.perf_counter() - began}
