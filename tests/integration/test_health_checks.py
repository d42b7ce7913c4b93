"""Health checks (issue 22): volume against the trailing week, freshness, quarantine as a signal, and the
warnings reaching people: recorded in quality_results, in the asset event's extra, sent as an alert.

Expected values are computed from the source's JSON lines here, not read back from the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from airflow.sdk import DAG, Asset
from airflow.sdk.exceptions import AirflowFailException
from generate_demo_data import generate
from support import faults
from support.runner import run_window
from support.warehouse_state import rows
from support.webhook import Webhook

from sparkify.operators import DataQualityOperator
from sparkify.quality.compile import compile_check
from sparkify.quality.kinds import CheckContext

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.UTC
FIRST = dt.date(2018, 11, 1)
DAYS = [FIRST + dt.timedelta(days=n) for n in range(8)]  # a week of history, then the day under test
HALVED = DAYS[-1]


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture(scope="module")
def week_source(tmp_path_factory) -> Path:
    """Eight days of events; the eighth keeps every other line: half its usual volume."""
    out = tmp_path_factory.mktemp("health-week")
    generate(out, songs=60, users=40, days=len(DAYS), events_per_day=300, seed=5, start=FIRST)
    path = faults.day_file(out, HALVED)
    faults.write_lines(path, faults.lines(path)[::2])
    return out


def events(source: Path, day: dt.date) -> list[dict]:
    return [json.loads(line) for line in faults.lines(faults.day_file(source, day))]


def plays(source: Path, day: dt.date) -> int:
    """Distinct NextSong plays (session, item, user, ts) of the day: the songplays the day should hold."""
    return len(
        {
            (e["sessionId"], e["itemInSession"], e["userId"], e["ts"])
            for e in events(source, day)
            if e["page"] == "NextSong"
        }
    )


@pytest.fixture
def webhook(monkeypatch):
    hook = Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_SPARKIFY_ALERTS", hook.connection())
    yield hook
    hook.stop()


def day_context(day: dt.date, run_id: str, **extra) -> dict:
    start = midnight(day)
    end = start + dt.timedelta(days=1)
    return {"params": {"window_start": start.isoformat(), "window_end": end.isoformat()}, "run_id": run_id, **extra}


def check(**kwargs) -> DataQualityOperator:
    return DataQualityOperator(task_id="run_quality_checks", **{"tables": ["songplays", "users"], **kwargs})


def result(db, run_id: str, name: str) -> tuple:
    (found,) = rows(
        db,
        "select passed, severity, observed, expected from quality_results where run_id = %s and check_name = %s",
        (run_id, name),
    )
    return found


def test_half_the_usual_plays_after_a_week_warns_everywhere_people_look(dag, week_source, db, webhook) -> None:
    run_window(
        dag, midnight(DAYS[0]), midnight(DAYS[-1]) + dt.timedelta(days=1), week_source, skip=("run_quality_checks",)
    )
    for day in DAYS[:-1]:  # the week before: checked day by day, so each day is history
        check().execute(day_context(day, f"history-{day}"))
    # the first day had no history: said, not warned
    passed, _, observed, expected = result(db, f"history-{DAYS[0]}", "songplays_volume")
    assert passed and observed == str(plays(week_source, DAYS[0]))
    assert expected == "no history yet: 0 of 7 periods before were checked (needs 7)"
    assert webhook.received == []  # nothing to warn about in the first week
    for checked, day in enumerate(DAYS[:-1]):  # each day's history: the days checked before it, and no others
        _, _, _, expected = result(db, f"history-{day}", "songplays_volume")
        assert expected == f"no history yet: {checked} of 7 periods before were checked (needs 7)"

    # new users: those whose first event of all the staged days falls in the day, counted from the lines
    first_seen: dict[int, int] = {}
    for day in DAYS:
        for e in events(week_source, day):
            if str(e["userId"]).strip():
                first_seen[int(e["userId"])] = min(first_seen.get(int(e["userId"]), e["ts"]), e["ts"])
    for day in DAYS[:-1]:
        start_ms = int(midnight(day).timestamp() * 1000)
        new = sum(1 for ts in first_seen.values() if start_ms <= ts < start_ms + 86_400_000)
        assert result(db, f"history-{day}", "new_users_volume")[2].split(":")[0] == str(new)

    usual = statistics.median(plays(week_source, day) for day in DAYS[:-1])
    today = plays(week_source, HALVED)
    ratio = today / usual
    assert ratio < 0.6  # half the usual volume, by the source's own numbers

    assets = [Asset(name="sparkify.songplays", uri="postgres://h:1/sparkify/public/songplays")]
    outlet_events: dict = defaultdict(SimpleNamespace)
    with DAG("health_checks", schedule=None):
        operator = check(outlets=assets)
    summary = operator.execute(day_context(HALVED, "halved", outlet_events=outlet_events))

    assert summary["warnings"] >= 1  # the run succeeded, with warnings
    passed, severity, observed, _ = result(db, "halved", "songplays_volume")
    assert (passed, severity) == (False, "warn")
    week_before = [plays(week_source, day) for day in reversed(DAYS[:-1])]  # the day before first
    assert observed == f"{today}: {ratio:.2f} × the median {usual:g} of {week_before}"
    extra = outlet_events[assets[0]].extra
    warned = {w["check"]: w for w in extra["warnings"]}
    assert warned["songplays_volume"]["observed"] == observed and extra["checks"]["warnings"] == len(warned)
    (message,) = webhook.received
    assert message["kind"] == "warning" and message["text"].startswith("[sparkify warning] ")
    assert f"songplays: songplays_volume (window, warn): observed {observed}" in message["text"]
    # the staged events, by the same measure
    staged_today = len(events(week_source, HALVED))
    staged_usual = statistics.median(len(events(week_source, day)) for day in DAYS[:-1])
    _, _, staged_observed, _ = result(db, "halved", "staged_events_volume")
    assert staged_observed.startswith(f"{staged_today}: {staged_today / staged_usual:.2f} × ")


def test_a_volume_check_compares_with_each_days_count_as_it_was_last_checked(dag, week_source, db) -> None:
    run_window(
        dag, midnight(DAYS[0]), midnight(DAYS[-1]) + dt.timedelta(days=1), week_source, skip=("run_quality_checks",)
    )
    for day in DAYS[:-1]:
        check(tables=["songplays"]).execute(day_context(day, f"history-{day}"))
    recorded = rows(
        db,
        "select window_start, observed_value from quality_results where check_name = 'songplays_volume'"
        " order by window_start",
    )
    assert recorded == [(midnight(day).replace(tzinfo=None), float(plays(week_source, day))) for day in DAYS[:-1]]

    # a day's plays deleted by hand after it was checked: the day's history is the count its check saw
    gone = DAYS[3]
    with db.cursor() as cursor:
        cursor.execute(
            "delete from songplays where start_time >= %s and start_time < %s",
            (midnight(gone), midnight(gone) + dt.timedelta(days=1)),
        )
    check(tables=["songplays"]).execute(day_context(HALVED, "after-delete"))
    as_checked = [plays(week_source, day) for day in reversed(DAYS[:-1])]  # the day before first
    assert result(db, "after-delete", "songplays_volume")[2].endswith(f" of {as_checked}")

    # a later run over a wider window holding that day checks it again (and fails: its plays are gone):
    # the count is taken anew from then on
    wider = {
        "params": {
            "window_start": midnight(gone).isoformat(),
            "window_end": (midnight(gone) + dt.timedelta(days=2)).isoformat(),
        },
        "run_id": "wider",
    }
    with pytest.raises(AirflowFailException, match="loaded_equals_staged"):
        check(tables=["songplays"]).execute(wider)
    check(tables=["songplays"]).execute(day_context(HALVED, "after-wider"))
    as_now = [0 if day == gone else plays(week_source, day) for day in reversed(DAYS[:-1])]
    assert result(db, "after-wider", "songplays_volume")[2].endswith(f" of {as_now}")


def scheduled_hour(start: dt.datetime, run_type: str) -> dict:
    run_id = f"{run_type}__{start.isoformat()}"
    return {
        "params": {},
        "data_interval_start": start,
        "data_interval_end": start + dt.timedelta(hours=1),
        "run_id": run_id,
        "dag_run": SimpleNamespace(run_type=run_type, run_id=run_id),
    }


def test_an_old_source_warns_on_a_scheduled_run_and_not_on_a_backfill(dag, week_source, db, webhook) -> None:
    run_window(dag, midnight(DAYS[0]), midnight(DAYS[2]), week_source, skip=("run_quality_checks",))
    newest = max(e["ts"] for day in DAYS[:2] for e in events(week_source, day))  # staged: the window's days ± 1
    newest = max(newest, max(e["ts"] for e in events(week_source, DAYS[2])))
    hour = midnight(DAYS[3]) + dt.timedelta(hours=12)  # a day and a half after the source's last event
    age = hour + dt.timedelta(hours=1) - dt.datetime.fromtimestamp(newest / 1000, UTC)

    check(tables=["songplays"]).execute(scheduled_hour(hour, "scheduled"))
    passed, severity, observed, expected = result(db, f"scheduled__{hour.isoformat()}", "source_freshness")
    assert (passed, severity) == (False, "warn") and expected == "age vs the window's end: warn after 6 h"
    assert observed.startswith(f"{age / dt.timedelta(hours=1):.2f} h old")
    assert any("source_freshness" in m["text"] for m in webhook.received)

    check(tables=["songplays"]).execute(scheduled_hour(hour, "backfill"))
    passed, _, observed, expected = result(db, f"backfill__{hour.isoformat()}", "source_freshness")
    assert passed and observed == "skipped" and expected.startswith("not checked on a backfill")


def test_quarantined_records_warn_with_their_reasons_and_fail_above_the_threshold(
    dag, week_source, db, tmp_path
) -> None:
    source = faults.copy_source(week_source, tmp_path / "source")
    faults.set_field(source, DAYS[0], "userId", "abc", n=0)
    faults.set_field(source, DAYS[0], "userId", "xyz", n=1)
    faults.replace_line(source, DAYS[0], '{"artist": "broken', n=2)
    window = (midnight(DAYS[0]), midnight(DAYS[1]))
    run_window(dag, *window, source, skip=("run_quality_checks",), bad_records="quarantine")
    reasons = rows(db, "select field, reason, count(*) from quarantined_records group by 1, 2 order by 3 desc, 1, 2")
    assert sum(n for *_, n in reasons) == 3  # the three lines broken above

    context = day_context(DAYS[0], "quarantine")
    summary = check(tables=["songplays"]).execute(context)
    passed, severity, observed, expected = result(db, "quarantine", "quarantined_events")
    assert summary["warnings"] >= 1 and (passed, severity) == (False, "warn")
    assert observed.startswith("3 records quarantined (") and expected == "no record quarantined; fails above 50"
    for field, reason, n in reasons:
        assert f"{n} × {field or 'record'}: {reason}" in observed

    ctx = CheckContext("songplays", "start_time", "test")
    strict = compile_check(
        ctx, {"quarantined": {"name": "strict", "table": "staging_events", "time_column": "ts", "fail_above": 2}}
    )
    with pytest.raises(AirflowFailException, match=r"songplays: strict \(window, error\): observed 3 records"):
        DataQualityOperator(task_id="strict", tables=[], checks=strict).execute({**context, "run_id": "strict"})
    assert result(db, "strict", "strict")[:2] == (False, "error")
