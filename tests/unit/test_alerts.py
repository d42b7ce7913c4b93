"""Alert messages name what they are about: a deadline alert carries the DAG, run and window it is late for."""

from __future__ import annotations

from sparkify.alerts import SparkifyAlert

# the context Airflow 3.3's deadline handling gives a triggerer callback: the run as DAGRunResponse
DEADLINE_CONTEXT = {
    "dag_run": {
        "dag_run_id": "scheduled__2018-11-02T05:00:00+00:00",
        "dag_id": "sparkify_etl",
        "data_interval_start": "2018-11-02T05:00:00Z",
        "data_interval_end": "2018-11-02T06:00:00Z",
        "conf": {},
    },
    "deadline": {"id": "0193", "deadline_time": "2018-11-02T05:45:00Z"},
}


def test_a_deadline_alert_names_dag_run_and_window() -> None:
    alert = SparkifyAlert(kind="deadline", text="a sparkify_etl run has not finished 0:45:00 after it was queued")
    payload = alert.payload(DEADLINE_CONTEXT)
    assert payload["dag_id"] == "sparkify_etl"
    assert payload["run_id"] == "scheduled__2018-11-02T05:00:00+00:00"
    assert payload["window"] == ["2018-11-02T05:00:00Z", "2018-11-02T06:00:00Z"]
    assert "run scheduled__2018-11-02T05:00:00+00:00" in payload["text"]
    assert "window 2018-11-02T05:00:00Z to 2018-11-02T06:00:00Z" in payload["text"]


def test_a_deadline_alert_for_a_run_with_params_names_its_params_window() -> None:
    context = {"dag_run": {**DEADLINE_CONTEXT["dag_run"], "conf": {"window_start": "a", "window_end": "b"}}}
    assert SparkifyAlert(kind="deadline").payload(context)["window"] == ["a", "b"]


def test_the_callback_hands_its_context_to_the_notifier() -> None:
    """The triggerer calls ``SparkifyAlert(**kwargs, context=...)`` and awaits it: the context is kept."""
    alert = SparkifyAlert(kind="deadline", text="late", context=DEADLINE_CONTEXT)
    assert alert.payload(alert.context)["run_id"] == DEADLINE_CONTEXT["dag_run"]["dag_run_id"]
