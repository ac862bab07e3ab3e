#!/usr/bin/env bash
# Fuzzing stage: bash scripts/test-fuzz.sh
#
# 1. Writes the seed corpus (fuzz/corpus/<target>/) from tests/vectors/cases.
# 2. Always: replays the seed corpus plus FUZZ_REPLAY_CASES (default 3000)
#    generated inputs per target through the targets' bodies on stable
#    (fuzz/tests/replay.rs): the same code the libFuzzer binaries run.
# 3. If `cargo +nightly` and `cargo fuzz` both work: runs each libFuzzer target
#    for FUZZ_SECONDS (default 60) with -max_total_time, fails on any crash,
#    and prints executions per second and total executions of each.
#    Otherwise says loudly that libFuzzer did not run (install it with
#    `bash scripts/setup.sh --fuzz`, which needs a nightly toolchain).
#
# Environment: FUZZ_SECONDS, FUZZ_REPLAY_CASES, FUZZ_REQUIRE_LIBFUZZER=1 (fail
# instead of falling back when nightly or cargo-fuzz is missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
export FUZZ_REPLAY_CASES="${FUZZ_REPLAY_CASES:-3000}"
TARGETS=(decode_bytes structured_set reducer_events)
# Own target dirs: the fuzz crate is its own workspace, and sanitizer flags
# would otherwise invalidate the main workspace's build cache.
STABLE_TARGET="${CARGO_TARGET_DIR}/fuzz-stable"
FUZZ_TARGET="${CARGO_TARGET_DIR}/fuzz-libfuzzer"

log() { printf '[fuzz] %s\n' "$*"; }

log "seed corpus from tests/vectors/cases"
CARGO_TARGET_DIR="$STABLE_TARGET" cargo run --quiet --release --manifest-path fuzz/Cargo.toml \
  --bin seed-corpus -- tests/vectors/cases fuzz/corpus

log "stable replay (seed corpus + ${FUZZ_REPLAY_CASES} generated inputs per target)"
CARGO_TARGET_DIR="$STABLE_TARGET" cargo test --release --manifest-path fuzz/Cargo.toml

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  log "*** libFuzzer did NOT run: no nightly toolchain or no cargo-fuzz here."
  log "*** Only the stable replay above ran (seed corpus + generated inputs)."
  log "*** To fuzz: a nightly toolchain, then 'bash scripts/setup.sh --fuzz'."
  if [ "${FUZZ_REQUIRE_LIBFUZZER:-0}" = 1 ]; then
    exit 1
  fi
  exit 0
fi

SUMMARY=()
for t in "${TARGETS[@]}"; do
  log "libFuzzer: ${t} for ${FUZZ_SECONDS} s ($(cargo +nightly fuzz --version))"
  out="$(mktemp "${TMPDIR:-/tmp}/fuzz-${t}.XXXXXX")"
  rc=0
  CARGO_TARGET_DIR="$FUZZ_TARGET" cargo +nightly fuzz run --features libfuzzer "$t" \
    -- -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$out" 2>&1 || rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -n1)"
  if [ "$rc" != 0 ]; then
    tail -n 60 "$out"
    log "CRASH in ${t} (exit ${rc}); reproducer under fuzz/artifacts/${t}/:"
    ls -1 "fuzz/artifacts/${t}/" 2>/dev/null || true
    exit 1
  fi
  line="$(printf '%-16s %8s execs/s %12s execs in %s s, no crash' "$t" "${rate:-?}" "${execs:-?}" "$FUZZ_SECONDS")"
  log "$line"
  SUMMARY+=("$line")
  rm -f "$out"
done

log "summary:"
for line in "${SUMMARY[@]}"; do printf '  %s\n' "$line"; done
echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
