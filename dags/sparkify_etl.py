"""
# sparkify_etl

Hourly load of Sparkify's raw JSON (song metadata and app event logs) into the star schema.

```
begin → create_tables → stage_events ─┐
                        stage_songs  ─┴→ load_songplays_fact → load_{users,songs,artists,time}_dim
      → run_quality_checks → end
```

**Window.** A run processes the events of `[window_start, window_end)`: the run params when both are
given (one manual run can load any span, a month included), else the run's data interval, which for
scheduled and backfill runs is the hour before the logical date. A manual run with neither fails with
a message instead of guessing.

**Staging.** `stage_events` stages the day files of `log_data/` that the window touches; `stage_songs`
stages `song_data/`. A ledger stages every source object once, so reruns and overlapping runs are cheap
and never double rows.

**Loads.** The fact load replaces the window's songplays in one transaction; `users` and `time` are
upserted from the window, `songs` and `artists` from all staged songs. Every load is idempotent.

**Checks.** Declared next to each model in `sql/models/<table>.yml`; results land in
`quality_results`. A failing check fails the run without retries.

**Configuration.** Connection `redshift` (PostgreSQL or Redshift), connection `aws_default` for
`s3://` sources, Variable `sparkify_source` (a folder or `s3://bucket/prefix`), or the run param
`source`.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param

from sparkify.operators import (
    CreateTablesOperator,
    DataQualityOperator,
    LoadDimensionOperator,
    LoadFactOperator,
    StageToRedshiftOperator,
)

STAR_TABLES = ("songplays", "users", "songs", "artists", "time")
# Read at run time, never at import: the run param wins, then the Variable (AIRFLOW_VAR_SPARKIFY_SOURCE).
SOURCE = "{{ params.source or var.value.get('sparkify_source', '') }}"

# Catch up from the start date in production; a local or test stack can turn it off, so that unpausing the
# DAG does not queue every hour since 2018 (an explicit backfill works either way).
CATCHUP = os.environ.get("SPARKIFY_CATCHUP", "true").lower() not in ("false", "0", "no")

default_args = {
    "owner": "sparkify-data",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=5),
    "email_on_retry": False,
    "email_on_failure": False,
}


def asset(table: str) -> Asset:
    """The Airflow asset for a warehouse table, so downstream DAGs can be scheduled on it."""
    return Asset(name=f"sparkify.{table}", uri=f"postgres://warehouse/sparkify/public/{table}")


with DAG(
    dag_id="sparkify_etl",
    description="Load Sparkify's S3 JSON into the star schema, hourly",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
    catchup=CATCHUP,
    max_active_runs=4,
    default_args=default_args,
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
    },
) as dag:
    begin = EmptyOperator(task_id="begin")
    create_tables = CreateTablesOperator(task_id="create_tables")

    stage_events = StageToRedshiftOperator(
        task_id="stage_events",
        table="staging_events",
        source=SOURCE,
        daily_key="log_data/%Y/%m/%Y-%m-%d-events.json",
        json_format="log_json_path.json",
        outlets=[asset("staging_events")],
    )
    stage_songs = StageToRedshiftOperator(
        task_id="stage_songs",
        table="staging_songs",
        source=SOURCE,
        prefix="song_data/",
        json_format="auto",
        outlets=[asset("staging_songs")],
    )

    load_songplays = LoadFactOperator(
        task_id="load_songplays_fact",
        table="songplays",
        outlets=[asset("songplays")],
    )
    load_dimensions = [
        LoadDimensionOperator(
            task_id=f"load_{table}_dim",
            table=table,
            mode="upsert",
            primary_key=key,
            outlets=[asset(table)],
        )
        for table, key in (("users", "user_id"), ("songs", "song_id"), ("artists", "artist_id"), ("time", "start_time"))
    ]

    run_quality_checks = DataQualityOperator(task_id="run_quality_checks", tables=STAR_TABLES)
    end = EmptyOperator(task_id="end")

    begin >> create_tables >> [stage_events, stage_songs] >> load_songplays
    load_songplays >> load_dimensions >> run_quality_checks >> end
