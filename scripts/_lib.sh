# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/run and .ci/run.
#
# This file is meant to be *sourced*, never executed:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
#
# Nothing here relies on the machine's system Redis: when $REDIS_URL does not answer, qs_ensure_redis starts a
# private, throw-away redis-server on a free loopback port (remember to `trap qs_cleanup EXIT`).
#
# Informational messages go to stderr, prefixed with "[qs]".

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "scripts/_lib.sh is a library: source it, don't execute it" >&2
    exit 2
fi

_QSRUN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Repository root (absolute path). Every other path in these scripts is relative to it.
qs_root() {
    printf '%s\n' "$_QSRUN_ROOT"
}

_qs_info() {
    printf '[qs] %s\n' "$*" >&2
}

_qs_error() {
    printf '[qs] ERROR: %s\n' "$*" >&2
}

# Python used by the helpers: $QSRUN_PYTHON if set, else the project venv's, else the system python3.
_qs_python() {
    if [[ -n "${QSRUN_PYTHON:-}" ]]; then
        printf '%s\n' "$QSRUN_PYTHON"
    elif [[ -x "$_QSRUN_ROOT/.venv/bin/python" ]]; then
        printf '%s\n' "$_QSRUN_ROOT/.venv/bin/python"
    else
        printf '%s\n' python3
    fi
}

# Install Debian packages, with sudo only when not root (and only if sudo exists). Retries after `apt-get update`.
_qs_apt_install() {
    local -a sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            _qs_error "need root (or sudo) to install: $*"
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        _qs_error "apt-get not found; install these packages by hand: $*"
        return 1
    fi
    local log
    log="$(mktemp)"
    if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    _qs_info "apt-get install $* failed; running apt-get update and retrying"
    if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    tail -n 20 "$log" >&2
    rm -f "$log"
    _qs_error "apt-get install $* failed"
    return 1
}

_qs_sha256() {
    sha256sum "$1" | cut -d' ' -f1
}

# Create .venv if missing; (re)install the project with its dev extras whenever pyproject.toml changed since the
# last successful install (stamp: .venv/.qs-installed holds pyproject.toml's sha256). Quiet unless it fails.
qs_ensure_venv() {
    local root venv stamp log want
    root="$(qs_root)"
    venv="$root/.venv"
    stamp="$venv/.qs-installed"
    mkdir -p "$root/.qs/logs"
    log="$root/.qs/logs/venv.log"

    if [[ ! -x "$venv/bin/python" ]]; then
        _qs_info "creating virtualenv .venv"
        if ! python3 -m venv "$venv" >"$log" 2>&1; then
            # Debian ships ensurepip separately; a half-created venv has no pip.
            _qs_info "python3 -m venv failed; installing python3-venv"
            rm -rf "$venv"
            _qs_apt_install python3-venv || return 1
            if ! python3 -m venv "$venv" >"$log" 2>&1; then
                cat "$log" >&2
                _qs_error "could not create $venv"
                return 1
            fi
        fi
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >>"$log" 2>&1 || true
    fi

    want="$(_qs_sha256 "$root/pyproject.toml")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    _qs_info "installing the project into .venv (pip install -e '.[dev]')"
    if ! (cd "$root" && "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]') \
        >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        _qs_error "pip install -e '.[dev]' failed (full log: .qs/logs/venv.log)"
        return 1
    fi
    printf '%s\n' "$want" >"$stamp"
}

# Make sure a redis-server binary is on PATH, installing the Debian package if needed.
qs_ensure_redis_binary() {
    if command -v redis-server >/dev/null 2>&1; then
        return 0
    fi
    _qs_info "redis-server not found; installing the Debian package redis-server"
    _qs_apt_install redis-server || true
    if ! command -v redis-server >/dev/null 2>&1; then
        _qs_error "redis-server is not installed and could not be installed automatically." \
            "Install it (Debian/Ubuntu: apt-get install redis-server) and retry."
        return 1
    fi
}

# qs_ensure_system_packages: the Debian packages the jobs need at run time (the certificates' Unicode font).
qs_ensure_system_packages() {
    local font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
    if [[ -n "${CERTIFICATE_FONT:-}" || -f "$font" ]]; then
        return 0
    fi
    _qs_info "the DejaVu font is missing; installing the Debian package fonts-dejavu-core"
    _qs_apt_install fonts-dejavu-core || true
    if [[ ! -f "$font" ]]; then
        _qs_error "fonts-dejavu-core is not installed and could not be installed automatically." \
            "Install it (apt-get install fonts-dejavu-core) or set CERTIFICATE_FONT to a Unicode TTF file."
        return 1
    fi
}

# qs_ensure_browser: the Debian chromium the dashboard's browser tests drive (Playwright launches it by path; no
# browser is ever downloaded) and the playwright Python package in .venv (a dev extra; installed here if missing).
qs_ensure_browser() {
    if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
        _qs_info "chromium not found; installing the Debian package chromium (for the dashboard's browser tests)"
        _qs_apt_install chromium || true
        if ! command -v chromium >/dev/null 2>&1; then
            _qs_error "chromium is not installed and could not be installed automatically." \
                "Install it (apt-get install chromium) to run the browser tests."
            return 1
        fi
    fi
    local py
    py="$(_qs_python)"
    if ! "$py" -c 'import playwright' >/dev/null 2>&1; then
        _qs_info "installing the playwright Python package into .venv"
        "$py" -m pip install -q --disable-pip-version-check 'playwright>=1.45' >&2 || return 1
    fi
}

# qs_redis_reachable URL -> 0 if a PING to URL (redis:// or rediss://) answers within 2 s.
qs_redis_reachable() {
    local url="${1:-}"
    [[ -n "$url" ]] || return 1
    "$(_qs_python)" - "$url" >/dev/null 2>&1 <<'PY'
import sys

import redis

try:
    client = redis.Redis.from_url(sys.argv[1], socket_timeout=2, socket_connect_timeout=2)
    ok = client.ping()
except Exception:
    sys.exit(1)
sys.exit(0 if ok else 1)
PY
}

# Hide a password in a URL before printing it.
_qs_redact_url() {
    printf '%s\n' "$1" | sed -E 's#(://)[^@/]*@#\1***@#'
}

_qs_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Use $REDIS_URL if it answers; otherwise start a private redis-server on a free loopback port, export REDIS_URL
# and QSRUN_PRIVATE_REDIS_PID (stop it with qs_cleanup). Must be called in the current shell, not in $(...).
qs_ensure_redis() {
    if [[ -n "${QSRUN_PRIVATE_REDIS_PID:-}" ]] && kill -0 "$QSRUN_PRIVATE_REDIS_PID" 2>/dev/null; then
        _qs_info "using the private redis-server already started (pid $QSRUN_PRIVATE_REDIS_PID) at $REDIS_URL"
        return 0
    fi
    if [[ -n "${REDIS_URL:-}" ]]; then
        if qs_redis_reachable "$REDIS_URL"; then
            _qs_info "using Redis at $(_qs_redact_url "$REDIS_URL") (from \$REDIS_URL)"
            return 0
        fi
        _qs_info "\$REDIS_URL ($(_qs_redact_url "$REDIS_URL")) does not answer; starting a private redis-server"
    fi
    qs_ensure_redis_binary || return 1

    local root dir log port pid attempt deadline
    root="$(qs_root)"
    dir="$root/.qs/redis"
    mkdir -p "$dir"
    # Old logs of earlier runs are only useful for a while.
    find "$dir" -maxdepth 1 -name 'redis-*.log' -mtime +2 -delete 2>/dev/null || true

    for attempt in 1 2 3; do
        port="$(_qs_free_port)"
        log="$dir/redis-$port.log"
        : >"$log"
        # Own process group (setpgid before exec keeps the pid): a Ctrl-C in the terminal must reach the worker,
        # which drains gracefully, but not Redis, which qs_cleanup stops afterwards.
        # shellcheck disable=SC2094 # --logfile only names the file; redis appends to it like the redirection does
        python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])' \
            redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
            --dir "$dir" --logfile "$log" </dev/null >>"$log" 2>&1 &
        pid=$!
        QSRUN_PRIVATE_REDIS_PID="$pid"
        export QSRUN_PRIVATE_REDIS_PID

        deadline=$((SECONDS + 10))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if qs_redis_reachable "redis://127.0.0.1:$port/0"; then
                REDIS_URL="redis://127.0.0.1:$port/0"
                QSRUN_PRIVATE_REDIS_PORT="$port"
                export REDIS_URL QSRUN_PRIVATE_REDIS_PORT
                _qs_info "using a private redis-server at $REDIS_URL (pid $pid, log .qs/redis/redis-$port.log)"
                return 0
            fi
            sleep 0.1
        done

        if kill -0 "$pid" 2>/dev/null; then
            _qs_error "private redis-server (pid $pid) did not answer PING within 10 s; log tail:"
            tail -n 20 "$log" >&2
            qs_cleanup
            return 1
        fi
        wait "$pid" 2>/dev/null || true
        unset QSRUN_PRIVATE_REDIS_PID
        if [[ "$attempt" -lt 3 ]] && grep -qi 'address already in use' "$log"; then
            _qs_info "port $port was taken meanwhile; retrying with another port"
            continue
        fi
        _qs_error "private redis-server exited during startup; log tail:"
        tail -n 20 "$log" >&2
        return 1
    done
    return 1
}

# Stop the private redis-server started by qs_ensure_redis, if any. Idempotent; meant for an EXIT trap.
qs_cleanup() {
    local pid="${QSRUN_PRIVATE_REDIS_PID:-}"
    [[ -n "$pid" ]] || return 0
    unset QSRUN_PRIVATE_REDIS_PID QSRUN_PRIVATE_REDIS_PORT
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}
