#!/usr/bin/env bash
# The main job: bash scripts/demo.sh [ARGS...]
#
# Sets this machine up if needed (Rust target, Debian's etcd-server and
# protobuf packages, wasm-bindgen and binaryen for the UI's WASM build),
# builds the admin UI's WASM package and directivectl (release), then runs
#   directivectl demo ARGS...
# a private etcd, the admin API and UI, and a fleet of proxies. It prints the
# UI's URL and token; Ctrl-C stops everything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

bash scripts/setup.sh --wasm
bash scripts/ui-pkg.sh

echo "[demo] building directivectl (release)" >&2
cargo build --release -p directivectl >&2
echo "[demo] \$ directivectl demo $*" >&2
exec "${CARGO_TARGET_DIR}/release/directivectl" demo "$@"
