#!/usr/bin/env bash
# Same-run comparison of native and WASM validation (issue 6, "WASM" row):
# one 1,000-directive document, the web demo's generator (wasm/bench/gen-doc.mjs)
# -> build-output/bench/doc-1000.json, then, in ROUNDS interleaved rounds,
#   native   validate(..).to_json()     wasm/bench/native_validate.rs (cargo bench, release)
#   Node     validateJson(string)       wasm/bench/run-node.mjs      (wasm/pkg/node)
#   Chromium validateJson(string)       wasm/bench/run-chromium.mjs  (wasm/pkg/web, headless)
# each the median of RUNS calls after warm-up; the table shows the median of
# the round medians, and the ratios to native. Every WASM report is checked
# byte for byte against the native one.
#
#   bash scripts/bench-wasm.sh            benchmark wasm/pkg (built by scripts/build-wasm.sh if absent)
#   bash scripts/bench-wasm.sh --matrix   build every candidate configuration (rustc opt-level x
#                                         wasm-opt level) into build-output/bench/pkg-*, then
#                                         benchmark them all in the same run; leaves wasm/pkg
#                                         rebuilt with the checked-in configuration
# Env: ROUNDS (default 5), RUNS (default 200), NOW_MS (default 1700000000000).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

ROUNDS="${ROUNDS:-5}"
RUNS="${RUNS:-200}"
NOW_MS="${NOW_MS:-1700000000000}"
OUT="${ROOT}/build-output/bench"
DOC="${OUT}/doc-1000.json"
EXPECTED="${OUT}/native-report.json"
log() { printf '[bench-wasm] %s\n' "$*" >&2; }
mkdir -p "$OUT"

gz_total() { echo $(($(gzip -9 -c "$1/web/directive_wasm_bg.wasm" | wc -c) + $(gzip -9 -c "$1/web/directive_wasm.js" | wc -c))); }

# label=dir pairs of the packages to measure.
PKGS=()
if [ "${1:-}" = "--matrix" ]; then
  # label, opt-level (all crates), opt-level of directive-core, wasm-opt flags;
  # "z/core3/Oz" is the checked-in configuration.
  MATRIX=(
    "z/z/Oz z z -Oz" "s/s/Oz s s -Oz" "3/3/O3 3 3 -O3"
    "z/core3/Oz z 3 -Oz" "z/core3/O3 z 3 -O3"
  )
  for row in "${MATRIX[@]}"; do
    read -r name level core flags <<<"$row"
    label="${name//\//-}"
    log "build ${name}: opt-level ${level}, directive-core ${core}, wasm-opt ${flags}"
    [[ "$level" =~ ^[0-9]$ ]] || level="\"${level}\""
    [[ "$core" =~ ^[0-9]$ ]] || core="\"${core}\""
    DIRECTIVE_WASM_CARGO_CONFIG="profile.wasm-release.opt-level=${level} profile.wasm-release.package.directive-core.opt-level=${core}" \
      DIRECTIVE_WASM_OPT_FLAGS="$flags" bash scripts/build-wasm.sh >/dev/null
    rm -rf "${OUT}/pkg-${label}"
    cp -r wasm/pkg "${OUT}/pkg-${label}"
    PKGS+=("${label}=${OUT}/pkg-${label}")
  done
  log "rebuild wasm/pkg with the checked-in configuration"
  bash scripts/build-wasm.sh >/dev/null
else
  [ -f wasm/pkg/web/directive_wasm_bg.wasm ] || bash scripts/build-wasm.sh >/dev/null
  rm -rf "${OUT}/pkg-current"
  cp -r wasm/pkg "${OUT}/pkg-current"
  PKGS+=("current=${OUT}/pkg-current")
fi

node wasm/bench/gen-doc.mjs 1000 "$DOC"
log "build the native bench (release profile)"
cargo bench -q -p directive-wasm-parity --bench native_validate --no-run 2>&1 | grep -v '^\s*Executable' >&2 || true

RAW="${OUT}/raw.jsonl"
: >"$RAW"
for round in $(seq 1 "$ROUNDS"); do
  log "round ${round}/${ROUNDS}"
  {
    cargo bench -q -p directive-wasm-parity --bench native_validate -- "$DOC" "$NOW_MS" "$RUNS" "$EXPECTED" |
      sed 's/^{/{"env":"native",/'
    node wasm/bench/run-node.mjs "$DOC" "$NOW_MS" "$RUNS" "$EXPECTED" "${PKGS[@]}"
    node wasm/bench/run-chromium.mjs "$DOC" "$NOW_MS" "$RUNS" "$EXPECTED" "${PKGS[@]}"
  } >>"$RAW"
done

SIZES="${OUT}/sizes.txt"
: >"$SIZES"
for spec in "${PKGS[@]}"; do
  echo "${spec%%=*} $(gz_total "${spec#*=}")" >>"$SIZES"
done
node - "$RAW" "$SIZES" "$(wc -c <"$DOC")" <<'JS'
const fs = require("node:fs");
const [raw, sizes, docBytes] = process.argv.slice(2);
const rows = fs.readFileSync(raw, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const pick = (env, pkg, key = "median_ms") => rows.filter((r) => r.env === env && (pkg === undefined || r.pkg === pkg)).map((r) => r[key]);
const native = med(pick("native"));
const bad = rows.filter((r) => r.identical === false);
if (bad.length) { console.error(`bench-wasm: report differs from native: ${JSON.stringify(bad[0])}`); process.exit(1); }
const n = rows.find((r) => r.env === "native");
const node = rows.find((r) => r.env === "node");
const chr = rows.find((r) => r.env === "chromium");
console.log(`document ${docBytes} B (1,000 directives), report ${n.report_bytes} B; ${pick("native").length} rounds x ${n.runs} runs; node ${node.node}, chromium ${chr.chromium} (isolated timer: ${chr.isolated})`);
console.log(`native validate ${med(pick("native", undefined, "validate_ms")).toFixed(3)} ms + to_json ${med(pick("native", undefined, "to_json_ms")).toFixed(3)} ms`);
console.log("| config | wasm+glue gz B | native ms | Node ms | Chromium ms | Node/native | Chromium/native | Node bytes-in ms | Chromium bytes-in ms |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const line of fs.readFileSync(sizes, "utf8").trim().split("\n")) {
  const [pkg, gz] = line.split(" ");
  const nd = med(pick("node", pkg)), ch = med(pick("chromium", pkg));
  console.log(`| ${pkg} | ${gz} | ${native.toFixed(3)} | ${nd.toFixed(3)} | ${ch.toFixed(3)} | ${(nd / native).toFixed(2)}x | ${(ch / native).toFixed(2)}x | ${med(pick("node", pkg, "bytes_input_median_ms")).toFixed(3)} | ${med(pick("chromium", pkg, "bytes_input_median_ms")).toFixed(3)} |`);
}
JS
