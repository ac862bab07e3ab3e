#!/usr/bin/env bash
# Puts the browser build of the WASM package where the admin UI loads it:
# web-demo/pkg, a gitignored copy of wasm/pkg/web (a copy, not a symlink, so
# the static file server never follows a link out of its directory).
#
#   bash scripts/ui-pkg.sh              # rebuild the package, then copy
#   bash scripts/ui-pkg.sh --if-missing # build only when wasm/pkg/web is absent
#
# Needs `bash scripts/setup.sh --wasm` (wasm-bindgen, binaryen's wasm-opt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[ui-pkg] %s\n' "$*" >&2; }

if [ "${1:-}" != "--if-missing" ] \
  || [ ! -f wasm/pkg/web/directive_wasm.js ] || [ ! -f wasm/pkg/web/directive_wasm_bg.wasm ]; then
  log "bash scripts/build-wasm.sh"
  bash scripts/build-wasm.sh >&2
fi

rm -rf web-demo/pkg
mkdir -p web-demo/pkg
cp wasm/pkg/web/* web-demo/pkg/
log "web-demo/pkg <- wasm/pkg/web ($(stat -c %s web-demo/pkg/directive_wasm_bg.wasm) bytes of wasm)"
