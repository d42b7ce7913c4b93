"""The fault and bad-input suite (issue 10): one case per kind of fault, each stating its outcome.

A clean generated source (two days of events) is copied, one fault is injected the way real data breaks,
and the DAG's tasks run over the two days. The outcomes:

* ``Loaded(lost, added)``: the run succeeds; the star tables equal what ``oracle.py`` computes from the
  faulty JSON, and against a clean run's tables ``lost`` plays are missing and ``added`` are new (on
  purpose: a repeat at another ``ts`` is another play). Doubled rows: always 0. With ``hourly``, the 48
  hourly runs, latest hour first, also equal the two-day run.
* ``Fails(...)``: the run fails at once with ``AirflowFailException`` (Airflow spends no retry on it) and
  a message naming the object, the line and the field; no star table changed; a rerun without repair
  fails with the same message. Under the quarantine policy the record is kept aside in
  ``quarantined_records`` with that object, line and field, and the rest loads equal to the oracle over the
  JSON without that record (or, for a fault of the whole object, the run fails under that policy too).
  After repairing the object, a rerun equals the clean run.
* ``Retries``: a fault outside data and configuration (a lost connection): the error is one Airflow retries.

Both targets: every case runs on PostgreSQL (the embedded default) and on Redshift (the emulator, reading
the faulty source from S3 through COPY), each with its outcome there (``Fails.redshift`` where Redshift's
COPY words or reads a fault otherwise). The cases live in ``tests/support/faults.py``, which also writes
the docs' table (docs/faults.md).

A case may be marked ``xfail`` (``Case.xfail``, always strict) to state an outcome that a later change
must bring: it then fails the suite as soon as it passes, so that the mark is removed. None is marked.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from airflow.sdk.exceptions import AirflowFailException
from generate_demo_data import generate
from support import faults
from support.faults import DATA_FAULTS, DAY1, END, HOURS, START, Case, Fails, Loaded, Where
from support.moto_server import s3_client, upload_folder
from support.net import free_port
from support.runner import as_rendered, run_window
from support.warehouse_state import STAR_TABLES, recreate_tables, rows, snapshot

from sparkify.errors import RETRY, classify

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.kind, marks=marks)


#: the cases per target and outcome: a change that drops cases (or a filter that matches none) fails here
CASES_PER_OUTCOME = {
    ("postgres", "loaded"): 19,
    ("postgres", "fails, quarantined"): 22,
    ("postgres", "fails, the object fails under quarantine too"): 2,
    ("redshift", "loaded"): 19,
    ("redshift", "fails, quarantined"): 24,
}


def outcome_of(case: Case, target: str) -> str:
    if isinstance(case.outcome, Loaded):
        return "loaded"
    quarantined = case.outcome.on(target).quarantined
    return "fails, quarantined" if quarantined else "fails, the object fails under quarantine too"


def test_the_fault_matrix_has_its_cases_on_both_targets() -> None:
    counted: dict[tuple[str, str], int] = {}
    for case in DATA_FAULTS:
        for target in ("postgres", "redshift"):
            key = (target, outcome_of(case, target))
            counted[key] = counted.get(key, 0) + 1
    assert counted == CASES_PER_OUTCOME
    assert not [c.kind for c in DATA_FAULTS if c.xfail], "an xfail case would not run on Redshift"


# -- running a case ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_source(tmp_path_factory) -> Path:
    """Two days of generated events, a few hundred a day: small enough for 48 hourly runs per case."""
    out = tmp_path_factory.mktemp("fault-base")
    generate(out, songs=40, users=12, days=2, events_per_day=220, seed=5)
    return out


_clean_tables: dict[str, list[tuple]] = {}


def clean_run(dag, clean_source: Path, db) -> dict[str, list[tuple]]:
    """The star tables of a clean run over the two days (run once per module, then recreated empty)."""
    if not _clean_tables:
        run_window(dag, START, END, clean_source)
        _clean_tables.update(snapshot(db))
        assert _clean_tables == faults.oracle_tables(clean_source), "the clean run must equal the oracle"
        recreate_tables(db)
    return _clean_tables


def hourly_tables(dag, source: Path, db) -> dict[str, list[tuple]]:
    """The star tables after the 48 hourly runs, latest hour first (late files are staged last)."""
    recreate_tables(db)
    for start, end in reversed(HOURS):
        run_window(dag, start, end, source)
    return snapshot(db)


def logged(caplog, capsys) -> str:
    return caplog.text + capsys.readouterr().out


@pytest.mark.parametrize("case", [param(c) for c in DATA_FAULTS])
def test_data_fault(case: Case, dag, clean_source, db, tmp_path, caplog, capsys) -> None:
    clean = clean_run(dag, clean_source, db)
    source = faults.copy_source(clean_source, tmp_path / "source")
    where = case.inject(source)

    if isinstance(case.outcome, Loaded):
        run_window(dag, START, END, source)
        tables = snapshot(db)
        assert tables == faults.oracle_tables(source), "the tables must equal the oracle's over the faulty data"
        assert faults.play_changes(clean, tables) == (case.outcome.lost, case.outcome.added)
        text = logged(caplog, capsys)
        for warning in case.outcome.warns:
            assert warning in text
        if case.hourly:
            assert hourly_tables(dag, source, db) == tables, "48 hourly runs must equal the two-day run"
        return

    outcome = case.outcome.on("postgres")
    where = where.as_target_names(outcome)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the assertions below say which
        run_window(dag, START, END, source)
    error = raised.value
    message = str(error)
    assert isinstance(error, AirflowFailException), f"{type(error).__name__} would be retried: {message}"
    for text in [*where.names(line=outcome.line_named), *outcome.says]:
        assert text in message
    for text in outcome.never_says:
        assert text not in message
    assert snapshot(db) == {table: [] for table in STAR_TABLES}, "no star table may change"
    bad_key = where.path.relative_to(source).as_posix()
    staged = outcome.staged
    assert rows(db, "select count(*) from staging_ledger where object_key = %s", (bad_key,)) == [(int(staged),)]
    with pytest.raises(AirflowFailException) as again:  # a rerun (or a retry) fails the same way
        run_window(dag, START, END, source)
    assert str(again.value) == message

    assert_quarantined(outcome, where, source, db, tmp_path, lambda: run_window(dag, START, END, source, **QUARANTINE))

    # the repair: put the object right, run the window again
    shutil.copytree(clean_source, source, dirs_exist_ok=True)
    run_window(dag, START, END, source)
    assert snapshot(db) == clean


QUARANTINE = {"bad_records": "quarantine"}


def without(source: Path, where: Where, tmp_path: Path) -> Path:
    """A copy of ``source`` without the record at ``where`` (a one-record file: without the file)."""
    copy_of = faults.copy_source(source, tmp_path / "expected")
    target = copy_of / where.path.relative_to(source)
    kept = [line for n, line in enumerate(target.read_bytes().split(b"\n"), start=1) if n != where.line]
    if any(line.strip() for line in kept):
        target.write_bytes(b"\n".join(kept))
    else:
        target.unlink()
    return copy_of


def assert_quarantined(outcome: Fails, where: Where, source: Path, db, tmp_path: Path, run: Callable) -> None:
    """Under the quarantine policy: the record kept aside with its object, line and field, the rest loaded
    equal to the oracle over the JSON without it; or, for a fault of the whole object, the run fails again."""
    if not outcome.quarantined:
        with pytest.raises(AirflowFailException) as error:
            run()
        assert all(text in str(error.value) for text in outcome.says)
        return
    run()
    key = where.path.relative_to(source).as_posix()
    quarantined = rows(db, "select object_key, line_number, field, reason from quarantined_records")
    assert [row[:3] for row in quarantined] == [(key, where.line, where.field_named)]
    assert outcome.says[0] in quarantined[0][3], "the reason says what is wrong"
    assert snapshot(db) == faults.oracle_tables(without(source, where, tmp_path)), "the rest must load"


# -- configuration, window and infrastructure faults: fail at once, or retry ------------------------


@dataclass(frozen=True)
class Setup:
    """What a configuration case changes: the run's source and params, the AWS connection's endpoint."""

    source: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    s3_endpoint: str | None = None  # None: moto's; "closed": a port nobody listens on


def _jsonpaths_one_short(src: Path) -> Setup:
    path = src / "log_json_path.json"
    document = json.loads(path.read_text())
    document["jsonpaths"] = document["jsonpaths"][:-1]
    path.write_text(json.dumps(document))
    return Setup(str(src))


def _s3_without_jsonpaths(src: Path, endpoint: str) -> Setup:
    (src / "log_json_path.json").unlink()
    upload_folder(endpoint, src, "sparkify-faults", "no-jsonpaths")
    return Setup("s3://sparkify-faults/no-jsonpaths")


CONFIG_FAULTS = [
    # (kind, item, setup(source folder, s3 endpoint) -> Setup, verdict, texts the message must hold)
    ("no-source-configured", "8", lambda s, e: Setup(""), "fail", ("no source configured",)),
    ("missing-source-folder", "8", lambda s, e: Setup(str(s / "nope")), "fail", ("source folder not found", "nope")),
    ("s3-uri-without-bucket", "8", lambda s, e: Setup("s3://"), "fail", ("names no bucket",)),
    (
        "s3-bucket-that-does-not-exist",
        "8",
        lambda s, e: Setup("s3://no-such-bucket-3c1d/raw"),
        "fail",
        ("s3://no-such-bucket-3c1d/raw/", "NoSuchBucket"),
    ),
    (
        "s3-jsonpaths-file-missing",
        "8",
        _s3_without_jsonpaths,
        "fail",
        ("s3://sparkify-faults/no-jsonpaths/log_json_path.json", "NoSuchKey"),
    ),
    ("jsonpaths-with-a-path-too-few", "8", lambda s, e: _jsonpaths_one_short(s), "fail", ("17 paths for 18 columns",)),
    (
        "s3-unreachable",
        "8",
        lambda s, e: Setup("s3://sparkify-demo/raw", s3_endpoint="closed"),
        "retry",
        ("s3://sparkify-demo/raw/", "Could not connect"),
    ),
    (
        "window-of-eight-thousand-years",
        "9",
        lambda s, e: Setup(str(s), {"window_start": "0001-01-01T00:00:00Z", "window_end": "9999-01-01T00:00:00Z"}),
        "fail",
        ("more than the 366 allowed", "split it into several runs"),
    ),
    (
        "window-without-utc-offset",
        "12",
        lambda s, e: Setup(str(s), {"window_start": "2018-11-01T00:00:00", "window_end": "2018-11-02T00:00:00Z"}),
        "fail",
        ("has no UTC offset", "2018-11-01T00:00:00Z"),
    ),
]


def run_tasks(dag, setup: Setup) -> None:
    """Execute the DAG's tasks in order, as ``runner.run_window`` does, with the case's source and params."""
    params = {"window_start": START.isoformat(), "window_end": END.isoformat(), **setup.params}
    context = {"params": {**params, "source": setup.source}, "data_interval_start": None, "data_interval_end": None}
    for task in dag.topological_sort():
        if task.task_type == "EmptyOperator":
            continue
        as_rendered(task, setup.source).execute(context)


@pytest.mark.usefixtures("warehouse_dsn")
@pytest.mark.parametrize(
    ("kind", "setup", "verdict", "says"), [pytest.param(k, s, v, t, id=k) for k, _, s, v, t in CONFIG_FAULTS]
)
def test_configuration_fault(kind, setup, verdict, says, dag, clean_source, s3_endpoint, tmp_path, monkeypatch) -> None:
    chosen = setup(faults.copy_source(clean_source, tmp_path / "source"), s3_endpoint)
    endpoint = f"http://127.0.0.1:{free_port()}" if chosen.s3_endpoint == "closed" else s3_endpoint
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": endpoint,
                    "region_name": "us-west-2",
                    "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2},
                },
            }
        ),
    )
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the assertions below say which
        run_tasks(dag, chosen)
    error = raised.value
    if verdict == "fail":
        assert isinstance(error, AirflowFailException), f"{type(error).__name__} would be retried: {error}"
    else:
        assert not isinstance(error, AirflowFailException) and classify(error) == RETRY
    for text in says:
        assert text in str(error)


# -- through Airflow: what it does with each kind ------------------------------------------------------


@pytest.mark.usefixtures("airflow_db")
def test_airflow_spends_no_retry_on_bad_data_and_retries_a_lost_warehouse(
    dag, clean_source, warehouse_dsn, tmp_path, monkeypatch
) -> None:
    source = faults.copy_source(clean_source, tmp_path / "source")
    faults.set_field(source, DAY1, "userId", "abc")
    for task in dag.tasks:
        task.retries, task.retry_delay = 2, dt.timedelta(seconds=0)
    conf = {"source": str(source), "window_start": START.isoformat(), "window_end": END.isoformat()}

    bad_data = dag.test(logical_date=START, run_conf=conf)
    stage = bad_data.get_task_instance("stage_events")
    assert (str(stage.state), stage.try_number) == ("failed", 1)

    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", f"postgres://postgres@127.0.0.1:{free_port()}/nowhere")
    lost = dag.test(logical_date=START + HOUR, run_conf={**conf, "source": str(clean_source)})
    create = lost.get_task_instance("create_tables")
    assert (str(create.state), create.try_number) == ("failed", 3)


# -- phase 2: checks that gate what they publish, a ledger that is not trusted blindly --------------


def test_a_row_failing_a_check_is_never_published_and_later_windows_still_load(dag, clean_source, db, tmp_path) -> None:
    source = faults.copy_source(clean_source, tmp_path / "source")
    faults.set_field(source, DAY1, "level", "gold")  # stages fine, fails accepted_values(level)

    with pytest.raises(AirflowFailException, match=r"(?s)songplays: not published: .*accepted_values\(level\)"):
        run_window(dag, START, START + DAY, source)
    assert rows(db, "select count(*) from songplays where level = 'gold'") == [(0,)], "the bad row was published"
    assert rows(db, "select count(*) from songplays") == [(0,)], "the whole load was rolled back"
    run_window(dag, START + DAY, END, source)  # a later window is not blocked by the earlier bad row
    assert rows(db, "select count(*) from songplays") == [
        (len(faults.oracle_tables(source, START + DAY, END)["songplays"]),)
    ]

    # the repair: fix the object, rerun the window
    faults.set_field(source, DAY1, "level", "free")
    run_window(dag, START, START + DAY, source)
    assert rows(db, "select count(*) from songplays where level not in ('free', 'paid')") == [(0,)]


def test_an_edit_that_keeps_size_and_mtime_is_restaged(dag, clean_source, db, tmp_path) -> None:
    import os

    source = faults.copy_source(clean_source, tmp_path / "source")
    run_window(dag, START, END, source)
    path = faults.day_file(source, DAY1)
    before = path.stat()
    index, play = faults.find(source, DAY1)
    level = "paid" if play["level"] == "free" else "free"  # same length: the size does not change
    text_lines = faults.lines(path)
    text_lines[index] = re.sub(r'("level":\s*)"(free|paid)"', rf'\1"{level}"', text_lines[index])
    faults.write_lines(path, text_lines)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size

    run_window(dag, START, END, source)
    assert snapshot(db) == faults.oracle_tables(source)


def test_an_emptied_staging_table_is_refused_not_published(dag, clean_source, db) -> None:
    run_window(dag, START, END, clean_source)
    published = snapshot(db)
    db.execute("truncate staging_events")  # the ledger still says every day file is staged

    with pytest.raises(AirflowFailException, match="fewer rows than the staging ledger recorded") as error:
        run_window(dag, START, END, clean_source)
    assert snapshot(db) == published, "a rerun must not replace the tables by less than was there"

    # the repair the message gives: forget those objects, rerun
    repair = str(error.value).split("Repair: ", 1)[1].split(";", 1)[0]
    db.execute(repair)
    run_window(dag, START, END, clean_source)
    assert snapshot(db) == published


def test_rows_deleted_from_one_staged_object_are_named_with_its_counts(dag, clean_source, db) -> None:
    run_window(dag, START, END, clean_source)
    published = snapshot(db)
    day1 = faults.day_file(clean_source, DAY1)
    key = day1.relative_to(clean_source).as_posix()
    in_file = len([line for line in faults.lines(day1) if line.strip()])  # the file's records, from the file
    # three of its staged rows deleted by hand; the other day file keeps all of its rows
    db.execute(
        "delete from staging_events where ctid in"
        " (select ctid from staging_events where _source_key = %s order by ts limit 3)",
        (key,),
    )

    with pytest.raises(AirflowFailException, match="fewer rows than the staging ledger recorded") as error:
        run_window(dag, START, END, clean_source)
    message = str(error.value)
    assert f"{day1}: {in_file - 3} of {in_file} rows" in message
    assert "for 1 object(s)" in message, "only the object that lost rows is named"
    assert snapshot(db) == published


def test_a_summary_counts_the_objects_another_run_staged_first(dag, clean_source, warehouse_dsn, monkeypatch) -> None:
    """Issue 10, item 12: two runs stage the same day files; the one that loses the race says so."""
    from sparkify.sources import LocalSource

    operator = next(t for t in dag.tasks if t.task_id == "stage_events")
    context = {"params": {"window_start": START.isoformat(), "window_end": END.isoformat()}}
    copy.copy(dag.get_task("create_tables")).execute(context)

    def stager():
        return as_rendered(operator, clean_source)

    real_read = LocalSource.read
    raced = []

    def read_after_another_run(self, key: str) -> bytes:
        if not raced:  # the first object this run reads: another run stages everything meanwhile
            raced.append({})
            raced[0] = stager().execute(context)
        return real_read(self, key)

    monkeypatch.setattr(LocalSource, "read", read_after_another_run)
    summary = stager().execute(context)

    assert raced[0]["objects_staged"] == 2  # the other run staged both day files
    assert summary["objects_staged"] == 0
    assert summary["objects_listed"] == summary["objects_staged"] + summary["objects_skipped"] == 2


# -- issue 18: conflicting source records, truncation counted ------------------------------------------


def _append_plays(source: Path, day: dt.date, plays: list[dict]) -> None:
    path = faults.day_file(source, day)
    faults.write_lines(path, [*faults.lines(path), *(json.dumps(play) for play in plays)])


def test_conflicting_song_and_artist_versions_warn_naming_both_objects_and_no_play_gets_a_wrong_song(
    dag, clean_source, db, tmp_path, caplog, capsys
) -> None:
    source = faults.copy_source(clean_source, tmp_path / "source")
    first = faults.song_files(source)[0]
    song = json.loads(first.read_text(encoding="utf-8"))
    # the same song_id in a later object (by key), with another title and duration
    other = {**song, "title": f"{song['title']} (Live)", "duration": 321.5}
    later = faults.add_object(source, "song_data/Z/Z/Z/TRZZZZZZZZZZZZZZZZ.json", json.dumps(other))
    # the same artist_id in another song, under another name
    renamed = {**song, "song_id": "SOZZZZZZZZZZZZZZZZ", "title": "Another", "artist_name": "Someone Else"}
    third = faults.add_object(source, "song_data/Z/Z/Y/TRZZZZZZZZZZZZZZZY.json", json.dumps(renamed))
    _, play = faults.find(source, DAY1)
    _append_plays(
        source,
        DAY1,
        [
            {
                **play,
                "sessionId": 900_001,
                "song": song["title"],
                "artist": song["artist_name"],
                "length": song["duration"],
            },
            {**play, "sessionId": 900_002, "song": other["title"], "artist": other["artist_name"], "length": 321.5},
        ],
    )

    run_window(dag, START, END, source)

    assert snapshot(db) == faults.oracle_tables(source)
    # the first object by key describes the song; the play of the other version is not published under it
    assert rows(db, "select title, duration from songs where song_id = %s", (song["song_id"],)) == [
        (song["title"], song["duration"])
    ]
    matched = dict(rows(db, "select session_id, song_id from songplays where session_id in (900001, 900002)"))
    assert matched == {900_001: song["song_id"], 900_002: None}
    text = logged(caplog, capsys)
    for expected in ("conflicting_song_versions", "conflicting_artist_versions", "Someone Else"):
        assert expected in text
    for path in (first, later, third):
        assert path.relative_to(source).as_posix() in text, "the warning names every object of a conflict"


def test_values_longer_than_their_column_are_cut_counted_and_reported(
    dag, clean_source, db, tmp_path, caplog, capsys
) -> None:
    source = faults.copy_source(clean_source, tmp_path / "source")
    location = "Somewhere, " + "x" * 1500
    agent = "y" * 2000
    at_location = faults.set_field(source, DAY1, "location", location, n=0)
    at_agent = faults.set_field(source, DAY1, "userAgent", agent, n=1)
    key = at_location.path.relative_to(source).as_posix()

    run_window(dag, START, END, source)

    # COPY's TRUNCATECOLUMNS semantics: the row is loaded with the value cut to varchar(1024)
    assert rows(db, "select location from songplays where location like 'Somewhere, x%%'") == [(location[:1024],)]
    assert rows(db, "select user_agent from songplays where user_agent like 'yyy%%'") == [(agent[:1024],)]
    counted = rows(
        db,
        "select object_key, column_name, value_count, first_line, longest, substr(example, 1, 20)"
        " from truncated_values where table_name = 'staging_events' order by column_name",
    )
    assert counted == [
        (key, "location", 1, at_location.line, len(location), location[:20]),
        (key, "user_agent", 1, at_agent.line, len(agent), agent[:20]),
    ]
    text = logged(caplog, capsys)
    assert "truncated_staged_values" in text and "Somewhere, x" in text

    # the repaired object is staged again: its counts go with its old rows
    shutil.copy(faults.day_file(clean_source, DAY1), at_location.path)
    run_window(dag, START, END, source)
    assert rows(db, "select count(*) from truncated_values") == [(0,)]


# -- the same data faults on the Redshift target ---------------------------------------------------------

#: every case runs on the Redshift target too: the emulator, reading the faulty source from S3 through COPY,
#: then the staging rules in SQL on the COPY'd rows (the records breaking them read back for their lines)
LOADED = [c for c in DATA_FAULTS if isinstance(c.outcome, Loaded)]
FAILING = [c for c in DATA_FAULTS if isinstance(c.outcome, Fails)]


@pytest.fixture
def on_redshift(clean_source, db, tmp_path, redshift_emulator, s3_endpoint, aws_connection, monkeypatch):
    """``inject(case) -> (source folder, s3:// uri, where)``: the faulty source in a bucket of its own, the
    connection ``redshift`` at the session's emulator with a workspace bucket."""

    def inject(case: Case) -> tuple[Path, str, Where | None]:
        source = faults.copy_source(clean_source, tmp_path / "source")
        where = case.inject(source)
        bucket = re.sub(r"[^a-z0-9-]", "-", f"faults-{case.kind[:40].lower()}-{id(source) % 10_000}")
        upload_folder(s3_endpoint, source, bucket, "raw")
        s3_client(s3_endpoint).create_bucket(
            Bucket=f"{bucket}-work", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        role = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"  # the role the emulator fixture creates
        extras = f"iam_role={quote(role, safe='')}&workspace={quote(f's3://{bucket}-work/etl', safe='')}"
        monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", f"{redshift_emulator.uri(db.info.dbname)}?{extras}")
        return source, f"s3://{bucket}/raw", where

    return inject


@pytest.mark.parametrize("case", [param(c) for c in LOADED])
def test_a_loaded_data_fault_gives_the_same_star_on_redshift(case: Case, on_redshift, dag, db) -> None:
    source, uri, _ = on_redshift(case)
    run_window(dag, START, END, uri)
    assert snapshot(db) == faults.oracle_tables(source), "Redshift's tables must equal the oracle's too"


@pytest.mark.parametrize("case", [param(c) for c in FAILING])
def test_a_failing_data_fault_fails_and_quarantines_alike_on_redshift(
    case: Case, on_redshift, dag, db, tmp_path
) -> None:
    source, uri, where = on_redshift(case)
    assert isinstance(where, Where) and isinstance(case.outcome, Fails)
    outcome = case.outcome.on("redshift")
    where = where.as_target_names(outcome)

    with pytest.raises(AirflowFailException) as error:
        run_window(dag, START, END, uri)
    message = str(error.value)
    key = where.path.relative_to(source).as_posix()
    for text in [*where.names(f"{uri}/{key}", line=outcome.line_named), *outcome.says]:
        assert text in message
    assert "line unknown" not in message
    assert snapshot(db) == {table: [] for table in STAR_TABLES}, "no star table may change"

    assert_quarantined(outcome, where, source, db, tmp_path, lambda: run_window(dag, START, END, uri, **QUARANTINE))
