"""Window bounds written into SQL text, for the CREATE TABLE AS that Redshift cannot take parameters in."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from sparkify.sql_literals import literal, with_literals


def test_window_bounds_become_timestamp_literals_and_percent_signs_stay_single():
    sql = "select * from t where ts >= %(window_start)s and ts < %(window_end)s and s like 'a%%'"
    params = {"window_start": dt.datetime(2018, 11, 1, 10), "window_end": dt.datetime(2018, 11, 1, 11, 0, 0, 500)}
    assert with_literals(sql, params) == (
        "select * from t where ts >= '2018-11-01 10:00:00'::timestamp"
        " and ts < '2018-11-01 11:00:00.000500'::timestamp and s like 'a%'"
    )


def test_values_read_alike_on_both_engines():
    assert [literal(v) for v in (None, True, 7, 1.5, decimal.Decimal("2.50"), dt.date(2018, 11, 2))] == [
        "null",
        "true",
        "7",
        "1.5",
        "2.50",
        "'2018-11-02'::date",
    ]
    assert with_literals("select %s, %s", (1, None)) == "select 1, null"
    assert with_literals("select 1 where 'a%' = 'a%'", None) == "select 1 where 'a%' = 'a%'"


def test_text_aware_datetimes_and_non_finite_numbers_are_refused():
    with pytest.raises(TypeError):
        literal("it's")  # Redshift reads a backslash in a literal as an escape; PostgreSQL does not
    with pytest.raises(ValueError, match="time zone"):
        literal(dt.datetime(2018, 11, 1, tzinfo=dt.UTC))
    with pytest.raises(TypeError):
        literal(float("nan"))
