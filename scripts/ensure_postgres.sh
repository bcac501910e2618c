#!/usr/bin/env bash
# Guarantee a PostgreSQL server for the test suite and print its URL (the only
# line on stdout). Diagnostics go to stderr. Exit 1 if no server can be had.
#
#   AIMOPS_TEST_POSTGRES_URL  target URL (default below)
#   AIMOPS_PG_SCRATCH         parent dir for a throwaway cluster (default /tmp)
#   AIMOPS_PG_STATE_FILE      if set, a throwaway cluster's data dir is written
#                             here; stop it with scripts/stop_postgres.sh FILE
set -euo pipefail

DEFAULT_URL="postgresql://postgres@127.0.0.1:5432/postgres"
URL="${AIMOPS_TEST_POSTGRES_URL:-$DEFAULT_URL}"

log() { echo "ensure_postgres: $*" >&2; }

# Newest /usr/lib/postgresql/*/bin, else empty (fall back to PATH).
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
pgtool() { if [[ -n "$PGBIN" && -x "$PGBIN/$1" ]]; then echo "$PGBIN/$1"; else command -v "$1"; fi; }

# True if a server answers at $1 and we can log in without a password.
usable() {
  PGCONNECT_TIMEOUT=3 "$(pgtool pg_isready)" -q -d "$1" >/dev/null 2>&1 &&
    PGCONNECT_TIMEOUT=3 "$(pgtool psql)" -w -X -q "$1" -c 'select 1' >/dev/null 2>&1
}

wait_usable() {  # $1 url, $2 seconds
  local i
  for ((i = 0; i < $2 * 2; i++)); do usable "$1" && return 0; sleep 0.5; done
  return 1
}

as_pg() {  # run a command as the postgres OS user when we are root
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# 1. Target already usable.
if usable "$URL"; then
  log "using existing server at $URL"
  echo "$URL"; exit 0
fi

# 2. Default local target: try starting a stopped Debian cluster.
if [[ "$URL" == "$DEFAULT_URL" ]] && command -v pg_ctlcluster >/dev/null; then
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1 || true)
  ver=${ver:-15}
  if [[ -d "/etc/postgresql/$ver/main" ]]; then
    log "starting Debian cluster $ver/main"
    if pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 && wait_usable "$URL" 15; then
      echo "$URL"; exit 0
    fi
    log "could not start/use Debian cluster $ver/main"
  fi
fi

# 3. Private throwaway cluster.
if INITDB=$(pgtool initdb) && PGCTL=$(pgtool pg_ctl) &&
  dir=$(mktemp -d "${AIMOPS_PG_SCRATCH:-/tmp}/aimops-pg.XXXX"); then
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
  # Record it up front so stop_postgres.sh can clean up even a failed start.
  [[ -n "${AIMOPS_PG_STATE_FILE:-}" ]] && echo "$dir" >"$AIMOPS_PG_STATE_FILE"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log "starting throwaway cluster in $dir on port $port"
  if as_pg "$INITDB" -D "$dir" -U postgres --auth=trust --no-sync >&2 &&
    as_pg "$PGCTL" -D "$dir" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >&2; then
    url="postgresql://postgres@127.0.0.1:$port/postgres"
    if wait_usable "$url" 15; then
      echo "$url"; exit 0
    fi
  fi
  log "throwaway cluster failed; see $dir/server.log"
fi

# 5. Nothing worked.
log "no usable PostgreSQL server (target $URL); install PostgreSQL or set AIMOPS_TEST_POSTGRES_URL"
exit 1
