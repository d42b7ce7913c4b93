# Environment for running the project's Airflow against the local stack. Source it:  . scripts/env.sh
# Every value can be overridden by exporting it first.
_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export SPARKIFY_HOME=${SPARKIFY_HOME:-$_root/.local}
export SPARKIFY_PG_PORT=${SPARKIFY_PG_PORT:-55432}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$SPARKIFY_HOME/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=${AIRFLOW__CORE__DAGS_FOLDER:-$_root/dags}
export AIRFLOW__CORE__PLUGINS_FOLDER=${AIRFLOW__CORE__PLUGINS_FOLDER:-$_root/plugins}
export AIRFLOW__CORE__LOAD_EXAMPLES=${AIRFLOW__CORE__LOAD_EXAMPLES:-False}
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-postgresql+psycopg2://postgres@127.0.0.1:$SPARKIFY_PG_PORT/airflow}
# The warehouse: the project's own PostgreSQL. Point AIRFLOW_CONN_REDSHIFT at a Redshift cluster for production.
export AIRFLOW_CONN_REDSHIFT=${AIRFLOW_CONN_REDSHIFT:-postgres://postgres@127.0.0.1:$SPARKIFY_PG_PORT/sparkify}
export AIRFLOW_VAR_SPARKIFY_SOURCE=${AIRFLOW_VAR_SPARKIFY_SOURCE:-$SPARKIFY_HOME/demo-data}
# Locally, unpausing the DAG should not queue every hour since 2018: backfill explicitly instead.
export SPARKIFY_CATCHUP=${SPARKIFY_CATCHUP:-false}
export SPARKIFY_SQL_DIR=${SPARKIFY_SQL_DIR:-$_root/sql}
export PYTHONPATH=$_root/plugins${PYTHONPATH:+:$PYTHONPATH}
unset _root
