"""A day file that changes after some of its hours were loaded (issue 10, item 7, across windows).

The run that stages the new version loads only its own window; the hours loaded before must not stay
stale without a word: the changed hours are named by a failing check until a run reloads them, and then
the tables equal what the oracle computes from the new JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowFailException
from generate_demo_data import generate
from support import faults
from support.faults import DAY1
from support.runner import run_window
from support.star_schema import assert_star_schema_matches
from support.warehouse_state import recreate_tables, rows

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.UTC
MORNING = (dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 11, 1, 12, tzinfo=UTC))
AFTERNOON = (MORNING[1], dt.datetime(2018, 11, 1, 18, tzinfo=UTC))


@pytest.fixture
def source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("changed-source")
    generate(out, songs=20, users=8, days=2, events_per_day=300, seed=17)
    return out


def _morning_play(path: Path) -> tuple[int, dict]:
    for index, line in enumerate(faults.lines(path)):
        record = json.loads(line)
        hour = dt.datetime.fromtimestamp(record["ts"] / 1000, UTC).hour
        if record.get("page") == "NextSong" and 3 <= hour < 12:
            return index, record
    raise AssertionError("the generated day has no morning play")


def test_a_day_file_changed_after_its_hours_loaded_names_them_until_they_are_reloaded(dag, source, db) -> None:
    recreate_tables(db)
    run_window(dag, *MORNING, source)

    day_file = faults.day_file(source, DAY1)
    text = faults.lines(day_file)
    index, play = _morning_play(day_file)
    del text[index]  # the producer re-sent the day without one morning play
    faults.write_lines(day_file, text)
    changed_hour = dt.datetime.fromtimestamp(play["ts"] / 1000, UTC).replace(minute=0, second=0, microsecond=0)

    with pytest.raises(AirflowFailException) as raised:
        run_window(dag, *AFTERNOON, source)
    message = str(raised.value)
    assert "hours_to_reload" in message and f"{changed_hour:%Y-%m-%d %H}:00" in message
    assert rows(db, "select hour from stale_hours") == [(changed_hour.replace(tzinfo=None),)]

    # the repair the check asks for: run the morning again; then nothing is stale, and the tables are the JSON's
    run_window(dag, *MORNING, source)
    assert rows(db, "select count(*) from stale_hours") == [(0,)]
    run_window(dag, *AFTERNOON, source)
    assert_star_schema_matches(db, source, MORNING[0], AFTERNOON[1])


def test_restaging_an_unchanged_hour_marks_nothing(dag, source, db) -> None:
    recreate_tables(db)
    run_window(dag, *MORNING, source)
    day_file = faults.day_file(source, DAY1)
    late = json.loads(faults.lines(day_file)[-1])  # a late event of the evening: only later hours change
    faults.write_lines(day_file, [*faults.lines(day_file), json.dumps({**late, "itemInSession": 999})])
    run_window(dag, *AFTERNOON, source)
    assert rows(db, "select count(*) from stale_hours") == [(0,)]
