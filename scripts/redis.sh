#!/usr/bin/env bash
# A local Redis, the Celery broker of `make airflow-celery`.  scripts/redis.sh up|down|status|url
# Lives in $SPARKIFY_HOME/redis (default .local/redis); listens on 127.0.0.1:$SPARKIFY_REDIS_PORT only
# (default 55479), keeps nothing on disk: queued tasks are lost when it stops, as a broker's restart loses
# them anyway without persistence. Needs Debian's redis-server (apt-get install redis-server).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
home=${SPARKIFY_HOME:-$root/.local}/redis
port=${SPARKIFY_REDIS_PORT:-55479}
url="redis://127.0.0.1:$port/0"

running() { [ -f "$home/redis.pid" ] && kill -0 "$(cat "$home/redis.pid")" 2>/dev/null; }

up() {
  command -v redis-server >/dev/null || { echo "redis.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }
  mkdir -p "$home"
  if ! running; then
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$home" \
      --daemonize yes --pidfile "$home/redis.pid" --logfile "$home/redis.log"
    for _ in $(seq 1 50); do running && break; sleep 0.1; done
  fi
  echo "Redis is up: $url"
}

down() {
  if running; then kill "$(cat "$home/redis.pid")"; echo "Redis stopped"; fi
  rm -f "$home/redis.pid"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running: $url"; else echo "stopped"; exit 3; fi ;;
  url) echo "$url" ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
