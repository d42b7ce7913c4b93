#!/usr/bin/env bash
# A local Airflow on the local stack: API server (with the UI), scheduler, DAG processor, triggerer.
#   scripts/airflow.sh start|stop|status      (with scripts/env.sh sourced; `make airflow` does that)
# All four run in one process group of their own, so `stop` ends them together. Logs: $AIRFLOW_HOME/*.log
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
  setsid bash -c '
    airflow api-server > "$0/api-server.log" 2>&1 &
    airflow scheduler > "$0/scheduler.log" 2>&1 &
    airflow dag-processor > "$0/dag-processor.log" 2>&1 &
    airflow triggerer > "$0/triggerer.log" 2>&1 &
    wait' "$home" </dev/null >/dev/null 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1; then
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
