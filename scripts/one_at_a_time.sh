#!/usr/bin/env bash
# Run a command while holding a lock file: a second caller waits for the first, and says so.
#   scripts/one_at_a_time.sh LOCKFILE "what" COMMAND...
set -euo pipefail
lock=$1 what=$2
shift 2
mkdir -p "$(dirname "$lock")"
exec 9>"$lock"
if ! flock -n 9; then
  echo "another '$what' is running in this folder: waiting for it to finish (Ctrl-C stops waiting)" >&2
  flock 9
  echo "the other '$what' has finished: starting" >&2
fi
"$@"
