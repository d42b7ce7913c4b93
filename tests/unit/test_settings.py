"""The settings object: every knob's default, its validation, and the error that names it."""

from __future__ import annotations

import pytest

from sparkify.settings import SETTINGS, SettingError, from_env, from_extra, from_param, markdown_table, setting


def test_unset_or_blank_knobs_take_their_declared_defaults() -> None:
    assert from_env("catchup", {}) is True
    assert from_env("pg_port", {"SPARKIFY_PG_PORT": " "}) == 55432
    assert from_extra("lock_timeout", {}) == "2min"
    assert from_param("max_bad_records", {"max_bad_records": None}) == 100


def test_values_are_parsed_to_their_types() -> None:
    assert from_env("catchup", {"SPARKIFY_CATCHUP": "False"}) is False
    assert from_env("late_after_minutes", {"SPARKIFY_LATE_AFTER_MINUTES": "0"}) == 0
    assert from_param("bad_records", {"bad_records": " Quarantine "}) == "quarantine"


@pytest.mark.parametrize(
    ("read", "named"),
    [
        (lambda: from_env("catchup", {"SPARKIFY_CATCHUP": "sometimes"}), "environment variable SPARKIFY_CATCHUP"),
        (lambda: from_env("pg_port", {"SPARKIFY_PG_PORT": "0"}), "environment variable SPARKIFY_PG_PORT"),
        (lambda: from_param("bad_records", {"bad_records": "skip"}), "run param bad_records"),
        (lambda: from_param("max_bad_records", {"max_bad_records": "-1"}), "run param max_bad_records"),
        (lambda: from_extra("target", {"target": "snowflake"}), "warehouse connection extra target"),
    ],
)
def test_an_invalid_value_fails_naming_the_knob_and_where_it_was_read(read, named) -> None:
    with pytest.raises(SettingError, match=rf"^{named}: .* is not valid: expected"):
        read()


def test_the_generated_table_lists_every_knob_once_per_place() -> None:
    table = markdown_table().splitlines()
    assert len(table) == 2 + len(SETTINGS)
    keys = [(item.kind, item.key) for item in SETTINGS]
    assert len(keys) == len(set(keys)), "a knob is declared twice for the same place"
    for item in SETTINGS:
        assert any(f"`{item.key}`" in line for line in table)
    with pytest.raises(KeyError):
        setting("source", "env")
