#!/usr/bin/env bash
# Run a command while holding a lock file: a second caller waits for the first, and says so.
#   scripts/one_at_a_time.sh LOCKFILE "what" COMMAND...
# flock holds the lock in its own process and closes it in the command's (-o): a server the command starts
# and leaves running (make demo starts PostgreSQL) must not hold the lock after the command has finished.
set -uo pipefail
lock=$1 what=$2
shift 2
mkdir -p "$(dirname "$lock")"
busy=75  # flock's exit status when the lock is taken (-E), not one the command gives
flock -n -o -E "$busy" "$lock" "$@"
status=$?
if [ "$status" -ne "$busy" ]; then
  exit "$status"
fi
echo "another '$what' is running in this folder: waiting for it to finish (Ctrl-C stops waiting)" >&2
exec flock -o "$lock" "$@"
