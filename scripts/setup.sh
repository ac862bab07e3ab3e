#!/usr/bin/env bash
# Install what building and testing this project needs. Idempotent: every step
# checks first and skips what is already present. Progress goes to stderr.
#
#   bash scripts/setup.sh              base: wasm32 target, rustfmt, clippy,
#                                      protoc + libprotobuf-dev, etcd-server + etcd-client
#   bash scripts/setup.sh --wasm       + wasm-bindgen-cli =0.2.129 (cargo install)
#                                      + binaryen@132.0.0 (npm, wasm-opt) into .tools/
#                                      + typescript@5.9.3 (npm, tsc checks the .d.ts) into .tools/
#   bash scripts/setup.sh --browser    + Debian chromium + chromium-driver
#                                      + playwright-core@1.65.1 (npm, Node >= 20) into .tools/
#   bash scripts/setup.sh --fuzz       + cargo-fuzz 0.13.2 (cargo install --locked), only when a
#                                      nightly toolchain is already installed (none is downloaded)
#
# Other scripts find the tools with `source scripts/env.sh`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

WANT_WASM=0
WANT_BROWSER=0
WANT_FUZZ=0
for arg in "$@"; do
  case "$arg" in
    --wasm) WANT_WASM=1 ;;
    --browser) WANT_BROWSER=1 ;;
    --fuzz) WANT_FUZZ=1 ;;
    -h | --help)
      sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument: $arg (expected --wasm, --browser and/or --fuzz)" >&2
      exit 2
      ;;
  esac
done

START=$SECONDS
log() { printf '[setup] %s\n' "$*" >&2; }
die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------- rust bits
command -v cargo >/dev/null 2>&1 || die "cargo not found (expected a rustup toolchain in \${CARGO_HOME:-~/.cargo})"
command -v rustup >/dev/null 2>&1 || die "rustup not found"

if rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
  log "ok: rust target wasm32-unknown-unknown"
else
  log "installing: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

if cargo fmt --version >/dev/null 2>&1; then
  log "ok: rustfmt ($(cargo fmt --version 2>/dev/null))"
else
  log "installing: rustup component add rustfmt"
  rustup component add rustfmt >&2
fi

if cargo clippy --version >/dev/null 2>&1; then
  log "ok: clippy ($(cargo clippy --version 2>/dev/null))"
else
  log "installing: rustup component add clippy"
  rustup component add clippy >&2
fi

# ---------------------------------------------------------------- Debian packages
APT_PKGS=(protobuf-compiler libprotobuf-dev etcd-server etcd-client)
if [ "$WANT_BROWSER" = 1 ]; then
  APT_PKGS+=(chromium chromium-driver)
fi

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

MISSING=()
for p in "${APT_PKGS[@]}"; do
  if is_installed "$p"; then
    log "ok: apt package $p"
  else
    MISSING+=("$p")
  fi
done

if [ "${#MISSING[@]}" -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install: ${MISSING[*]}"
    SUDO=(sudo)
  fi
  # Never start the packaged etcd service (toolchain notes P12): tests start
  # their own etcd on non-default ports. If the image has no policy-rc.d,
  # put one in place for the duration of the install.
  POLICY=/usr/sbin/policy-rc.d
  TEMP_POLICY=0
  if [ ! -e "$POLICY" ]; then
    log "adding temporary $POLICY (exit 101) so no service is started by apt"
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    TEMP_POLICY=1
  fi
  cleanup_policy() {
    if [ "$TEMP_POLICY" = 1 ]; then
      "${SUDO[@]}" rm -f "$POLICY"
      TEMP_POLICY=0
    fi
  }
  trap cleanup_policy EXIT
  log "installing apt packages: ${MISSING[*]} (apt-get update first)"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${MISSING[@]}" </dev/null >&2
  cleanup_policy
  trap - EXIT
fi

# ---------------------------------------------------------------- npm tools (.tools/)
NPM_WANT=()
npm_pkg_version() { # prints the installed version of a package in .tools, or nothing
  local pj="${DIRECTIVE_TOOLS}/node_modules/$1/package.json"
  [ -f "$pj" ] || return 0
  node -p "require(process.argv[1]).version" "$pj" 2>/dev/null || true
}

if [ "$WANT_WASM" = 1 ] || [ "$WANT_BROWSER" = 1 ]; then
  command -v node >/dev/null 2>&1 || die "node not found (Node.js >= 20 is needed for the npm tools)"
  command -v npm >/dev/null 2>&1 || die "npm not found"
fi

if [ "$WANT_BROWSER" = 1 ]; then
  NODE_VER="$(node --version)"
  NODE_MAJOR="${NODE_VER#v}"
  NODE_MAJOR="${NODE_MAJOR%%.*}"
  if ! [[ "$NODE_MAJOR" =~ ^[0-9]+$ ]] || [ "$NODE_MAJOR" -lt 20 ]; then
    die "playwright-core@${DIRECTIVE_PLAYWRIGHT_VERSION} needs Node.js >= 20, but 'node --version' says ${NODE_VER} ($(command -v node)). Install Node 20+ (Debian 12's nodejs is 18; e.g. 'npm i node@20' into a local folder and put its bin first on PATH)."
  fi
  log "ok: node ${NODE_VER}"
  if [ "$(npm_pkg_version playwright-core)" = "$DIRECTIVE_PLAYWRIGHT_VERSION" ]; then
    log "ok: playwright-core@${DIRECTIVE_PLAYWRIGHT_VERSION} in ${DIRECTIVE_TOOLS}"
  else
    NPM_WANT+=("playwright-core@${DIRECTIVE_PLAYWRIGHT_VERSION}")
  fi
fi

if [ "$WANT_WASM" = 1 ]; then
  if [ "$(npm_pkg_version binaryen)" = "$DIRECTIVE_BINARYEN_VERSION" ] && [ -x "$WASM_OPT" ]; then
    log "ok: binaryen@${DIRECTIVE_BINARYEN_VERSION} (wasm-opt at ${WASM_OPT})"
  else
    NPM_WANT+=("binaryen@${DIRECTIVE_BINARYEN_VERSION}")
  fi
  # tsc checks the package's TypeScript types (scripts/test-wasm.sh).
  TYPESCRIPT_VERSION="5.9.3"
  if [ "$(npm_pkg_version typescript)" = "$TYPESCRIPT_VERSION" ]; then
    log "ok: typescript@${TYPESCRIPT_VERSION} in ${DIRECTIVE_TOOLS}"
  else
    NPM_WANT+=("typescript@${TYPESCRIPT_VERSION}")
  fi
fi

if [ "${#NPM_WANT[@]}" -gt 0 ]; then
  mkdir -p "$DIRECTIVE_TOOLS"
  if [ ! -f "${DIRECTIVE_TOOLS}/package.json" ]; then
    printf '{\n  "name": "directive-tools",\n  "private": true,\n  "description": "project-local tools installed by scripts/setup.sh (not committed)"\n}\n' \
      >"${DIRECTIVE_TOOLS}/package.json"
  fi
  log "installing npm packages into ${DIRECTIVE_TOOLS}: ${NPM_WANT[*]}"
  # playwright-core never downloads a browser; the variable is belt and braces.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIRECTIVE_TOOLS" \
    --save-exact --no-audit --no-fund --loglevel=error "${NPM_WANT[@]}" </dev/null >&2
fi

if [ "$WANT_WASM" = 1 ]; then
  [ -x "$WASM_OPT" ] || die "wasm-opt not found at ${WASM_OPT} after installing binaryen"
  log "wasm-opt: $("$WASM_OPT" --version 2>&1 | head -n1)"
fi

# ---------------------------------------------------------------- wasm-bindgen-cli
if [ "$WANT_WASM" = 1 ]; then
  WB_WANT="$DIRECTIVE_WASM_BINDGEN_VERSION"
  WB_HAVE="$(wasm-bindgen --version 2>/dev/null || true)"
  if [ "$WB_HAVE" = "wasm-bindgen ${WB_WANT}" ] ||
    [[ "$WB_HAVE" == "wasm-bindgen ${WB_WANT} "* ]]; then
    log "ok: ${WB_HAVE} ($(command -v wasm-bindgen))"
  else
    log "installing: cargo install wasm-bindgen-cli --version ${WB_WANT} --locked (about 2 min; found: ${WB_HAVE:-none})"
    # Build outside the workspace and its target dir so that neither affects the install.
    (cd / && env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli \
      --version "$WB_WANT" --locked --force </dev/null >&2)
    hash -r
    WB_HAVE="$(wasm-bindgen --version 2>/dev/null || true)"
    [[ "$WB_HAVE" == "wasm-bindgen ${WB_WANT}"* ]] ||
      die "after install, 'wasm-bindgen --version' says '${WB_HAVE}' ($(command -v wasm-bindgen || echo 'not on PATH')), wanted ${WB_WANT}"
    log "installed: ${WB_HAVE}"
  fi
fi

# ---------------------------------------------------------------- cargo-fuzz
if [ "$WANT_FUZZ" = 1 ]; then
  CARGO_FUZZ_VERSION="0.13.2"
  if ! cargo +nightly --version >/dev/null 2>&1; then
    log "skip: cargo-fuzz (no nightly toolchain; scripts/test-fuzz.sh falls back to a stable replay)"
  elif [ "$(cargo +nightly fuzz --version 2>/dev/null)" = "cargo-fuzz ${CARGO_FUZZ_VERSION}" ]; then
    log "ok: cargo-fuzz ${CARGO_FUZZ_VERSION}"
  else
    log "installing: cargo install cargo-fuzz --version ${CARGO_FUZZ_VERSION} --locked (about 1 min)"
    (cd / && env -u CARGO_TARGET_DIR cargo install cargo-fuzz \
      --version "$CARGO_FUZZ_VERSION" --locked --force </dev/null >&2)
  fi
fi

log "done in $((SECONDS - START)) s"
