#!/usr/bin/env bash
# The main job on the embedded defaults: load → train → list → deploy → serve → predict.
# Everything lands in the current directory: warehouse.duckdb, registry.db, artifacts/, runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
mlkit=.venv/bin/mlkit
port=${MLKIT_DEMO_PORT:-8765}
export MLKIT_ENDPOINT_URL="http://127.0.0.1:${port}"
started=$(date +%s)

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step mlkit data load digits
$mlkit data load digits

step mlkit train experiments/digits.toml
$mlkit train experiments/digits.toml

step mlkit models list
$mlkit models list
step mlkit models versions digits
$mlkit models versions digits

step mlkit deploy digits
# A rerun of the demo trains a new version; the deploy may then be refused because it does not
# beat the deployed one (exit code 6). That is the promotion rule working, not a failure.
status=0
$mlkit deploy digits || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 6 ] || exit "$status"

step mlkit serve --port "$port" '&'
$mlkit serve --port "$port" > runs/demo-endpoint.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if .venv/bin/python -c "import sys; from mlkit.serving.client import health; sys.exit(0 if health('$MLKIT_ENDPOINT_URL') else 1)"; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { cat runs/demo-endpoint.log; exit 1; }
  sleep 0.5
done

step mlkit predict digits --instances experiments/digits-sample.json
$mlkit predict digits --instances experiments/digits-sample.json

accuracy=$($mlkit models versions digits --json | .venv/bin/python -c "
import json, sys
versions = json.load(sys.stdin)
champion = next(v for v in versions if 'champion' in v['aliases'])
print(f\"{champion['metrics']['accuracy']:.4f} (version {champion['version']})\")")
printf '\nDemo finished in %ss. Deployed digits test accuracy: %s\n' "$(( $(date +%s) - started ))" "$accuracy"
