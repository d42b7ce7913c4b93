#!/usr/bin/env bash
# The project's own PostgreSQL cluster (the embedded warehouse and Airflow's metadata database).
#   scripts/pg.sh up|down|status|dsn [DB]
# Lives in $SPARKIFY_HOME/pg (default .local/pg); listens on 127.0.0.1:$SPARKIFY_PG_PORT only.
# initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` system user.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
home=${SPARKIFY_HOME:-$root/.local}
port=${SPARKIFY_PG_PORT:-55432}
data=$home/pg/data
sock=$home/pg/run
log=$home/pg/server.log

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  # the newest installed version, whichever it is
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
if [ ! -x "$bindir/initdb" ]; then
  echo "pg.sh: no PostgreSQL server binaries found (apt-get install postgresql: any version; or set PG_BINDIR)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

dsn() { echo "postgresql://postgres@127.0.0.1:$port/${1:-sparkify}"; }

up() {
  mkdir -p "$home/pg"
  if [ "$(id -u)" = 0 ]; then
    # Said before it happens (README, "Running as root"): these change the machine outside the project.
    if ! id postgres >/dev/null 2>&1; then
      echo "pg.sh: running as root: creating the system user 'postgres' (initdb and pg_ctl refuse to run as root)" >&2
      useradd --system --home-dir "$home/pg" --shell /usr/sbin/nologin postgres
    fi
    chown postgres "$home/pg"
    # the server user must be able to reach its data folder through every parent
    closed=()
    d=$home; while [ "$d" != / ]; do [ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || closed+=("$d"); d=$(dirname "$d"); done
    if [ ${#closed[@]} -gt 0 ]; then
      echo "pg.sh: running as root: chmod o+x (let others traverse, not list) ${closed[*]}, so 'postgres' reaches $home/pg" >&2
      chmod o+x "${closed[@]}" 2>/dev/null || true
    fi
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner mkdir -p "$data" "$sock"
    as_owner "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_owner mkdir -p "$sock"
  if ! running; then
    # A development server: no fsync, and no replicas or archive, so wal_level=minimal: a bulk load into a
    # table it emptied in the same transaction writes no WAL (PostgreSQL's "Populating a Database";
    # PostgresWarehouse.filling, decision 0019)
    as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_level=minimal -c max_wal_senders=0" \
      start >/dev/null
  fi
  for db in sparkify airflow; do
    if ! psql "$(dsn postgres)" -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
      psql "$(dsn postgres)" -qc "create database $db" >/dev/null
    fi
  done
  echo "PostgreSQL is up: $(dsn)"
}

down() {
  if [ -f "$data/PG_VERSION" ] && running; then
    as_owner "$bindir/pg_ctl" -D "$data" -w -m fast stop >/dev/null
    echo "PostgreSQL stopped"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "running: $(dsn)"; else echo "stopped"; exit 3; fi ;;
  dsn) dsn "${2:-sparkify}" ;;
  *) echo "usage: $0 up|down|status|dsn [DB]" >&2; exit 2 ;;
esac
