"""How a run's window is chosen for every way a run can start."""

from __future__ import annotations

import datetime as dt

import pytest

from sparkify.window import Window, WindowError, resolve_window

UTC = dt.UTC
T9, T10 = dt.datetime(2018, 11, 5, 9, tzinfo=UTC), dt.datetime(2018, 11, 5, 10, tzinfo=UTC)


def test_scheduled_or_backfill_run_uses_its_data_interval() -> None:
    context = {
        "params": {"window_start": None, "window_end": None},
        "data_interval_start": T9,
        "data_interval_end": T10,
    }
    assert resolve_window(context) == Window(T9, T10)


def test_run_params_override_the_data_interval() -> None:
    context = {
        "params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-12-01T00:00:00+00:00"},
        "data_interval_start": T9,
        "data_interval_end": T10,
    }
    window = resolve_window(context)
    assert (window.start, window.end) == (dt.datetime(2018, 11, 1, tzinfo=UTC), dt.datetime(2018, 12, 1, tzinfo=UTC))


def test_operator_arguments_win_over_params() -> None:
    context = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-11-02T00:00:00Z"}}
    assert resolve_window(context, "2018-11-05T09:00:00Z", "2018-11-05 10:00:00+00:00") == Window(T9, T10)


def test_offsets_are_converted_to_utc() -> None:
    context = {"params": {"window_start": "2018-11-05T09:00:00Z", "window_end": "2018-11-05T11:00:00+01:00"}}
    assert resolve_window(context) == Window(T9, T10)


@pytest.mark.parametrize("naive", ["2018-11-05T09:00:00", dt.datetime(2018, 11, 5, 9)])
def test_a_bound_without_offset_is_refused_as_the_trigger_form_refuses_it(naive) -> None:
    from airflow.sdk import Param
    from airflow.sdk.definitions.param import ParamValidationError

    # the DAG's own Param (format date-time) refuses a naive string: window.py says the same, with the fix
    if isinstance(naive, str):
        with pytest.raises(ParamValidationError):
            Param(None, type=["null", "string"], format="date-time").resolve(naive)
    context = {"params": {"window_start": naive, "window_end": "2018-11-05T10:00:00Z"}}
    with pytest.raises(WindowError, match=r"has no UTC offset.*2018-11-05T09:00:00Z"):
        resolve_window(context)


def test_manual_run_without_logical_date_is_refused_with_advice() -> None:
    context = {"params": {}, "data_interval_start": None, "data_interval_end": None}
    with pytest.raises(WindowError, match="pass window_start and window_end"):
        resolve_window(context)


def test_zero_length_data_interval_is_refused() -> None:
    context = {"params": {}, "data_interval_start": T10, "data_interval_end": T10}
    with pytest.raises(WindowError, match="is empty"):
        resolve_window(context)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2018-11-05T10:00:00Z", "2018-11-05T09:00:00Z", "empty window"),
        ("2018-11-05T10:00:00Z", None, "must be given together"),
        ("yesterday", "2018-11-05T09:00:00Z", "not an ISO 8601 timestamp"),
    ],
)
def test_bad_params_are_refused(start, end, message) -> None:
    with pytest.raises(WindowError, match=message):
        resolve_window({"params": {"window_start": start, "window_end": end}})


def test_a_window_longer_than_the_limit_is_refused_with_advice(monkeypatch) -> None:
    context = {"params": {"window_start": "0001-01-01T00:00:00Z", "window_end": "9999-01-01T00:00:00Z"}}
    days = (dt.date(9999, 1, 1) - dt.date(1, 1, 1)).days
    with pytest.raises(WindowError, match=rf"spans {days:,}\.0 days, more than the 366 allowed: split it"):
        resolve_window(context)

    month = {"params": {"window_start": "2018-11-01T00:00:00Z", "window_end": "2018-12-01T00:00:00Z"}}
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_MAX_WINDOW_DAYS", "7")
    with pytest.raises(WindowError, match="more than the 7 allowed"):
        resolve_window(month)
    assert resolve_window(month, max_days=30).end == dt.datetime(2018, 12, 1, tzinfo=UTC)
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_MAX_WINDOW_DAYS", "a week")
    with pytest.raises(WindowError, match=r"sparkify_max_window_days: .a week. is not valid: expected a whole number"):
        resolve_window(month)


def test_a_year_fits_the_default_limit() -> None:
    leap_year = {"params": {"window_start": "2020-01-01T00:00:00Z", "window_end": "2021-01-01T00:00:00Z"}}
    assert len(list(resolve_window(leap_year).days())) == 366


def test_days_touched() -> None:
    window = Window(dt.datetime(2018, 11, 1, 23, tzinfo=UTC), dt.datetime(2018, 11, 3, 0, tzinfo=UTC))
    assert list(window.days()) == [dt.date(2018, 11, 1), dt.date(2018, 11, 2)]


def test_sql_params_are_naive_utc() -> None:
    window = Window(dt.datetime(2018, 11, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=1))), T10)
    assert window.sql_params == {
        "window_start": dt.datetime(2018, 11, 5, 9),
        "window_end": dt.datetime(2018, 11, 5, 10),
    }
