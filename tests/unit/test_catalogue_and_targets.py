"""The table catalogue and the choice of warehouse target, from files and connections alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from airflow.sdk.definitions.connection import Connection

from sparkify.models.catalogue import CatalogueError, load_catalogue
from sparkify.warehouses import UnknownTargetError, target_for
from sparkify.warehouses.postgres import PostgresWarehouse
from sparkify.warehouses.redshift import RedshiftWarehouse

SQL = Path(__file__).resolve().parents[2] / "sql"


def test_the_catalogue_lists_every_table_and_orders_loads_by_dependency() -> None:
    catalogue = load_catalogue()
    assert set(catalogue.ddl_tables) == {p.stem for p in (SQL / "ddl").glob("*.sql")}
    order = catalogue.star_names
    assert set(order) == {"songplays", "users", "songs", "artists", "time"}
    assert catalogue["time"].depends_on == ("staging_events",), "time is built from the staged window"
    assert catalogue["songplays"].load == "window" and catalogue["songplays"].time_column == "start_time"
    assert catalogue["users"].primary_key == ("user_id",)
    assert all(spec.columns and all(c.description for c in spec.columns) for spec in catalogue.star)


def test_a_new_dimension_is_only_files(tmp_path) -> None:
    root = tmp_path / "sql"
    shutil.copytree(SQL, root)
    (root / "ddl" / "sessions.sql").write_text(
        "create table if not exists sessions (session_id integer not null, {{ primary_key() }})"
        "\n{{ table_options(diststyle='all') }};\n"
    )
    (root / "models" / "sessions.sql").write_text("select distinct session_id from songplays")
    (root / "models" / "sessions.yml").write_text(
        "table: sessions\nkind: dimension\ngrain: one row per session\nprimary_key: [session_id]\n"
        "load: upsert\ndepends_on: [songplays]\nchecks:\n  - unique: [session_id]\n"
    )
    catalogue = load_catalogue(root)
    assert "sessions" in catalogue.ddl_tables
    assert catalogue.star_names.index("sessions") > catalogue.star_names.index("songplays")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("table: users\nkind: fact\ngrain: g\nprimary_key: [user_id]\nload: window\n", "needs time_column"),
        ("table: users\nkind: cube\ngrain: g\nprimary_key: [user_id]\nload: upsert\n", "kind 'cube'"),
        ("table: users\nkind: dimension\ngrain: g\nload: upsert\n", "missing 'primary_key'"),
        ("table: users\nkind: dimension\ngrain: g\nprimary_key: [u]\nload: upsert\ndepends_on: [nope]\n", "'nope'"),
    ],
)
def test_a_malformed_catalogue_entry_names_file_and_key(tmp_path, yaml_text: str, message: str) -> None:
    root = tmp_path / "sql"
    shutil.copytree(SQL, root)
    (root / "models" / "users.yml").write_text(yaml_text)
    with pytest.raises(CatalogueError, match=message) as error:
        load_catalogue(root)
    assert "users.yml" in str(error.value)


def connection(conn_type: str, host: str = "127.0.0.1", **extra) -> Connection:
    return Connection(conn_id="redshift", conn_type=conn_type, host=host, extra=json.dumps(extra))


@pytest.mark.parametrize(
    ("conn", "target"),
    [
        (connection("postgres"), PostgresWarehouse),
        (connection("redshift"), RedshiftWarehouse),
        (connection("postgres", host="dwh.abc123.us-west-2.redshift.amazonaws.com"), RedshiftWarehouse),
        (connection("postgres", host="wg.123.us-west-2.redshift-serverless.amazonaws.com"), RedshiftWarehouse),
        (connection("postgres", target="redshift"), RedshiftWarehouse),
        (connection("redshift", target="postgres"), PostgresWarehouse),
    ],
)
def test_the_target_is_chosen_from_the_connection(conn: Connection, target: type) -> None:
    assert target_for(conn) is target


@pytest.mark.parametrize(
    "conn",
    [connection("mysql"), connection("postgres", target="snowflake"), connection("generic")],
)
def test_an_unknown_target_is_an_error_never_a_fallback(conn: Connection) -> None:
    with pytest.raises(UnknownTargetError, match="postgres, redshift"):
        target_for(conn)


def test_checks_a_primary_key_implies_are_marked_so_an_enforcing_engine_skips_them() -> None:
    from sparkify.quality import load_checks

    marked = {(c.table, c.name): c.implied_by_key for c in load_checks(["songplays", "time"])}
    # songplays' key is songplay_id; time's is start_time (sql/models/*.yml)
    assert marked[("songplays", "unique(songplay_id)")] is True
    assert marked[("songplays", "not_null(songplay_id)")] is True
    assert marked[("songplays", "not_null(user_id)")] is False
    assert marked[("songplays", "accepted_values(level)")] is False
    assert marked[("time", "unique(start_time)")] is True
    assert marked[("time", "not_null(hour)")] is False
