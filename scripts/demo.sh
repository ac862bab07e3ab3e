#!/usr/bin/env bash
# Run the directivectl demo:
#   bash scripts/demo.sh [ARGS...]   ->  directivectl demo ARGS...
# Until the `demo` verb exists, falls back to
#   directivectl validate examples/sample.json
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

bash scripts/setup.sh

echo "[demo] building directivectl (release)" >&2
cargo build --release -p directive-etcd --bin directivectl >&2
BIN="${CARGO_TARGET_DIR}/release/directivectl"

if "$BIN" demo --help >/dev/null 2>&1; then
  echo "[demo] $ cargo run --release -p directive-etcd --bin directivectl -- demo $*" >&2
  exec cargo run --release -q -p directive-etcd --bin directivectl -- demo "$@"
fi

SAMPLE=examples/sample.json
echo "[demo] 'directivectl demo' is not available yet; falling back to: directivectl validate ${SAMPLE}" >&2
[ -f "$SAMPLE" ] || {
  echo "[demo] ${SAMPLE} not found" >&2
  exit 1
}
exec "$BIN" validate "$SAMPLE"
