#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL server on loopback, MLKIT_TEST_REGISTRY_URL naming it.
#
#   scripts/with-postgres.sh .venv/bin/python -m pytest -q tests/registry
#
# Uses the server binaries of Debian's `postgresql` package, installing it with apt-get when it is
# missing and we are root. The cluster lives in a temporary directory, listens on 127.0.0.1 on a
# free port, and is stopped and removed when the command ends. Where PostgreSQL cannot be had (no
# root, no apt), the command is skipped with the reason, unless MLKIT_REQUIRE_POSTGRES=1 (CI sets
# it), which makes that an error.
set -euo pipefail

skip_or_fail() {
    if [[ "${MLKIT_REQUIRE_POSTGRES:-0}" == "1" ]]; then
        echo "with-postgres: $1 (MLKIT_REQUIRE_POSTGRES=1, so this is an error)" >&2
        exit 1
    fi
    echo "with-postgres: SKIPPED the PostgreSQL run: $1" >&2
    exit 0
}

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

BINDIR="$(find_bindir || true)"
if [[ -z "$BINDIR" ]]; then
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null; then
        skip_or_fail "no PostgreSQL server under /usr/lib/postgresql and no root apt-get to install it"
    fi
    echo "with-postgres: installing Debian's postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || skip_or_fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
        || skip_or_fail "apt-get install postgresql failed"
    BINDIR="$(find_bindir)" || skip_or_fail "postgresql installed but initdb not found"
fi

# The server refuses to run as root: run it as the postgres user (created by the package).
AS=()
if [[ "$(id -u)" == "0" ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent postgres
    AS=(runuser -u postgres --)
fi

DIR="$(mktemp -d /tmp/mlkit-pg.XXXXXX)"
chmod 755 "$DIR"
[[ ${#AS[@]} -gt 0 ]] && chown postgres "$DIR"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

cleanup() {
    "${AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

"${AS[@]}" "$BINDIR/initdb" -D "$DIR/data" -A trust -U postgres --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; skip_or_fail "initdb failed"; }
"${AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -w -t 60 -l "$DIR/server.log" \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100" start >/dev/null \
    || { cat "$DIR/server.log" >&2; skip_or_fail "the server did not start"; }

export MLKIT_TEST_REGISTRY_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
"$@"
