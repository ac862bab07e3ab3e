#!/usr/bin/env bash
# THE test command: bash scripts/test.sh
#
# Runs setup (--wasm --browser --fuzz), then the stages below in order, stopping at the
# first failure. Each stage prints a banner and its elapsed seconds.
# Optional stages run only if their script exists (scripts/test-wasm.sh,
# scripts/test-e2e.sh); each gets a fresh TMPDIR of its own (Chromium leaves
# profiles behind, toolchain notes P7).
#
# Environment:
#   DRY_RUN=1          print the stages that would run, run nothing
#   CARGO_TARGET_DIR   defaults to <repo>/target (shared by all stages)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

DRY_RUN="${DRY_RUN:-0}"
TOTAL_START=$SECONDS
SUMMARY=()
CURRENT=""
STAGE_NO=0

banner() {
  printf '\n==================== %s ====================\n' "$*"
}

on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$CURRENT" ]; then
    banner "FAILED: ${CURRENT} (exit ${rc}) after $((SECONDS - TOTAL_START)) s total"
    for line in "${SUMMARY[@]}"; do printf '  %s\n' "$line"; done
    printf '  FAILED  %s\n' "$CURRENT"
  fi
}
trap on_exit EXIT

# stage NAME CMD [ARGS...]
stage() {
  local name="$1"
  shift
  STAGE_NO=$((STAGE_NO + 1))
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run] stage %d: %s\n          $ %s\n' "$STAGE_NO" "$name" "$*"
    return 0
  fi
  CURRENT="$name"
  banner "stage ${STAGE_NO}: ${name}"
  printf '$ %s\n' "$*"
  local t0=$SECONDS
  "$@"
  local dt=$((SECONDS - t0))
  banner "ok: ${name} (${dt} s)"
  SUMMARY+=("$(printf 'ok %5d s  %s' "$dt" "$name")")
  CURRENT=""
}

# Optional stage: runs scripts/NAME if it exists, with a fresh TMPDIR.
optional_stage() {
  local script="$1"
  if [ ! -f "$script" ]; then
    if [ "$DRY_RUN" = 1 ]; then
      printf '[dry-run] (skip: %s not present)\n' "$script"
    else
      printf '\n(skipping optional stage: %s not present)\n' "$script"
    fi
    SUMMARY+=("skipped   ${script} (not present)")
    return 0
  fi
  if [ "$DRY_RUN" = 1 ]; then
    stage "$script (own TMPDIR)" bash "$script"
    return 0
  fi
  local job_tmp
  job_tmp="$(mktemp -d "${TMPDIR:-/tmp}/directive-$(basename "$script" .sh).XXXXXX")"
  TMPDIR="$job_tmp" stage "$script (TMPDIR=$job_tmp)" bash "$script"
  rm -rf "$job_tmp"
}

if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] repo: $ROOT  CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
fi

stage "setup (--wasm --browser --fuzz)" bash scripts/setup.sh --wasm --browser --fuzz
stage "rustfmt" cargo fmt --all -- --check
stage "clippy (native, workspace)" cargo clippy --workspace --all-targets -- -D warnings
# Never --workspace for wasm32: the native crate pulls in tokio/mio (P10).
stage "clippy (wasm32: core + wasm)" cargo clippy -p directive-core -p directive-wasm \
  --target wasm32-unknown-unknown -- -D warnings
stage "core purity" bash scripts/check-core-purity.sh
stage "build core for wasm32" cargo build -p directive-core --target wasm32-unknown-unknown
stage "cargo test (workspace, native)" cargo test --workspace
optional_stage scripts/test-wasm.sh
optional_stage scripts/test-e2e.sh
optional_stage scripts/test-fuzz.sh

if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] nothing was run"
  exit 0
fi

banner "all stages passed in $((SECONDS - TOTAL_START)) s"
for line in "${SUMMARY[@]}"; do printf '  %s\n' "$line"; done
