# shellcheck shell=bash
# Source this file (do not execute it) to get the project's tool locations:
#
#   source scripts/env.sh
#
# It is safe under `set -euo pipefail` and safe to source more than once.
# Exports:
#   DIRECTIVE_ROOT      repository root
#   DIRECTIVE_TOOLS     project-local tools dir (npm packages), <root>/.tools
#   NODE_PATH           includes $DIRECTIVE_TOOLS/node_modules (require('playwright-core'))
#   PATH                + $DIRECTIVE_TOOLS/node_modules/.bin (wasm-opt from binaryen@132)
#                       + ${CARGO_HOME:-~/.cargo}/bin (cargo, wasm-bindgen 0.2.129)
#   WASM_OPT            binaryen 132's wasm-opt (never Debian's /usr/bin/wasm-opt, see P3)
#   CHROMIUM_BIN        /usr/bin/chromium       (Debian; pass as Playwright executablePath)
#   CHROMEDRIVER_BIN    /usr/bin/chromedriver   (Debian; wasm-bindgen-test-runner: CHROMEDRIVER=...)
#   CARGO_TARGET_DIR    defaults to <root>/target (shared by all scripts)

DIRECTIVE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DIRECTIVE_ROOT
export DIRECTIVE_TOOLS="${DIRECTIVE_ROOT}/.tools"

_directive_path_prepend() {
  case ":${PATH:-}:" in
    *":$1:"*) ;;
    *) PATH="$1${PATH:+:${PATH}}" ;;
  esac
}

_directive_cargo_home="${CARGO_HOME:-${HOME:-/root}/.cargo}"
if ! command -v cargo >/dev/null 2>&1 && [ -f "${_directive_cargo_home}/env" ]; then
  # shellcheck source=/dev/null
  . "${_directive_cargo_home}/env"
fi
_directive_path_prepend "${_directive_cargo_home}/bin"
# Local npm tools go first so that binaryen 132's wasm-opt shadows any Debian one.
_directive_path_prepend "${DIRECTIVE_TOOLS}/node_modules/.bin"
export PATH
unset _directive_cargo_home
unset -f _directive_path_prepend

case ":${NODE_PATH:-}:" in
  *":${DIRECTIVE_TOOLS}/node_modules:"*) ;;
  *) NODE_PATH="${DIRECTIVE_TOOLS}/node_modules${NODE_PATH:+:${NODE_PATH}}" ;;
esac
export NODE_PATH

export WASM_OPT="${DIRECTIVE_TOOLS}/node_modules/.bin/wasm-opt"
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
export CHROMEDRIVER_BIN="${CHROMEDRIVER_BIN:-/usr/bin/chromedriver}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${DIRECTIVE_ROOT}/target}"

# Pinned versions, for scripts that want to check them.
export DIRECTIVE_WASM_BINDGEN_VERSION="0.2.129"
export DIRECTIVE_BINARYEN_VERSION="132.0.0"
export DIRECTIVE_PLAYWRIGHT_VERSION="1.65.1"
