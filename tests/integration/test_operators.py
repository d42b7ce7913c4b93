"""Each operator against the real PostgreSQL: what it writes, and what it does on bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.warehouse_state import rows

from sparkify.operators import (
    CreateTablesOperator,
    LoadDimensionOperator,
    LoadFactOperator,
    StageToRedshiftOperator,
)

UTC = dt.UTC
WINDOW = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-11-04T00:00:00Z"}}


def stage_events(source: Path, **kwargs) -> StageToRedshiftOperator:
    return StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source=str(source),
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        json_format="log_json_path.json",
        **kwargs,
    )


@pytest.fixture
def tables(warehouse_dsn):
    CreateTablesOperator(task_id="create_tables").execute({})


@pytest.fixture
def source_copy(demo_source, tmp_path) -> Path:
    target = tmp_path / "source"
    shutil.copytree(demo_source, target)
    return target


def day_file(source: Path, day: int) -> Path:
    return source / "log_data" / "2018" / "11" / f"2018-11-{day:02d}-events.json"


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_create_tables_is_repeatable_and_creates_every_table(tables, db) -> None:
    CreateTablesOperator(task_id="again").execute({})
    names = {r[0] for r in rows(db, "select table_name from information_schema.tables where table_schema = 'public'")}
    assert {
        "staging_events",
        "staging_songs",
        "staging_ledger",
        "songplays",
        "users",
        "songs",
        "artists",
        "time",
        "quality_results",
    } <= names


def test_bad_record_fails_naming_object_line_and_field_and_keeps_earlier_objects(tables, source_copy, db) -> None:
    bad = day_file(source_copy, 2)
    lines = bad.read_text().splitlines()
    record = json.loads(lines[4])
    record["ts"] = "not-a-time"
    lines[4] = json.dumps(record)
    bad.write_text("\n".join(lines) + "\n")

    with pytest.raises(AirflowFailException) as error:
        stage_events(source_copy, batch_bytes=1).execute(WINDOW)

    message = str(error.value)
    assert str(bad) in message and "line 5" in message and "field $['ts']" in message
    # the first day was committed before the bad object was read, and stays
    assert rows(db, "select count(*) from staging_events")[0][0] == line_count(day_file(source_copy, 1))
    assert rows(db, "select object_key from staging_ledger") == [("log_data/2018/11/2018-11-01-events.json",)]


def test_a_changed_object_replaces_its_rows(tables, source_copy, db) -> None:
    stage_events(source_copy).execute(WINDOW)
    path = day_file(source_copy, 3)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:100]) + "\n")

    summary = stage_events(source_copy).execute(WINDOW)

    assert summary["objects_staged"] == 1 and summary["rows_replaced"] == len(lines)
    per_key = dict(rows(db, "select _source_key, count(*) from staging_events group by 1"))
    assert per_key["log_data/2018/11/2018-11-03-events.json"] == 100
    assert rows(db, "select row_count from staging_ledger where object_key like '%%-03-events.json'") == [(100,)]


def test_songs_staged_once_however_often_the_task_runs(tables, demo_source, db) -> None:
    operator = StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=str(demo_source),
        prefix="song_data/",
        max_workers=4,
        batch_bytes=2000,
    )
    first = operator.execute({})
    second = operator.execute({})

    files = len(list((demo_source / "song_data").rglob("*.json")))
    assert first["objects_staged"] == files and second["objects_staged"] == 0
    assert rows(db, "select count(*), count(distinct _source_key) from staging_songs")[0] == (files, files)


def test_a_missing_jsonpaths_file_is_a_clear_error(tables, source_copy) -> None:
    (source_copy / "log_json_path.json").unlink()
    with pytest.raises(AirflowFailException, match=r"JSONPaths file .*log_json_path\.json cannot be read"):
        stage_events(source_copy).execute(WINDOW)


def test_no_source_configured_is_a_clear_error(tables) -> None:
    operator = StageToRedshiftOperator(task_id="s", table="staging_songs", source="", prefix="song_data/")
    with pytest.raises(ValueError, match="no source configured"):
        operator.execute({})


@pytest.fixture
def models(tmp_path, monkeypatch) -> Path:
    """A sql/ folder of our own, with a tiny dimension model and a fact model that fails halfway."""
    root = tmp_path / "sql"
    shutil.copytree(Path(__file__).resolve().parents[2] / "sql", root)
    (root / "models" / "users.sql").write_text(
        "select user_id, first_name, 'X' as last_name, 'F' as gender, level from pending_users"
    )
    (root / "models" / "songplays.sql").write_text(
        "select md5(cast(n as varchar)), timestamp '2018-11-01 10:00' + n * interval '1 minute', 1 / (3 - n),"
        " 'free', null, null, 1, null, null from generate_series(0, 5) as n"
    )
    monkeypatch.setenv("SPARKIFY_SQL_DIR", str(root))
    return root


def test_dimension_modes(tables, models, db) -> None:
    db.execute("create table pending_users (user_id integer, first_name varchar, level varchar)")
    db.execute("insert into users values (1, 'Old', 'X', 'F', 'free'), (2, 'Keep', 'X', 'F', 'free')")
    db.execute("insert into pending_users values (1, 'New', 'paid'), (3, 'Third', 'free')")

    def load(mode: str) -> dict:
        kwargs = {"primary_key": "user_id"} if mode == "upsert" else {}
        return LoadDimensionOperator(task_id=f"load_{mode}", table="users", mode=mode, **kwargs).execute({})

    assert load("upsert") == {"rows_deleted": 1, "rows_inserted": 2}
    assert rows(db, "select user_id, first_name, level from users order by 1") == [
        (1, "New", "paid"),
        (2, "Keep", "free"),
        (3, "Third", "free"),
    ]

    assert load("truncate-insert") == {"rows_deleted": 3, "rows_inserted": 2}
    assert rows(db, "select user_id from users order by 1") == [(1,), (3,)]

    db.execute("delete from users")
    db.execute("insert into users values (2, 'Keep', 'X', 'F', 'free')")
    assert load("append") == {"rows_deleted": 0, "rows_inserted": 2}
    assert rows(db, "select user_id from users order by 1") == [(1,), (2,), (3,)]


def row_versions(db) -> dict:
    """Each users row's physical version: PostgreSQL gives a rewritten row a new xmin."""
    return dict(rows(db, "select user_id, xmin::text from users"))


def test_an_upsert_writes_only_the_rows_that_differ_from_the_table(tables, models, db) -> None:
    (models / "models" / "users.sql").write_text("select user_id, first_name, last_name, gender, level from pending")
    db.execute("create table pending (like users)")
    db.execute(
        "insert into users values (1, 'Ann', 'Lee', 'F', 'free'), (2, 'Bob', null, 'M', 'paid'),"
        " (3, 'Cy', 'Ray', 'M', 'free')"
    )
    # 1 and 2 as held (2 with its NULL), 3 loses its last name, 4 is new
    db.execute(
        "insert into pending values (1, 'Ann', 'Lee', 'F', 'free'), (2, 'Bob', null, 'M', 'paid'),"
        " (3, 'Cy', null, 'M', 'free'), (4, 'Di', 'Fox', 'F', 'paid')"
    )
    before = row_versions(db)

    def upsert() -> dict:
        return LoadDimensionOperator(task_id="load", table="users", mode="upsert", primary_key="user_id").execute({})

    assert upsert() == {"rows_deleted": 1, "rows_inserted": 2}
    assert rows(db, "select * from users order by 1") == rows(db, "select * from pending order by 1")
    after = row_versions(db)
    assert [u for u in (1, 2, 3) if after[u] == before[u]] == [1, 2]

    assert upsert() == {"rows_deleted": 0, "rows_inserted": 0}  # nothing changed: nothing written
    assert row_versions(db) == after

    db.execute("update pending set level = 'paid' where user_id = 1")
    assert upsert() == {"rows_deleted": 1, "rows_inserted": 1}
    assert rows(db, "select * from users order by 1") == rows(db, "select * from pending order by 1")

    # a model that leaves a column out replaces its rows whole, so the column is reset even where the
    # model's columns match (as before this change)
    (models / "models" / "users.sql").write_text("select user_id, first_name, gender, level from pending")
    assert upsert() == {"rows_deleted": 4, "rows_inserted": 4}
    assert rows(db, "select user_id, last_name from users order by 1") == [(u, None) for u in (1, 2, 3, 4)]


def test_an_upsert_into_a_table_with_a_json_column_rewrites_its_rows(tables, models, db) -> None:
    # json has no "=": such a table cannot be compared row by row, so the upsert replaces every row given
    db.execute("alter table users add column traits json")
    db.execute("insert into users values (1, 'Ann', 'Lee', 'F', 'free', '{\"a\": 1}')")
    (models / "models" / "users.sql").write_text(
        "select 1 as user_id, 'Ann' as first_name, 'Lee' as last_name, 'F' as gender, 'paid' as level,"
        " cast('{\"a\": 2}' as json) as traits"
    )
    result = LoadDimensionOperator(task_id="load", table="users", mode="upsert", primary_key="user_id").execute({})
    assert result == {"rows_deleted": 1, "rows_inserted": 1}
    assert rows(db, "select user_id, level, traits::text from users") == [(1, "paid", '{"a": 2}')]


def test_a_fact_load_failing_midway_leaves_the_table_as_it_was(tables, models, db) -> None:
    db.execute("insert into songplays (songplay_id, start_time) values ('old', '2018-11-01 10:30')")
    with pytest.raises(Exception, match="division by zero"):
        LoadFactOperator(task_id="load", table="songplays").execute(
            {"params": {"window_start": "2018-11-01T10:00:00Z", "window_end": "2018-11-01T11:00:00Z"}}
        )
    assert rows(db, "select songplay_id from songplays") == [("old",)]


def songplays_indexes(db) -> list[tuple]:
    return rows(db, "select indexname, indexdef from pg_indexes where tablename = 'songplays' order by 1")


def test_a_fact_load_into_an_empty_table_rebuilds_its_indexes_and_still_enforces_its_key(tables, models, db) -> None:
    created = songplays_indexes(db)  # as create_tables made them
    assert {name for name, _ in created} == {"songplays_pkey", "songplays_start_time_idx"}
    hour = {"params": {"window_start": "2018-11-01T10:00:00Z", "window_end": "2018-11-01T11:00:00Z"}}
    model = models / "models" / "songplays.sql"
    plays = (
        "select md5(cast({key} as varchar)), timestamp '2018-11-01 10:00' + n * interval '1 minute', 1,"
        " 'free', null, null, 1, null, null from generate_series(0, 5) as n"
    )
    model.write_text(plays.format(key="n"))

    assert LoadFactOperator(task_id="load", table="songplays").execute(hour) == {"rows_deleted": 0, "rows_inserted": 6}
    assert songplays_indexes(db) == created
    assert rows(db, "select count(*) from songplays where start_time >= '2018-11-01 10:00'") == [(6,)]
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("insert into songplays (songplay_id, start_time) values (md5('0'), '2018-11-02')")

    # two plays with one key, loaded into the table emptied by the window's delete: the load fails on the
    # key, publishes nothing, and the table keeps its indexes and its earlier rows' absence
    model.write_text(plays.format(key="mod(n, 3)"))
    with pytest.raises(Exception, match="songplays_pkey"):
        LoadFactOperator(task_id="load", table="songplays").execute(hour)
    assert rows(db, "select count(*) from songplays") == [(6,)]
    assert songplays_indexes(db) == created


def test_only_a_load_that_adds_a_quarter_of_the_table_rebuilds_its_indexes(tables, db, warehouse_dsn) -> None:
    from sparkify.warehouses import open_warehouse

    db.execute(
        "insert into songplays (songplay_id, start_time) select md5(cast(n as varchar)),"
        " timestamp '2018-11-01' + n * interval '1 second' from generate_series(1, 1000) as n"
    )
    db.execute("analyze songplays")
    warehouse = open_warehouse("redshift")

    def bulk(new_rows: int, deleted: int = 0) -> bool:
        select = f"select n from generate_series(1, {new_rows}) as n"  # the planner knows its row count
        with warehouse.transaction() as cursor:
            return warehouse._bulk(cursor, "songplays", select, None, deleted) is not None

    assert not bulk(10)  # an hour into history: the indexes are kept
    assert not bulk(249)
    assert bulk(250)  # a quarter of the rows the table keeps: rebuilt
    assert bulk(130, deleted=500)  # what the delete took is not kept
    assert not bulk(120, deleted=500)
    db.execute("delete from songplays")
    assert bulk(1)  # an empty table: always rebuilt


#: a play a minute over three days, inside the window the model is given (its rows: 4,320 / 3 days)
MINUTE_PLAYS = (
    "select md5(cast(g.n as varchar)), g.ts, 1, 'free', null, null, {session}, null, null"
    " from (select n, timestamp '2018-11-01' + n * interval '1 minute' as ts from generate_series(0, 4319) as n) as g"
    " where g.ts >= %(window_start)s and g.ts < %(window_end)s"
)


def test_a_bulk_load_empties_a_table_only_when_it_holds_nothing(tables, models, db, monkeypatch) -> None:
    """An empty table is truncated in the load's transaction (its files new to it, so that wal_level=minimal
    writes them without WAL); a table holding rows, or rows the load's delete took, never is."""
    from sparkify.warehouses import postgres

    monkeypatch.setattr(postgres, "REBUILD_SHARE", 0.0)  # every load here is a bulk load: the guards decide
    (models / "models" / "songplays.sql").write_text(MINUTE_PLAYS.format(session=1))

    def load(day: int) -> dict:
        window = {"window_start": f"2018-11-{day:02d}T00:00:00Z", "window_end": f"2018-11-{day + 1:02d}T00:00:00Z"}
        return LoadFactOperator(task_id="load", table="songplays").execute({"params": window})

    def heap_file() -> int:
        return rows(db, "select pg_relation_filenode('songplays')")[0][0]

    def plays_per_day() -> list[tuple]:
        return rows(db, "select cast(start_time as date), count(*) from songplays group by 1 order by 1")

    empty = heap_file()
    assert load(1) == {"rows_deleted": 0, "rows_inserted": 1440}  # a play a minute
    assert heap_file() != empty  # truncated: new files
    loaded = heap_file()
    assert load(2) == {"rows_deleted": 0, "rows_inserted": 1440}  # into a table holding a day
    assert heap_file() == loaded
    assert plays_per_day() == [(dt.date(2018, 11, 1), 1440), (dt.date(2018, 11, 2), 1440)]

    db.execute("delete from songplays where start_time >= '2018-11-02'")
    assert load(1) == {"rows_deleted": 1440, "rows_inserted": 1440}  # the table holds only the window
    assert heap_file() == loaded
    assert plays_per_day() == [(dt.date(2018, 11, 1), 1440)]


@pytest.fixture
def split_spy(monkeypatch) -> list[dict]:
    """Every span a bulk load selects in another session; any window large enough to be split."""
    from sparkify.warehouses import postgres

    spans: list[dict] = []
    select_into = postgres._select_into

    def spy(session, part, columns, select, params):
        spans.append(params)
        select_into(session, part, columns, select, params)

    monkeypatch.setattr(postgres, "_select_into", spy)
    monkeypatch.setattr(postgres, "SPLIT_MIN_ROWS", 1)
    return spans


def leftover_parts(db) -> list[tuple]:
    return rows(db, "select tablename from pg_tables where tablename like '%\\_\\_load\\_%'")


def test_a_bulk_load_split_across_sessions_publishes_the_window_whole(tables, models, db, split_spy) -> None:
    (models / "models" / "songplays.sql").write_text(MINUTE_PLAYS.format(session=1))
    result = LoadFactOperator(task_id="load", table="songplays").execute(WINDOW)

    # the first half by the load's own transaction, the second by another session
    assert [(s["window_start"], s["window_end"]) for s in split_spy] == [
        (dt.datetime(2018, 11, 2, 12), dt.datetime(2018, 11, 4))
    ]
    first = dt.datetime(2018, 11, 1)
    expected = {
        (hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest(), first + dt.timedelta(minutes=n))
        for n in range(4320)
    }
    assert result == {"rows_deleted": 0, "rows_inserted": 4320}
    assert set(rows(db, "select songplay_id, start_time from songplays")) == expected
    assert {name for name, _ in songplays_indexes(db)} == {"songplays_pkey", "songplays_start_time_idx"}
    assert leftover_parts(db) == []


@pytest.mark.parametrize(
    "failing_half",
    ["g.ts >= timestamp '2018-11-03'", "g.ts < timestamp '2018-11-02'"],
    ids=["in-another-session", "in-the-load-transaction"],
)
def test_a_split_bulk_load_failing_in_one_span_publishes_nothing_and_leaves_no_parts(
    tables, models, db, split_spy, failing_half
) -> None:
    db.execute("insert into songplays (songplay_id, start_time) values ('old', '2018-11-01 10:30')")
    # one half of the window divides by zero; the other half succeeds
    failing = MINUTE_PLAYS.format(session=f"1 / (case when {failing_half} then 0 else 1 end)")
    (models / "models" / "songplays.sql").write_text(failing)
    with pytest.raises(Exception, match="division by zero"):
        LoadFactOperator(task_id="load", table="songplays").execute(WINDOW)
    assert len(split_spy) == 1
    assert rows(db, "select songplay_id from songplays") == [("old",)]
    assert leftover_parts(db) == []


def test_a_bulk_load_plans_what_follows_it_in_its_transaction_on_the_rows_it_loaded(tables, db) -> None:
    from sparkify.warehouses import open_warehouse

    warehouse = open_warehouse("redshift")
    plays = (
        "select md5(cast(n as varchar)), timestamp '2018-11-01' + n * interval '1 second'"
        " from generate_series(1, 20000) as n"
    )
    window = "select * from songplays where start_time >= '2018-11-01' and start_time < '2018-11-02'"
    with warehouse.transaction() as cursor:
        with warehouse.filling(cursor, "songplays", plays, None) as fill:  # an empty table: a bulk load
            cursor.execute(f"insert into songplays (songplay_id, start_time) {plays}")
        cursor.execute(f"explain (format json) {window}")  # what the load's gate plans, before commit
        estimate = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
    assert fill.analyzed
    assert 19000 <= estimate <= 21000  # without statistics: 0.5 % of the table, 100 rows


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: LoadDimensionOperator(task_id="d", table="users", mode="replace"), "mode 'replace'"),
        (lambda: LoadDimensionOperator(task_id="d", table="users", mode="upsert"), "needs primary_key"),
        (lambda: LoadFactOperator(task_id="f", table="songplays; drop table users"), "not a plain lowercase"),
        (lambda: StageToRedshiftOperator(task_id="s", table="t", source="x"), "exactly one of prefix and daily_key"),
        (lambda: StageToRedshiftOperator(task_id="s", table="t", source="x", daily_key="log.json"), "no strftime"),
    ],
)
def test_fixed_arguments_are_validated_at_construction(factory, message) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


def test_a_module_missing_from_the_install_fails_the_task_at_once_naming_the_package(
    tables, source_copy, db, monkeypatch
) -> None:
    """The runtime install once lacked numpy: stage_events then spent 15 minutes in retries (issue 17).
    A missing module is an installation fault, the same on every try: it fails now and says what to do."""
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)  # what `import numpy` meets when it is absent
    with pytest.raises(AirflowFailException) as error:
        stage_events(source_copy).execute(WINDOW)
    message = str(error.value)
    assert message.startswith("stage_events: ")
    assert "the package 'numpy' is not installed" in message
    assert "pip install -r requirements.txt" in message
    assert rows(db, "select count(*) from staging_events") == [(0,)], "nothing half-staged"
