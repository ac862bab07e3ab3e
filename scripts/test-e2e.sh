#!/usr/bin/env bash
# End-to-end test of the admin UI (issue 5) in real, headless Debian Chromium:
#
#   bash scripts/test-e2e.sh
#
# Builds what it needs (the WASM package if missing, directivectl), puts the
# browser build of the WASM package where the UI loads it (web-demo/pkg, a
# gitignored copy of wasm/pkg/web), then runs web-demo/e2e/admin.e2e.mjs with
# Node and playwright-core from .tools/node_modules. The test starts
# `directivectl demo` itself and stops it at the end, pass or fail.
# Screenshots: build-output/e2e/. Run it with a TMPDIR of its own (scripts/test.sh
# does): Chromium leaves profiles there (toolchain notes P7).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

log() { printf '[test-e2e] %s\n' "$*" >&2; }
die() {
  printf '[test-e2e] ERROR: %s\n' "$*" >&2
  exit 1
}

command -v node >/dev/null || die "node not found (Node >= 20 needed for playwright-core)"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || die "Node $(node --version) is too old for playwright-core ${DIRECTIVE_PLAYWRIGHT_VERSION}; need >= 20"
[ -d "${DIRECTIVE_TOOLS}/node_modules/playwright-core" ] \
  || die "playwright-core missing in ${DIRECTIVE_TOOLS}/node_modules; run: bash scripts/setup.sh --browser"
[ -x "$CHROMIUM_BIN" ] || die "Chromium missing at ${CHROMIUM_BIN}; run: bash scripts/setup.sh --browser"

bash scripts/ui-pkg.sh --if-missing

log "cargo build -p directivectl"
cargo build -p directivectl

export DIRECTIVECTL="${CARGO_TARGET_DIR}/debug/directivectl"
export E2E_OUT="${ROOT}/build-output/e2e"
node "${ROOT}/web-demo/e2e/admin.e2e.mjs"
