# Shared set-up steps of scripts/run.sh and scripts/test.sh (sourced, not run).
# Each step installs what is missing and is quick when everything is already there.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
ANVIL_BIN="$ROOT/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
    # Debian packages, installed only when missing (needs root, as on these machines).
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "Installing Debian packages: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
}

setup_python() {
    if [ ! -x "$PY" ]; then
        log "Creating the Python virtual environment"
        command -v python3.11 >/dev/null || apt_install python3 python3-venv
        "$(command -v python3.11 || command -v python3)" -m venv "$VENV"
    fi
    local stamp="$VENV/.requirements.sha256"
    local want; want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "Installing Python packages"
        "$PY" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.txt" 2>&1 \
            | grep -v "is ignored: it is neither a file nor a directory" || true
        "$PY" -c "import django, celery, web3, stix2validator" || { echo "pip install failed" >&2; exit 1; }
        echo "$want" > "$stamp"
    fi
}

setup_node() {
    command -v npm >/dev/null || apt_install nodejs npm
    local stamp="$ROOT/node_modules/.package-lock.sha256"
    local want; want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
    if [ ! -x "$ANVIL_BIN" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "Installing npm packages (anvil, solc, cytoscape)"
        # Never --omit=optional: the anvil binary is an optional dependency.
        (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
    # Browser libraries (cytoscape) into static/vendor/, served under the portal's CSP.
    [ -f "$ROOT/static/vendor/cytoscape.min.js" ] && [ "$ROOT/static/vendor/cytoscape.min.js" -nt "$stamp" ] \
        || node "$ROOT/scripts/vendor.js"
}

ensure_redis() {
    if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
        command -v redis-server >/dev/null || apt_install redis-server
        log "Starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
        for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && return 0; sleep 0.1; done
        echo "Redis did not start on 127.0.0.1:6379" >&2; exit 1
    fi
}

ensure_postgres() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        [ -d /etc/postgresql ] || apt_install postgresql
        log "Starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
        for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.2; done
        echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1
    fi
}

ensure_database() {
    # ensure_database NAME: create the PostgreSQL database if it does not exist.
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'" | grep -q 1 \
        || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE \"$1\""
}
