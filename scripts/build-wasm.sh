#!/usr/bin/env bash
# Build the npm-ready WASM package of directive-core into wasm/pkg/:
#
#   wasm/pkg/package.json           exports: Node -> node/, everything else -> web/
#   wasm/pkg/web/                   ES module for browsers (`await init()` first)
#   wasm/pkg/node/                  CommonJS for Node (synchronous, reads the .wasm with fs)
#   wasm/pkg/*/directive_wasm.d.ts  the TypeScript types (src/types.d.ts + signatures)
#
# Steps: cargo build --profile wasm-release (opt-level z, LTO, panic abort),
# wasm-bindgen 0.2.129 (must equal the crate's pin, P2) for --target web and
# --target nodejs, then binaryen 132's wasm-opt -Oz with explicit feature flags
# (never Debian's 108, P3; flags because a stripped module hides them, P4).
# Prints the sizes. Usage: bash scripts/build-wasm.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

log() { printf '[build-wasm] %s\n' "$*" >&2; }
die() {
  printf '[build-wasm] ERROR: %s\n' "$*" >&2
  exit 1
}

WANT="wasm-bindgen ${DIRECTIVE_WASM_BINDGEN_VERSION}"
HAVE="$(wasm-bindgen --version 2>/dev/null || true)"
[[ "$HAVE" == "$WANT"* ]] || die "need ${WANT} (found '${HAVE:-none}'); run: bash scripts/setup.sh --wasm"
[ -x "$WASM_OPT" ] || die "wasm-opt (binaryen ${DIRECTIVE_BINARYEN_VERSION}) missing at ${WASM_OPT}; run: bash scripts/setup.sh --wasm"
"$WASM_OPT" --version | grep -q "version 132" || die "wrong wasm-opt: $("$WASM_OPT" --version)"

# wasm-opt's optimisation flags; DIRECTIVE_WASM_OPT_FLAGS overrides them
# (scripts/bench-wasm.sh --matrix compares levels this way).
read -r -a OPT_FLAGS <<<"${DIRECTIVE_WASM_OPT_FLAGS:--Oz}"
# Extra cargo `--config` profile settings, space-separated (same use), e.g.
# DIRECTIVE_WASM_CARGO_CONFIG='profile.wasm-release.package.directive-core.opt-level="z"'.
CARGO_CONFIG=()
for c in ${DIRECTIVE_WASM_CARGO_CONFIG:-}; do CARGO_CONFIG+=(--config "$c"); done

PKG="${ROOT}/wasm/pkg"
WASM_IN="${CARGO_TARGET_DIR}/wasm32-unknown-unknown/wasm-release/directive_wasm.wasm"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "${ROOT}/Cargo.toml" | head -n1)"

log "cargo build -p directive-wasm --target wasm32-unknown-unknown --profile wasm-release"
cargo build -p directive-wasm --target wasm32-unknown-unknown --profile wasm-release ${CARGO_CONFIG[@]+"${CARGO_CONFIG[@]}"}

rm -rf "$PKG"
mkdir -p "$PKG"
# The features rustc 1.95 enables for wasm32-unknown-unknown (P4).
FEATURES=(--enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
for target in web nodejs; do
  out="${PKG}/${target%js}"
  log "wasm-bindgen --target ${target} -> ${out#"$ROOT"/}"
  wasm-bindgen "$WASM_IN" --out-dir "$out" --target "$target" --out-name directive_wasm
  log "wasm-opt ${OPT_FLAGS[*]} (${out#"$ROOT"/}/directive_wasm_bg.wasm)"
  "$WASM_OPT" "${OPT_FLAGS[@]}" "${FEATURES[@]}" "${out}/directive_wasm_bg.wasm" -o "${out}/directive_wasm_bg.opt.wasm"
  mv "${out}/directive_wasm_bg.opt.wasm" "${out}/directive_wasm_bg.wasm"
done
# Each half says which module system its .js files use, whatever the root says.
printf '{\n  "type": "module"\n}\n' >"${PKG}/web/package.json"
printf '{\n  "type": "commonjs"\n}\n' >"${PKG}/node/package.json"
sed "s/@VERSION@/${VERSION}/" "${ROOT}/wasm/package.template.json" >"${PKG}/package.json"
cp "${ROOT}/wasm/README.md" "${PKG}/README.md"

gz() { gzip -9 -c "$1" | wc -c; }
WASM_FILE="${PKG}/web/directive_wasm_bg.wasm"
JS_FILE="${PKG}/web/directive_wasm.js"
printf 'wasm raw %d B, gzip %d B; web JS glue raw %d B, gzip %d B; node JS glue raw %d B\n' \
  "$(wc -c <"$WASM_FILE")" "$(gz "$WASM_FILE")" "$(wc -c <"$JS_FILE")" "$(gz "$JS_FILE")" \
  "$(wc -c <"${PKG}/node/directive_wasm.js")" | tee "${PKG}/SIZES.txt"
log "package ready: ${PKG#"$ROOT"/} (${VERSION})"
