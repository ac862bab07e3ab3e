#!/usr/bin/env bash
# The WASM stage of scripts/test.sh (which gives it a TMPDIR of its own, P7):
#
#   1. the parity suite (wasm/parity, wasm-bindgen-test) in Node, then in
#      headless Chromium (Debian chromium + chromedriver): the corpus and the
#      generated sets, byte-identical to native;
#   2. the npm package, built by scripts/build-wasm.sh;
#   3. its TypeScript types, with tsc --noEmit (browser and Node resolution);
#   4. the shipped module in Node: smoke test, parity on the generated sets,
#      and the time to validate a 1,000-directive document;
#   5. the size budget: gzipped .wasm + JS glue <= 100 KB (100,000 bytes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

if [ -z "${TMPDIR:-}" ] || [ "${TMPDIR}" = /tmp ]; then
  TMPDIR="$(mktemp -d /tmp/directive-test-wasm.XXXXXX)"
  export TMPDIR
  trap 'rm -rf "$TMPDIR"' EXIT
fi
log() { printf '\n[test-wasm] %s\n' "$*"; }
die() {
  printf '[test-wasm] ERROR: %s\n' "$*" >&2
  exit 1
}

BUDGET_BYTES=100000
TSC="${DIRECTIVE_TOOLS}/node_modules/.bin/tsc"
[ -x "$TSC" ] || die "tsc missing at ${TSC}; run: bash scripts/setup.sh --wasm"
[ -x "$CHROMEDRIVER_BIN" ] || die "chromedriver missing at ${CHROMEDRIVER_BIN}; run: bash scripts/setup.sh --browser"
command -v wasm-bindgen-test-runner >/dev/null || die "wasm-bindgen-test-runner missing; run: bash scripts/setup.sh --wasm"

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"

# No -q (P8); -p only, never --workspace (P10). Fails unless tests really ran.
run_suite() {
  local where="$1"
  local out="${TMPDIR}/parity-${where}.log"
  log "parity suite in ${where}"
  cargo test -p directive-wasm-parity --target wasm32-unknown-unknown --test parity \
    -- --nocapture 2>&1 | tee "$out"
  grep -Eq '^test result: ok\. [1-9][0-9]* passed; 0 failed' "$out" ||
    die "the parity suite in ${where} ran no test or failed"
}
run_suite node
WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER="$CHROMEDRIVER_BIN" run_suite chromium

log "npm package (scripts/build-wasm.sh)"
bash scripts/build-wasm.sh

log "TypeScript types (tsc --noEmit ${TSC#"$ROOT"/})"
TS_DIR="${TMPDIR}/types"
mkdir -p "${TS_DIR}/node_modules/@directive-plane"
ln -s "${ROOT}/wasm/pkg" "${TS_DIR}/node_modules/@directive-plane/directive-wasm"
cp "${ROOT}"/wasm/tests/types/* "$TS_DIR/"
for config in web node; do
  (cd "$TS_DIR" && "$TSC" -p "tsconfig.${config}.json") || die "tsc (${config}) failed"
  echo "tsc --noEmit (${config}): ok"
done

log "shipped module in Node (wasm/bench/node-check.mjs)"
EXPECTED="$(ls -t "${CARGO_TARGET_DIR}"/wasm32-unknown-unknown/debug/build/directive-wasm-parity-*/out/expected.json | head -n1)"
[ -f "$EXPECTED" ] || die "no expected.json from the parity build script"
node wasm/bench/node-check.mjs "$EXPECTED"

log "size budget"
WASM_GZ="$(gzip -9 -c wasm/pkg/web/directive_wasm_bg.wasm | wc -c)"
JS_GZ="$(gzip -9 -c wasm/pkg/web/directive_wasm.js | wc -c)"
TOTAL=$((WASM_GZ + JS_GZ))
echo "gzipped: wasm ${WASM_GZ} B + JS glue ${JS_GZ} B = ${TOTAL} B (budget ${BUDGET_BYTES} B)"
[ "$TOTAL" -le "$BUDGET_BYTES" ] || die "over the size budget by $((TOTAL - BUDGET_BYTES)) B"
log "ok"
