#!/usr/bin/env bash
# Run a command with a headless Chromium for the dashboard's browser tests (tests/ui), naming it
# in MLKIT_CHROMIUM.
#
#   scripts/with-chromium.sh .venv/bin/python -m pytest -q
#
# Uses Debian's `chromium` package, installing it with apt-get when it is missing and we are root
# (idempotent: an installed one is used as is). Playwright (a dev dependency) drives it through
# `executable_path`, so no browser is downloaded. Where Chromium cannot be had (no root, no apt),
# the command still runs and the browser tests skip with the reason, unless
# MLKIT_REQUIRE_CHROMIUM=1 (CI sets it), which makes that an error.
set -euo pipefail

find_chromium() {
    local name
    for name in chromium chromium-browser; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

fail_or_warn() {
    if [[ "${MLKIT_REQUIRE_CHROMIUM:-0}" == "1" ]]; then
        echo "with-chromium: $1 (MLKIT_REQUIRE_CHROMIUM=1, so this is an error)" >&2
        exit 1
    fi
    echo "with-chromium: $1; the browser tests will be skipped" >&2
}

CHROMIUM="$(find_chromium || true)"
if [[ -z "$CHROMIUM" ]]; then
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null; then
        fail_or_warn "no chromium on PATH and no root apt-get to install it"
    else
        echo "with-chromium: installing Debian's chromium package" >&2
        export DEBIAN_FRONTEND=noninteractive
        if apt-get update -qq >/dev/null && \
            apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
            CHROMIUM="$(find_chromium || true)"
        fi
        [[ -n "$CHROMIUM" ]] || fail_or_warn "apt-get install chromium failed"
    fi
fi
if [[ -n "$CHROMIUM" ]]; then
    export MLKIT_CHROMIUM="$CHROMIUM"
    echo "with-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")" >&2
fi
exec "$@"
