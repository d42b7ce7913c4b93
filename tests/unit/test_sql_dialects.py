"""The SQL files render per dialect: Redshift's keys, PostgreSQL's indexes, shared models."""

from __future__ import annotations

import pytest
import sqlglot

from sparkify.models.ddl import ddl_statements
from sparkify.models.sql_files import render_sql


def parses_as_redshift(sql: str) -> sqlglot.Expression:
    return sqlglot.parse_one(sql, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def with_window(sql: str) -> str:
    return sql.replace("%(window_start)s", "'2018-11-01 00:00:00'").replace("%(window_end)s", "'2018-11-02 00:00:00'")


def test_ddl_for_redshift_has_keys_and_no_postgres_indexes() -> None:
    statements = ddl_statements("redshift")
    assert not any("create index" in s for s in statements)
    for statement in statements:
        parses_as_redshift(statement)
    songplays = next(s for s in statements if "table if not exists songplays" in s)
    assert "distkey (song_id)" in songplays and "sortkey (start_time)" in songplays
    assert "primary key (songplay_id)" in songplays
    users = next(s for s in statements if "table if not exists users" in s)
    assert "diststyle all" in users


def test_postgres_ddl_has_the_indexes_an_hourly_run_needs() -> None:
    statements = ddl_statements("postgres")
    assert "create index if not exists songplays_start_time_idx on songplays (start_time)" in statements
    assert "create index if not exists staging_events_ts_idx on staging_events (ts)" in statements
    # the volume checks' hourly probe of the checks recorded for each of the 7 days before
    assert "create index if not exists quality_results_window_idx on quality_results (window_end, window_start)" in (
        statements
    )
    # and of the values the check recorded of them
    check_idx = (
        "create index if not exists quality_results_check_idx on quality_results (table_name, check_name, window_end)"
    )
    assert check_idx in statements
    assert not any("sortkey" in s or "diststyle" in s for s in statements)


@pytest.mark.parametrize("model", ["songplays", "users", "songs", "artists", "time"])
def test_models_are_shared_by_both_targets(model) -> None:
    assert render_sql(f"models/{model}.sql", "redshift") == render_sql(f"models/{model}.sql", "postgres")
    parses_as_redshift(with_window(render_sql(f"models/{model}.sql", "redshift")))


def test_a_dialect_without_macros_of_its_own_falls_back_to_the_defaults() -> None:
    # a new target (say, a plain ANSI engine) renders every DDL file with no file of its own
    statements = ddl_statements("ansi")
    assert any("create table if not exists songplays" in s for s in statements)
    assert not any("create index" in s or "sortkey" in s or "diststyle" in s for s in statements)


def test_the_primary_key_is_declared_once_in_the_catalogue() -> None:
    import yaml

    from sparkify.models.sql_files import sql_dir

    for name in ("songplays", "users", "songs", "artists", "time"):
        declared = yaml.safe_load((sql_dir() / "models" / f"{name}.yml").read_text())["primary_key"]
        ddl = (sql_dir() / "ddl" / f"{name}.sql").read_text()
        assert "primary key (" not in ddl and "{{ primary_key() }}" in ddl
        rendered = next(s for s in ddl_statements("postgres", [name]) if f"create table if not exists {name}" in s)
        assert f"primary key ({', '.join(declared)})" in rendered


class _Recorder:
    """A cursor that keeps what it is asked to run and answers nothing."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict]] = []

    def execute(self, sql: str, params: dict) -> None:
        self.ran.append((sql, params))

    def fetchall(self) -> list:
        return []


def test_a_volume_checks_history_statements_parse_as_redshift_with_every_window_bound() -> None:
    import datetime as dt

    from sparkify.quality import health

    hour = dt.datetime(2018, 11, 8, 13)
    windows = [
        {"window_start": hour - dt.timedelta(days=n), "window_end": hour - dt.timedelta(days=n, hours=-1)}
        for n in range(1, 8)
    ]
    cursor = _Recorder()
    health.covered(cursor, "quality_results", windows)
    health.counts(
        cursor,
        "select count(*) from songplays where start_time >= %(window_start)s and start_time < %(window_end)s",
        windows,
    )
    health.recorded(cursor, "quality_results", "songplays", "songplays_volume", windows)
    assert len(cursor.ran) == 3  # one statement each, whatever the number of windows
    *numbered, (own_values, bounds) = cursor.ran
    literal = own_values
    for name, value in bounds.items():
        literal = literal.replace(f"%({name})s", f"'{value}'")
    assert "%(" not in literal
    parses_as_redshift(literal)
    for sql, params in numbered:
        assert sorted(params) == sorted(f"window_{edge}_{n}" for n in range(7) for edge in ("start", "end"))
        literal = sql
        for name, value in params.items():
            literal = literal.replace(f"%({name})s", f"'{value:%Y-%m-%d %H:%M:%S}'")
        assert "%(" not in literal
        parses_as_redshift(literal)
