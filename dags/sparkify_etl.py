"""
# sparkify_etl

Hourly load of Sparkify's raw JSON (song metadata and app event logs) into the star schema.

```
begin → create_tables → stage_events ─┬→ load_users_dim ───┐
                                      ├→ load_time_dim ────┤
                        stage_songs  ─┼→ load_songs_dim ───┼→ load_songplays_fact → checks → end
                                      └→ load_artists_dim ─┘   (each dimension also → checks)
```
(`checks` is the task `run_quality_checks`.)
The loads and their order come from the table catalogue (`sql/models/<table>.yml`: load mode, key,
`depends_on`), so a new dimension is a new set of files, not a change here. The fact loads after the
dimensions it references (`time` included: it is built from the staged window), so a dimension that
fails its load or gate holds the plays back: the star is published whole.

**Window.** A run processes the events of `[window_start, window_end)`: the run params when both are
given (one manual run can load any span, a month included), else the run's data interval: for a
scheduled or backfill run with logical date L, `[L, L+1h)`; for a manual run at L, Airflow gives the hour
before, `[L-1h, L)`. A manual run without logical date and without params fails with a message instead
of guessing.

**Staging.** `stage_events` stages the objects of `log_data/` of the days the window touches, and of the
day before and after (an event filed under a neighbouring day is staged before its window loads); `stage_songs`
stages `song_data/`. A ledger stages every source object once, so reruns and overlapping runs are cheap
and never double rows.

**Loads.** The fact load replaces the window's songplays in one transaction; `users` and `time` are
upserted from the staged window, `songs` and `artists` from all staged songs. Every load is idempotent.

**Checks.** Declared next to each model in `sql/models/<table>.yml`; results land in
`quality_results`. A failing check fails the run without retries. The star tables' assets
(`sparkify.<table>`) are emitted by `run_quality_checks` once every check passed, with the window, the
rows loaded and the check summary as extras.

**Alerts.** A failed task, or a run still going `SPARKIFY_LATE_AFTER_MINUTES` (45 on the local and
compose stacks) after it was queued, is sent to the connection `sparkify_alerts` (a webhook or an SMTP
server), if there is one.

**Configuration.** Connection `redshift` (PostgreSQL or Redshift), connection `aws_default` for
`s3://` sources, Variable `sparkify_source` (a folder or `s3://bucket/prefix`), or the run param
`source`; on Redshift, Variable `sparkify_workspace` (an `s3://bucket/prefix` for COPY manifests).
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, BaseOperator, CronDataIntervalTimetable, Param
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from sparkify.alerts import SparkifyAlert
from sparkify.models.catalogue import load_catalogue
from sparkify.models.sql_files import sql_dir
from sparkify.operators import (
    CreateTablesOperator,
    DataQualityOperator,
    LoadDimensionOperator,
    LoadFactOperator,
    StageToRedshiftOperator,
)
from sparkify.settings import from_env

# Read at run time, never at import: the run param wins, then the Variable (AIRFLOW_VAR_SPARKIFY_SOURCE).
SOURCE = "{{ params.source or var.value.get('sparkify_source', '') }}"
# Where Redshift's COPY manifests go (never the source); unused on PostgreSQL.
WORKSPACE = "{{ var.value.get('sparkify_workspace', '') }}"
# What a record that cannot be staged does: fail its object (default), or go to quarantined_records while
# the rest of the window loads. The run param wins, then the Variable sparkify_bad_records.
BAD_RECORDS = "{{ params.bad_records or var.value.get('sparkify_bad_records', 'fail') }}"
MAX_BAD_RECORDS = "{{ params.max_bad_records }}"

# Catch up from the start date in production; a local or test stack can turn it off, so that unpausing the
# DAG does not queue every hour since 2018 (an explicit backfill works either way).
CATCHUP: bool = from_env("catchup")

# The star tables, their load modes, keys and dependencies: sql/models/<table>.yml (files, not connections).
CATALOGUE = load_catalogue()

# Where the tables live, for the asset URIs (a deployment setting, not a secret): postgres://host:port/db
# locally, redshift://<cluster>.<region>:5439/<db> in production. Asset events carry the run's details.
# The local default follows SPARKIFY_PG_PORT, as the connection (scripts/env.sh) and lineage events do.
LOCAL_WAREHOUSE_URI = f"postgres://127.0.0.1:{from_env('pg_port')}/sparkify"
WAREHOUSE_URI = (from_env("warehouse_uri") or LOCAL_WAREHOUSE_URI).rstrip("/")
# An hourly run not finished this long after it was queued raises a deadline alert. Set where the DAG
# processor runs (scripts/airflow.sh and compose set 45): `airflow dags test` of a DAG with a deadline
# fails in Airflow 3.3.2 once the run succeeds (DagRun.update_state looks the serialized alert up as an id).
LATE_AFTER_MINUTES: int | None = from_env("late_after_minutes")

default_args = {
    "owner": "sparkify-data",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=5),
    "execution_timeout": dt.timedelta(hours=1),
    "email_on_retry": False,
    "email_on_failure": False,
    # where alerts go is the connection sparkify_alerts (webhook or SMTP): see sparkify/alerts.py
    "on_failure_callback": [SparkifyAlert()],
}


def asset(table: str) -> Asset:
    """The Airflow asset for a warehouse table, so downstream DAGs can be scheduled on it."""
    return Asset(name=f"sparkify.{table}", uri=f"{WAREHOUSE_URI}/public/{table}")


def late_run_alert(minutes: int | None) -> DeadlineAlert | None:
    """A deadline alert for a run not finished ``minutes`` after it was queued; none when unset."""
    if minutes is None:
        return None
    late_after = dt.timedelta(minutes=minutes)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=late_after,
        callback=AsyncCallback(
            SparkifyAlert,
            kwargs={
                "kind": "deadline",
                "text": f"a sparkify_etl run has not finished {late_after} after it was queued",
            },
        ),
    )


with DAG(
    dag_id="sparkify_etl",
    description="Load Sparkify's S3 JSON into the star schema, hourly",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
    catchup=CATCHUP,
    max_active_runs=4,
    # a month loaded in one manual run takes minutes; an hourly run, seconds
    dagrun_timeout=dt.timedelta(hours=4),
    deadline=late_run_alert(LATE_AFTER_MINUTES),
    default_args=default_args,
    # the loads' `sql` is a file of sql/ (template_ext), read and rendered when a task runs
    template_searchpath=[str(sql_dir())],
    tags=["sparkify", "etl", "redshift"],
    params={
        "window_start": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Start of the events to load (ISO 8601, UTC). Leave empty to use the data interval.",
        ),
        "window_end": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="End (exclusive) of the events to load. Give both bounds or neither.",
        ),
        "source": Param(
            None,
            type=["null", "string"],
            description="Override the source: a folder or s3://bucket/prefix. Empty: Variable sparkify_source.",
        ),
        "bad_records": Param(
            None,
            type=["null", "string"],
            enum=[None, "fail", "quarantine"],
            description="A record that cannot be staged: fail its object (fail), or quarantine it and load the"
            " rest (quarantine: see the table quarantined_records). Empty: Variable sparkify_bad_records, else fail.",
        ),
        "max_bad_records": Param(
            100,
            type="integer",
            minimum=0,
            description="Under quarantine, the most records one staging task may leave out; one more fails.",
        ),
    },
) as dag:
    begin = EmptyOperator(task_id="begin")
    create_tables = CreateTablesOperator(task_id="create_tables")

    stage_events = StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source=SOURCE,
        workspace=WORKSPACE,
        bad_records=BAD_RECORDS,
        max_bad_records=MAX_BAD_RECORDS,
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        time_column="ts",
        json_format="log_json_path.json",
        outlets=[asset("staging_events")],
    )
    stage_songs = StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=SOURCE,
        workspace=WORKSPACE,
        bad_records=BAD_RECORDS,
        max_bad_records=MAX_BAD_RECORDS,
        prefix="song_data/",
        json_format="auto",
        outlets=[asset("staging_songs")],
    )
    begin >> create_tables >> [stage_events, stage_songs]
    producers: dict[str, BaseOperator] = {"staging_events": stage_events, "staging_songs": stage_songs}

    # one load per star table of the catalogue, after the tasks that fill what it is built from
    loads = []
    for spec in CATALOGUE.star:
        task_id = f"load_{spec.name}_{'fact' if spec.kind == 'fact' else 'dim'}"
        doc_md = f"**{spec.name}** ({spec.kind}): {spec.description} Grain: {spec.grain}."
        if spec.load == "window":  # replace the rows of the run's window
            load: BaseOperator = LoadFactOperator(
                task_id=task_id, table=spec.name, time_column=str(spec.time_column), doc_md=doc_md
            )
        else:
            load = LoadDimensionOperator(
                task_id=task_id, table=spec.name, mode=spec.load, primary_key=spec.primary_key, doc_md=doc_md
            )
        for dependency in spec.depends_on:
            producers[dependency] >> load
        producers[spec.name] = load
        loads.append(load)

    # A fact row is published only with the dimension rows it references: each fact loads after every
    # dimension that is not built from it, so a dimension whose load or gate fails holds the fact back
    # (and the run's checks and asset events with it) instead of publishing plays whose song, artist,
    # user or time is missing. A dimension built from the fact would follow it, as it must: none is (time
    # is built from the staged window for that reason, sql/models/time.sql).
    for fact in (spec for spec in CATALOGUE.star if spec.kind == "fact"):
        for dimension in CATALOGUE.star:
            if dimension.kind == "dimension" and fact.name not in dimension.depends_on:
                producers[dimension.name] >> producers[fact.name]

    # the star tables' assets are emitted by the checks, so they mean "loaded and checked"
    run_quality_checks = DataQualityOperator(
        task_id="run_quality_checks",
        tables=CATALOGUE.star_names,
        outlets=[asset(name) for name in CATALOGUE.star_names],
    )
    end = EmptyOperator(task_id="end")
    loads >> run_quality_checks >> end
