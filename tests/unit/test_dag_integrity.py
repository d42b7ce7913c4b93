"""The DAG file imports cleanly and has the shape, schedule and defaults the team relies on."""

from __future__ import annotations

import datetime as dt

import pytest

EXPECTED_EDGES = {
    "begin": {"create_tables"},
    "create_tables": {"stage_events", "stage_songs"},
    # each load starts once what it is built from is there (depends_on in sql/models/<table>.yml)
    "stage_events": {"load_songplays_fact", "load_users_dim", "load_time_dim"},
    "stage_songs": {"load_songplays_fact", "load_songs_dim", "load_artists_dim"},
    "load_songplays_fact": {"run_quality_checks"},
    # the fact waits for the dimensions it references (time too: built from the staged window): published whole
    "load_users_dim": {"load_songplays_fact", "run_quality_checks"},
    "load_songs_dim": {"load_songplays_fact", "run_quality_checks"},
    "load_artists_dim": {"load_songplays_fact", "run_quality_checks"},
    "load_time_dim": {"load_songplays_fact", "run_quality_checks"},
    "run_quality_checks": {"end"},
    "end": set(),
}


EXPECTED_DAGS = {"sparkify_etl", "sparkify_audit", "sparkify_analytics", "sparkify_events"}


def test_the_dags_folder_holds_the_dags() -> None:
    """Every loop below would pass over nothing if no DAG were found: fail on zero DAGs first."""
    from airflow.dag_processing.dagbag import DagBag
    from support.paths import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    assert bag.dags, "no DAG found in dags/"
    assert set(bag.dags) == EXPECTED_DAGS


def test_dag_imports_without_errors(dag) -> None:
    assert dag is not None
    assert dag.dag_id == "sparkify_etl"
    assert len(dag.tasks) == len(EXPECTED_EDGES)


def test_asset_uris_follow_the_local_port(monkeypatch) -> None:
    """Assets name the warehouse the connection points at: the local default follows SPARKIFY_PG_PORT."""
    from airflow.dag_processing.dagbag import DagBag
    from support.paths import ROOT

    monkeypatch.delenv("SPARKIFY_WAREHOUSE_URI", raising=False)
    monkeypatch.setenv("SPARKIFY_PG_PORT", "55999")
    dag = DagBag(dag_folder=str(ROOT / "dags" / "sparkify_etl.py")).dags["sparkify_etl"]
    uris = {a.uri for a in dag.get_task("run_quality_checks").outlets}
    assert uris and all(u.startswith("postgres://127.0.0.1:55999/sparkify/public/") for u in uris), uris


def test_tasks_and_dependencies(dag) -> None:
    edges = {task.task_id: set(task.downstream_task_ids) for task in dag.tasks}
    assert edges == EXPECTED_EDGES


def test_schedule_covers_a_real_hour(dag) -> None:
    # "@hourly" alone gives zero-length intervals in Airflow 3; this timetable's runs cover the hour
    # before their logical date (checked end to end in test_pipeline.py)
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "0 * * * *"
    assert str(dag.timetable.timezone) == "UTC"
    assert dag.start_date == dt.datetime(2018, 11, 1, tzinfo=dt.UTC)
    assert dag.catchup is True


def test_default_args(dag) -> None:
    assert dag.tasks, "no tasks: the loop below would check nothing"
    for task in dag.tasks:
        assert task.retries == 3, task.task_id
        assert task.retry_delay == dt.timedelta(minutes=5)
        assert task.depends_on_past is False
        assert task.email_on_retry is False
        assert task.owner == "sparkify-data"


def test_documented_and_tagged(dag) -> None:
    assert "sparkify" in dag.tags
    assert dag.doc_md and "window" in dag.doc_md.lower()


def test_window_params_default_to_empty(dag) -> None:
    params = dag.params.dump()
    assert params["window_start"] is None and params["window_end"] is None


@pytest.mark.parametrize("task_id", ["stage_events", "stage_songs"])
def test_source_is_templated_not_read_at_import(dag, task_id: str) -> None:
    task = dag.get_task(task_id)
    assert "source" in task.template_fields
    assert "{{" in task.source


def test_star_assets_mean_loaded_and_checked(dag) -> None:
    star = {"songplays", "users", "songs", "artists", "time"}
    checks = dag.get_task("run_quality_checks")
    assert {a.name for a in checks.outlets} == {f"sparkify.{t}" for t in star}
    assert all(a.uri.endswith(f"/public/{a.name.removeprefix('sparkify.')}") for a in checks.outlets)
    for task in dag.tasks:
        if task.task_id.startswith("load_"):
            assert not task.outlets, f"{task.task_id} would announce {task.outlets} before the checks ran"
    assert {a.name for t in ("stage_events", "stage_songs") for a in dag.get_task(t).outlets} == {
        "sparkify.staging_events",
        "sparkify.staging_songs",
    }


def test_failures_alert_and_late_runs_raise_a_deadline(dag) -> None:
    from sparkify.alerts import SparkifyAlert

    assert dag.tasks, "no tasks: the loop below would check nothing"
    for task in dag.tasks:
        assert any(isinstance(c, SparkifyAlert) for c in task.on_failure_callback), task.task_id
        assert task.execution_timeout is not None and task.execution_timeout <= dt.timedelta(hours=1), task.task_id
    assert dag.dagrun_timeout == dt.timedelta(hours=4)


def test_the_deadline_alert_is_set_where_the_dag_processor_asks_for_it(monkeypatch) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from support.paths import ROOT

    monkeypatch.setenv("SPARKIFY_LATE_AFTER_MINUTES", "45")
    dag = DagBag(dag_folder=str(ROOT / "dags" / "sparkify_etl.py")).dags["sparkify_etl"]
    deadlines = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
    assert [d.interval for d in deadlines] == [dt.timedelta(minutes=45)]
    assert deadlines[0].callback.kwargs["kind"] == "deadline"


def test_the_daily_audit_runs_every_check_and_the_hourly_run_only_hourly_ones() -> None:
    from airflow.dag_processing.dagbag import DagBag
    from support.paths import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    audit = bag.dags["sparkify_audit"]
    assert type(audit.timetable).__name__ == "CronDataIntervalTimetable" and audit.timetable.expression == "0 0 * * *"
    task = audit.get_task("audit_star_schema")
    assert audit.get_task("retire_staged_events").table == "staging_events"
    assert set(task.cadences) == {"hourly", "daily"} and not task.outlets
    assert bag.dags["sparkify_etl"].get_task("run_quality_checks").cadences == ("hourly",)
