#!/usr/bin/env bash
# Fail if directive-core (core/) gains a clock read, tokio, or any I/O.
#
# Checks:
#  1. core/src/**/*.rs: no SystemTime/Instant, chrono, tokio, std::fs, std::net,
#     std::io::stdin/stdout/stderr, print!/println!/eprint!/eprintln!/dbg!,
#     std::process, std::thread::sleep, std::env. Lines whose trimmed text
#     starts with `//` (comments, doc comments) are ignored, and so is the
#     rest of a line after " //".
#  2. core/Cargo.toml: no tokio / chrono dependency (`#` comments ignored).
#  3. `cargo tree -p directive-core -e normal`: no tokio, mio, socket2, etcd*.
#  4. core/src/lib.rs contains #![forbid(unsafe_code)].
# Every violation is printed as file:line; exit status 1 if any.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"

CORE=core
FAIL=0
VIOLATIONS=()
violation() { # file line what text
  VIOLATIONS+=("$(printf '%s:%s: core purity: %s: %s' "$1" "$2" "$3" "$4")")
  FAIL=1
}

[ -d "$CORE/src" ] || {
  echo "check-core-purity: $CORE/src not found" >&2
  exit 1
}

# label|extended regex (GNU grep -E)
RUST_RULES=(
  'clock read (SystemTime)|std::time::SystemTime|\bSystemTime::now\b|std::time::\{[^}]*\bSystemTime\b'
  'clock read (Instant)|std::time::Instant|\bInstant::now\b|std::time::\{[^}]*\bInstant\b'
  'chrono|\bchrono\b'
  'tokio|\btokio\b'
  'file I/O (std::fs)|std::fs\b|std::\{[^}]*\bfs\b'
  'network I/O (std::net)|std::net\b|std::\{[^}]*\bnet\b'
  'stdio|\bio::(stdin|stdout|stderr)\b|std::io::\{[^}]*\b(stdin|stdout|stderr)\b'
  'printing macro|\b(println|eprintln|print|eprint|dbg)!'
  'std::process|std::process\b|std::\{[^}]*\bprocess\b'
  'sleep|\bthread::sleep\b'
  'std::env|std::env\b|std::\{[^}]*\benv\b'
)

# Print the code of a Rust file with comment-only lines blanked and trailing
# " //..." comments removed, so that line numbers stay the same.
rust_code_only() {
  sed -E -e 's#^[[:space:]]*//.*$##' -e 's#[[:space:]]//.*$##' "$1"
}

mapfile -t RS_FILES < <(find "$CORE/src" -type f -name '*.rs' | LC_ALL=C sort)
for f in "${RS_FILES[@]}"; do
  for rule in "${RUST_RULES[@]}"; do
    label="${rule%%|*}"
    re="${rule#*|}"
    while IFS=: read -r lineno _; do
      [ -n "$lineno" ] || continue
      text="$(sed -n "${lineno}p" "$f" | sed -E 's/^[[:space:]]+//')"
      violation "$f" "$lineno" "$label" "$text"
    done < <(rust_code_only "$f" | grep -nE "$re" || true)
  done
done

# Cargo.toml: dependency keys / renamed packages / dotted tables naming tokio or chrono.
TOML="$CORE/Cargo.toml"
if [ -f "$TOML" ]; then
  TOML_RE='^[[:space:]]*"?(tokio|chrono)[A-Za-z0-9_-]*"?[[:space:]]*=|dependencies\.(tokio|chrono)|package[[:space:]]*=[[:space:]]*"(tokio|chrono)'
  while IFS=: read -r lineno _; do
    [ -n "$lineno" ] || continue
    text="$(sed -n "${lineno}p" "$TOML" | sed -E 's/^[[:space:]]+//')"
    violation "$TOML" "$lineno" "forbidden dependency" "$text"
  done < <(sed -E -e 's/^[[:space:]]*#.*$//' -e 's/[[:space:]]#.*$//' "$TOML" | grep -nE "$TOML_RE" || true)
fi

# Resolved normal dependency graph.
if TREE="$(cargo tree -p directive-core -e normal --prefix none --format '{p}' 2>&1)"; then
  BAD="$(printf '%s\n' "$TREE" | awk '{print $1}' | grep -E '^(tokio|mio|socket2|etcd)([-_].*)?$' | LC_ALL=C sort -u || true)"
  if [ -n "$BAD" ]; then
    while IFS= read -r crate; do
      violation "$TOML" 1 "dependency graph (cargo tree -p directive-core -e normal) contains" "$crate"
    done <<<"$BAD"
  fi
else
  printf '%s\n' "$TREE" >&2
  violation "$TOML" 1 "cargo tree failed" "cannot check the dependency graph"
fi

# forbid(unsafe_code) at the crate root.
LIB="$CORE/src/lib.rs"
if [ ! -f "$LIB" ]; then
  violation "$LIB" 1 "missing file" "core/src/lib.rs not found"
elif ! grep -qE '^[[:space:]]*#!\[forbid\(([^)]*,[[:space:]]*)?unsafe_code([[:space:]]*,[^)]*)?\)\]' "$LIB"; then
  violation "$LIB" 1 "missing crate attribute" "#![forbid(unsafe_code)] not found"
fi

if [ "$FAIL" != 0 ]; then
  printf '%s\n' "${VIOLATIONS[@]}" | LC_ALL=C sort -t: -k1,1 -k2,2n -s >&2
  echo "check-core-purity: FAILED: directive-core must stay sans-IO (no clock, no tokio, no I/O); see the lines above." >&2
  exit 1
fi
echo "check-core-purity: OK (${#RS_FILES[@]} Rust files in $CORE/src, Cargo.toml, dependency graph, forbid(unsafe_code))" >&2
