#!/usr/bin/env bash
# A local Airflow on the local stack: API server (with the UI), scheduler, DAG processor, triggerer.
#   scripts/airflow.sh start|stop|status      (with scripts/env.sh sourced; `make airflow` does that)
# All of them run in one process group of their own, so `stop` ends them together. Logs: $AIRFLOW_HOME/*.log
# With AIRFLOW__CORE__EXECUTOR=CeleryExecutor (and AIRFLOW__CELERY__BROKER_URL pointing at a running
# broker) it also starts SPARKIFY_CELERY_WORKERS Celery workers (default 2), named w1@<host>, w2@<host>...,
# each logging to $AIRFLOW_HOME/celery-worker-wN.log (`make airflow-celery` does that with a local Redis).
set -euo pipefail

port=${SPARKIFY_AIRFLOW_PORT:-8080}
home=${AIRFLOW_HOME:?source scripts/env.sh first}
pidfile=$home/airflow-services.pid
url="http://127.0.0.1:$port"

export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
export AIRFLOW__API__PORT=$port
export AIRFLOW__API__BASE_URL=${AIRFLOW__API__BASE_URL:-$url}
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-$url/execution/}
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-$((port + 1))}
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-$((port + 2))}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$home/passwords.json}
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-5}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# Python (the virtualenv's), not curl: one prerequisite fewer
healthy() {
  python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url/api/v2/monitor/health" \
    >/dev/null 2>&1
}

password() {
  python -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
}

start() {
  mkdir -p "$home"
  if running; then echo "Airflow is already running at $url"; return; fi
  if [ ! -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ]; then
    # a random password for the local admin, kept beside the Airflow home (never in the repo)
    python -c 'import json,secrets,sys; json.dump({"admin": secrets.token_urlsafe(12)}, open(sys.argv[1], "w"))' \
      "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
  fi
  airflow db migrate > "$home/db-migrate.log" 2>&1
  workers=0
  if [ "$AIRFLOW__CORE__EXECUTOR" = CeleryExecutor ]; then workers=${SPARKIFY_CELERY_WORKERS:-2}; fi
  # Celery workers on one machine: distinct names (-H), and no log server each (-s: their ports would
  # clash); the API server reads the task logs from $AIRFLOW_HOME/logs, which they share.
  setsid bash -c '
    airflow api-server > "$0/api-server.log" 2>&1 &
    airflow scheduler > "$0/scheduler.log" 2>&1 &
    # the deadline alert is set where DAGs are parsed for scheduling only (see dags/sparkify_etl.py)
    SPARKIFY_LATE_AFTER_MINUTES=${SPARKIFY_LATE_AFTER_MINUTES:-45} airflow dag-processor > "$0/dag-processor.log" 2>&1 &
    airflow triggerer > "$0/triggerer.log" 2>&1 &
    for n in $(seq 1 "$1"); do
      airflow celery worker --celery-hostname "w$n@%h" --skip-serve-logs > "$0/celery-worker-w$n.log" 2>&1 &
    done
    wait' "$home" "$workers" </dev/null >/dev/null 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if healthy; then
      echo "Airflow is up: $url  (user admin, password $(password))"
      echo "Logs in $home; stop it with: make down"
      return
    fi
    sleep 1
  done
  echo "Airflow did not become healthy in 120 s: see $home/*.log" >&2
  exit 1
}

stop() {
  if running; then
    kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 1 30); do running || break; sleep 1; done
    kill -KILL -- "-$(cat "$pidfile")" 2>/dev/null || true
    echo "Airflow stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running: $url"; else echo "stopped"; exit 3; fi ;;
  password) password ;;
  *) echo "usage: $0 start|stop|status|password" >&2; exit 2 ;;
esac
