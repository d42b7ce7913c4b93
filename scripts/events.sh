#!/usr/bin/env bash
# Event-driven loads on this machine: moto's server (S3 + SQS), the bucket, queue and notification of
# docs/events.md, and the local Airflow (scripts/airflow.sh, triggerer included) pointed at them.
#   scripts/events.sh up|env|down      (with scripts/env.sh sourced and the dev virtualenv active)
# State in $SPARKIFY_HOME/events: moto.pid, moto.log, events.env (the export lines `env` prints).
set -euo pipefail

home=${SPARKIFY_HOME:?source scripts/env.sh first}/events
envfile=$home/events.env
bucket=${SPARKIFY_EVENTS_BUCKET:-sparkify-events}
prefix=${SPARKIFY_EVENTS_PREFIX:-raw}
queue=${SPARKIFY_EVENTS_QUEUE:-sparkify-s3-events}

moto_running() { [ -f "$home/moto.pid" ] && kill -0 "$(cat "$home/moto.pid")" 2>/dev/null; }

up() {
  mkdir -p "$home"
  if ! moto_running; then
    port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    setsid moto_server -H 127.0.0.1 -p "$port" > "$home/moto.log" 2>&1 < /dev/null &
    echo $! > "$home/moto.pid"
    endpoint="http://127.0.0.1:$port"
    for _ in $(seq 1 60); do
      python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$endpoint/moto-api/" \
        >/dev/null 2>&1 && break
      sleep 0.5
    done
    queue_url=$(python scripts/events_local.py setup --endpoint "$endpoint" --bucket "$bucket" --prefix "$prefix" \
      --queue "$queue")
    cat > "$envfile" <<ENV
export SPARKIFY_S3_ENDPOINT=$endpoint
export SPARKIFY_S3_BUCKET=$bucket
export SPARKIFY_S3_PREFIX=$prefix
export SPARKIFY_SQS_QUEUE_URL=$queue_url
ENV
  fi
  # shellcheck source=/dev/null
  source "$envfile"
  export AIRFLOW_CONN_AWS_DEFAULT="{\"conn_type\": \"aws\", \"login\": \"testing\", \"password\": \"testing\",
    \"extra\": {\"endpoint_url\": \"$SPARKIFY_S3_ENDPOINT\", \"region_name\": \"us-west-2\"}}"
  export AIRFLOW_VAR_SPARKIFY_SOURCE="s3://$SPARKIFY_S3_BUCKET/$SPARKIFY_S3_PREFIX"
  export SPARKIFY_SQS_QUEUE_URL
  scripts/airflow.sh start
  # both DAGs run from now on: the events DAG on notifications, sparkify_etl on its triggers (and hourly)
  for dag in sparkify_events sparkify_etl; do
    for _ in $(seq 1 60); do airflow dags unpause "$dag" >/dev/null 2>&1 && break; sleep 2; done
  done
  echo "S3 + SQS (moto) at $SPARKIFY_S3_ENDPOINT: upload under s3://$SPARKIFY_S3_BUCKET/$SPARKIFY_S3_PREFIX/"
  echo "log_data/ or song_data/ and watch sparkify_events; \`eval \"\$(make -s events-env)\"\` for the settings"
}

case "${1:-}" in
  up) up ;;
  env) if [ -f "$envfile" ] && moto_running; then cat "$envfile"; else echo "not running: make events-up" >&2; exit 3; fi ;;
  down)
    scripts/airflow.sh stop
    if moto_running; then kill -TERM -- "-$(cat "$home/moto.pid")" 2>/dev/null || kill "$(cat "$home/moto.pid")"; fi
    rm -f "$home/moto.pid" "$envfile"
    echo "moto stopped" ;;
  *) echo "usage: $0 up|env|down" >&2; exit 2 ;;
esac
