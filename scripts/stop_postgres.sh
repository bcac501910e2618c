#!/usr/bin/env bash
# Stop and remove a throwaway cluster started by ensure_postgres.sh.
# Usage: stop_postgres.sh STATEFILE   (no-op if STATEFILE is missing or empty)
set -euo pipefail

state="${1:?usage: stop_postgres.sh STATEFILE}"
[[ -s "$state" ]] || exit 0
dir=$(<"$state")
[[ -d "$dir" ]] || { rm -f -- "$state"; exit 0; }
# Refuse to touch anything that is not one of our throwaway clusters.
[[ $(basename -- "$dir") == aimops-pg.* ]] || { echo "stop_postgres: refusing to remove $dir" >&2; exit 1; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
PGCTL="$PGBIN/pg_ctl"; [[ -x "$PGCTL" ]] || PGCTL=$(command -v pg_ctl)

if [[ -f "$dir/postmaster.pid" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$PGCTL" -D "$dir" -m fast -w stop >&2 || true
  else
    "$PGCTL" -D "$dir" -m fast -w stop >&2 || true
  fi
fi
rm -rf -- "$dir"
rm -f -- "$state"
