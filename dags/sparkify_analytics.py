"""
# sparkify_analytics

Refreshes the analytics team's tables (`analytics_<question>`, one per file of `sql/analytics/`)
whenever `sparkify_etl` has published new songplays: it is scheduled on the asset
`sparkify.songplays`, which `sparkify_etl` emits only after every quality check passed. A run whose
checks fail publishes nothing, so these tables never show data that failed its checks.

Each refresh rebuilds its table in one transaction (drop, `create table … as`), on PostgreSQL and
Redshift alike.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Asset, task

from sparkify.alerts import SparkifyAlert
from sparkify.models.sql_files import sql_dir

QUESTIONS = sorted(path.stem for path in (sql_dir() / "analytics").glob("*.sql"))

with DAG(
    dag_id="sparkify_analytics",
    description="Refresh the analytics tables after sparkify_etl publishes checked songplays",
    doc_md=__doc__,
    schedule=[Asset.ref(name="sparkify.songplays")],  # by name: the URI is the deployment's
    start_date=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "sparkify-analytics",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=2),
        "execution_timeout": dt.timedelta(minutes=30),
        "on_failure_callback": [SparkifyAlert()],
    },
    tags=["sparkify", "analytics"],
) as dag:

    @task
    def refresh(question: str, redshift_conn_id: str = "redshift") -> int:
        """Rebuild ``analytics_<question>`` from ``sql/analytics/<question>.sql``; returns its rows."""
        from sparkify.identifiers import check_identifier
        from sparkify.models.sql_files import render_sql
        from sparkify.warehouses import open_warehouse

        table = check_identifier(f"analytics_{question}")
        warehouse = open_warehouse(redshift_conn_id)
        query = render_sql(f"analytics/{question}.sql", warehouse.dialect)
        with warehouse.transaction() as cursor:
            cursor.execute(f"drop table if exists {table}")
            cursor.execute(f"create table {table} as\n{query}")
            cursor.execute(f"select count(*) from {table}")
            return cursor.fetchone()[0]

    refresh.expand(question=QUESTIONS)
