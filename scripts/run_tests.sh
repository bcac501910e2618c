#!/usr/bin/env bash
# Run the test suite: lint, then pytest on SQLite and on a real PostgreSQL.
# A PostgreSQL server is found or started by scripts/ensure_postgres.sh; a throwaway
# cluster it starts is stopped on exit. In CI (CI=true) PostgreSQL is required.
set -euo pipefail
cd "$(dirname "$0")/.."

state=$(mktemp)
trap 'scripts/stop_postgres.sh "$state" || true; rm -f "$state"' EXIT

if url=$(AIMOPS_PG_STATE_FILE="$state" scripts/ensure_postgres.sh); then
  export AIMOPS_TEST_POSTGRES_URL="$url"
  echo ">> PostgreSQL tests run against $url"
elif [[ "${CI:-}" == "true" ]]; then
  echo ">> FATAL: no PostgreSQL server could be found or started, and CI requires one" >&2
  exit 1
else
  export AIMOPS_TEST_POSTGRES_URL=""
  echo ">> WARNING: no PostgreSQL server: PostgreSQL tests will be SKIPPED" >&2
fi

if ! scripts/ensure_chromium.sh; then
  if [[ "${CI:-}" == "true" ]]; then
    echo ">> FATAL: chromium and chromedriver are missing, and CI requires them" >&2
    exit 1
  fi
  echo ">> WARNING: no chromium: the report's browser tests will be SKIPPED" >&2
fi

echo ">> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --check .; exit 1; }
echo ">> mypy --strict"
scripts/typecheck.sh
echo ">> pytest"
exec .venv/bin/pytest "$@"
