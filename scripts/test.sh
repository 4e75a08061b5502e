#!/usr/bin/env bash
# Set up and run the whole test suite against PostgreSQL, Redis, a real Celery worker, a real
# anvil node and a real chromium. The tests start anvil and the worker themselves; this script
# installs what is missing and starts PostgreSQL and Redis when they are down.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

setup_python
setup_node
apt_install chromium
ensure_postgres
ensure_redis

export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/portal}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/1}"
export PORTAL_VAR_DIR="$ROOT/var/test"

log "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
log "Import contracts (the layers in pyproject.toml)"
"$VENV/bin/lint-imports" --no-cache
log "Contract artifact"
node ledger/contracts/compile.js --check
log "pytest"
exec "$PY" -m pytest "$@"
