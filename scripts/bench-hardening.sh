#!/usr/bin/env bash
# What the connection-level hardening costs the proxy, as a ratio in one run:
#
#   bash scripts/bench-hardening.sh [BEFORE_COMMIT]
#
# Builds the example reverse proxy (release) twice: from BEFORE_COMMIT (the
# last commit before the hardening, 68e48de, by default; checked out into a
# temporary git worktree) and from the working tree. Starts a private etcd
# (both proxies watch the same absent key, so both evaluate the empty set),
# runs both proxies pinned to core 0, and loads each in turn with
# `wrk -t1 -c32 -d4s` pinned to core 1, 5 interleaved rounds; prints the
# medians and the cost. Needs Debian's etcd-server and wrk.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "${ROOT}/scripts/env.sh"
BEFORE="${1:-68e48de}"
ROUNDS=5
for tool in wrk etcd taskset; do
  command -v "$tool" >/dev/null || { echo "bench-hardening: $tool not found" >&2; exit 1; }
done

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  git -C "$ROOT" worktree remove --force "${WORK}/before" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "[bench-hardening] building the example proxy at ${BEFORE} and at the working tree" >&2
git worktree add --detach "${WORK}/before" "$BEFORE" >/dev/null
(cd "${WORK}/before" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR}/bench-before" \
  cargo build --release -q -p directive-proxy --example proxy)
cargo build --release -q -p directive-proxy --example proxy
OLD="${CARGO_TARGET_DIR}/bench-before/release/examples/proxy"
NEW="${CARGO_TARGET_DIR}/release/examples/proxy"

CLIENT="$(free_port)"; PEER="$(free_port)"
etcd --name bench --data-dir "${WORK}/etcd" \
  --listen-client-urls "http://127.0.0.1:${CLIENT}" --advertise-client-urls "http://127.0.0.1:${CLIENT}" \
  --listen-peer-urls "http://127.0.0.1:${PEER}" --initial-advertise-peer-urls "http://127.0.0.1:${PEER}" \
  --initial-cluster "bench=http://127.0.0.1:${PEER}" >"${WORK}/etcd.log" 2>&1 &
PIDS+=($!)
ENDPOINT="http://127.0.0.1:${CLIENT}"

start_proxy() { # binary port
  local port=$2
  taskset -c 0 "$1" --endpoints "$ENDPOINT" --key bench/directives --listen "127.0.0.1:${port}" \
    >"${WORK}/proxy-${port}.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:${port}/orders/_search" && return 0
    sleep 0.2
  done
  echo "bench-hardening: proxy on ${port} did not come up" >&2; cat "${WORK}/proxy-${port}.log" >&2; exit 1
}
OLD_PORT="$(free_port)"; start_proxy "$OLD" "$OLD_PORT"
NEW_PORT="$(free_port)"; start_proxy "$NEW" "$NEW_PORT"

load() { # port -> "rps p99_ms"
  taskset -c 1 wrk -t1 -c32 -d4s --latency -H 'x-tenant: acme' "http://127.0.0.1:$1/orders/_search" |
    awk '/Requests\/sec:/ {rps=$2}
         $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else {sub(/s$/,"",v); v=v*1000}; p=v}
         END {print rps, p}'
}
: >"${WORK}/old"; : >"${WORK}/new"
for round in $(seq 1 "$ROUNDS"); do
  load "$OLD_PORT" >>"${WORK}/old"
  load "$NEW_PORT" >>"${WORK}/new"
  echo "[bench-hardening] round ${round}/${ROUNDS}" >&2
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
OLD_RPS="$(cut -d' ' -f1 "${WORK}/old" | median)"; NEW_RPS="$(cut -d' ' -f1 "${WORK}/new" | median)"
OLD_P99="$(cut -d' ' -f2 "${WORK}/old" | median)"; NEW_P99="$(cut -d' ' -f2 "${WORK}/new" | median)"
echo "| proxy | rps (median of ${ROUNDS}) | p99 |"
echo "|---|---|---|"
echo "| before (${BEFORE}) | ${OLD_RPS} | ${OLD_P99} ms |"
echo "| hardened (working tree) | ${NEW_RPS} | ${NEW_P99} ms |"
awk -v o="$OLD_RPS" -v n="$NEW_RPS" -v op="$OLD_P99" -v np="$NEW_P99" \
  'BEGIN {printf "throughput cost: %+.2f%% (hardened/before %.3f); p99 cost: %+.2f%%\n", (o-n)/o*100, n/o, (np-op)/op*100}'
