#!/usr/bin/env bash
# Set up and run the whole portal on this machine: a local anvil chain (state kept in var/chain),
# the anchor contract, demo data, the web server, a Celery worker and Celery beat.
# Re-runnable: a second run reuses the chain, the contract and the data. Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

setup_python
setup_node
ensure_redis
if [[ "${DATABASE_URL:-}" == postgres* ]]; then
    ensure_postgres
    ensure_database "$(basename "${DATABASE_URL%%\?*}")"
fi

PORT="${PORT:-8000}"
CHAIN_PORT="${CHAIN_PORT:-8545}"
export LEDGER_RPC_URL="${LEDGER_RPC_URL:-http://127.0.0.1:$CHAIN_PORT}"
export PORTAL_VAR_DIR="${PORTAL_VAR_DIR:-$ROOT/var}"
# A machine running the demo is a development machine: DEBUG is on only when this says so.
export PORTAL_ENV="${PORTAL_ENV:-development}"
VAR="$PORTAL_VAR_DIR"
mkdir -p "$VAR/chain" "$VAR/log"

pids=()
cleanup() {
    trap - EXIT INT TERM
    log "Stopping"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if ! (exec 3<>/dev/tcp/127.0.0.1/"$CHAIN_PORT") 2>/dev/null; then
    log "Starting anvil on port $CHAIN_PORT (state in $VAR/chain/state.json)"
    "$ANVIL_BIN" --host 127.0.0.1 --port "$CHAIN_PORT" --chain-id 31337 \
        --state "$VAR/chain/state.json" --state-interval 1 > "$VAR/log/anvil.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$CHAIN_PORT") 2>/dev/null && break; sleep 0.1; done
fi

log "Migrating the database"
"$PY" manage.py migrate --noinput
"$PY" manage.py deploy_anchor
"$PY" manage.py load_demo
"$PY" manage.py collectstatic --noinput -v 0

log "Starting the Celery workers and beat (logs in $VAR/log)"
# Workers never run with DEBUG: it records every SQL query, which slows a long-running worker
# down and grows its memory (about 40% fewer items per second in bench/pipeline.py).
# Two pools: the pipeline stages (seal, anchor, deliver, verify) on the default queue, and
# webhook POSTs on their own queue, so a slow receiver never holds a pipeline process.
QUEUE="${CELERY_QUEUE:-portal}"
DEBUG=false "$VENV/bin/celery" -A portal worker -l INFO -Q "$QUEUE" -n "pipeline@%h" \
    --concurrency "${WORKER_CONCURRENCY:-4}" > "$VAR/log/worker.log" 2>&1 &
pids+=($!)
DEBUG=false "$VENV/bin/celery" -A portal worker -l INFO -Q "${CELERY_WEBHOOK_QUEUE:-$QUEUE.webhooks}" \
    -n "webhooks@%h" --concurrency "${WEBHOOK_WORKER_CONCURRENCY:-4}" \
    > "$VAR/log/webhooks.log" 2>&1 &
pids+=($!)
DEBUG=false "$VENV/bin/celery" -A portal beat -l INFO -s "$VAR/celerybeat-schedule" \
    > "$VAR/log/beat.log" 2>&1 &
pids+=($!)

log "Portal on http://127.0.0.1:$PORT/ (Ctrl-C to stop)"
# gunicorn, as in a deployment: WEB_WORKERS processes of WEB_THREADS threads each.
WEB_BIND="127.0.0.1:$PORT" "$VENV/bin/gunicorn" -c portal/gunicorn.conf.py &
pids+=($!)
wait -n "${pids[@]}"
