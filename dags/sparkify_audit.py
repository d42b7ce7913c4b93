"""
# sparkify_audit

The daily audit of the star schema: every declared check, the full-table ones (`cadence: daily` in
`sql/models/<table>.yml`, e.g. `unique(songplay_id)` over all of `songplays`, which Redshift does not
enforce) as well as the hourly ones over the whole day. `sparkify_etl` runs only the hourly checks, scoped
to its window where a table grows with history, so that an hour's run costs the same after a year as on
the first day; the checks that must read whole tables run here, once a day, or on demand (Trigger).

Results land in `quality_results` like the hourly ones; a failure alerts through `sparkify_alerts`.

`retire_staged_events` keeps `staging_events` to a bounded horizon: the staged rows of day files more than
`sparkify_staging_retention_days` (35) days before the newest loaded hour are deleted, their ledger rows
kept as retired (docs/decisions/0014-staging-events-layout.md).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronDataIntervalTimetable

from sparkify.alerts import SparkifyAlert
from sparkify.models.catalogue import load_catalogue
from sparkify.operators import DataQualityOperator, StagingRetentionOperator

with DAG(
    dag_id="sparkify_audit",
    description="Daily full-table data-quality audit of the star schema",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "sparkify-data",
        "retries": 1,
        "retry_delay": dt.timedelta(minutes=10),
        "execution_timeout": dt.timedelta(hours=2),
        "on_failure_callback": [SparkifyAlert()],
    },
    tags=["sparkify", "quality"],
) as dag:
    DataQualityOperator(
        task_id="audit_star_schema",
        tables=load_catalogue().star_names,
        cadences=("hourly", "daily"),
    )
    # staging_events to a bounded horizon (decision 0014): off the hourly path, once a day
    StagingRetentionOperator(task_id="retire_staged_events", table="staging_events", time_column="ts")
