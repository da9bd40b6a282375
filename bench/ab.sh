#!/usr/bin/env bash
# bench/ab.sh DLL_A DLL_B [ROUNDS] [SECONDS]: two builds of the node side by side, interleaved (issue #15).
#
# Starts one echo backend and two fresh single nodes (A = DLL_A, B = DLL_B: each an akkal4.dll, e.g. a copy of main's
# Release output and this tree's), each relaying one Service to the echo, and runs the load generator's connrate (16
# clients) and pingpong (8 connections) against each in turn, ROUNDS (5) rounds of SECONDS (6) s, the order swapped each
# round, after one unrecorded round each. Prints each run's result line and the medians of rounds 2 on (round 1 is the
# JIT's second warm-up). Unlike compare.sh it never pauses a node (no SIGSTOP; both nodes stay up and the idle one costs
# ~3 % of a core), and it runs no HAProxy: it answers "did B move", not "where is B against HAProxy".
#
# Addresses: 127.0.172.x (echo .10, nodes .1/.2 with admin .21/.22, clients .100-.150). Run it under the tests lock:
#   flock -o /tmp/akkal4-tests.lock bench/ab.sh /tmp/main-release/akkal4.dll src/Node/bin/Release/net10.0/akkal4.dll
# Environment: NODE_CPU (0) and LOAD_CPU (1), the cores (e.g. both 0,1 for two cores); ENV_A / ENV_B, VAR=value words
# for that node alone (e.g. ENV_B=DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1). It builds the load generator
# (Release) unless BENCH_SKIP_BUILD=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
(( $# >= 2 )) || { sed -n '2,16p' "$0"; exit 2; }
A=$(realpath "$1") B=$(realpath "$2") ROUNDS=${3:-5} SECS=${4:-6}
NODE_CPU=${NODE_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
LOADGEN=$ROOT/bench/AkkaL4.LoadGen/bin/Release/net10.0/akkal4-loadgen.dll
[[ ${BENCH_SKIP_BUILD:-} == 1 ]] || dotnet build -c Release "$ROOT/bench/AkkaL4.LoadGen" -nologo -v q >&2
WORK=$(mktemp -d /tmp/akkal4-ab.XXXXXX)
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

manifest() {
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  clusterIP: 127.0.172.$1
  selector: {app: echo}
  ports: [{name: tcp, port: 9000, targetPort: 9000}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo, namespace: default}
spec: {address: 127.0.172.10, labels: {app: echo}}
YAML
}
loadgen() { timeout 120 env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 taskset -c "$LOAD_CPU" dotnet "$LOADGEN" "$@" 2>&1 | grep '^result' || true; }

taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN" echo --listen 127.0.172.10:9000 > "$WORK/echo.log" 2>&1 &
PIDS+=($!)
declare -A NODE
for n in 1 2; do
  dll=$A env_words=${ENV_A:-}
  (( n == 2 )) && dll=$B env_words=${ENV_B:-}
  manifest "$n" > "$WORK/n$n.yaml"
  # shellcheck disable=SC2086 # env_words is a list of VAR=value words
  taskset -c "$NODE_CPU" env $env_words dotnet "$dll" run -f "$WORK/n$n.yaml" --name "ab$n" --admin "127.0.172.2$n:15990" \
    --remoting "127.0.172.2$n:0" --data "$WORK/data$n" --access-log off > "$WORK/node$n.log" 2>&1 &
  NODE[$n]=$!
  PIDS+=($!)
done
for n in 1 2; do
  for _ in $(seq 1 120); do curl -sf "http://127.0.172.2$n:15990/readyz" > /dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.172.2$n:15990/readyz" > /dev/null || { echo "node $n not ready:"; tail -20 "$WORK/node$n.log"; exit 1; }
done
run() { # scenario node seconds
  local args=(--target "127.0.172.$2:9000" --seconds "$3" --pid "${NODE[$2]}")
  if [[ $1 == connrate ]]; then loadgen connrate "${args[@]}" --concurrency 16 --sources 127.0.172.100-127.0.172.150
  else loadgen pingpong "${args[@]}" --connections 8; fi
}
for n in 1 2; do run connrate "$n" 3 > /dev/null; run pingpong "$n" 3 > /dev/null; done
for r in $(seq 1 "$ROUNDS"); do
  for s in connrate pingpong; do
    order=(1 2); (( r % 2 == 0 )) && order=(2 1)
    for n in "${order[@]}"; do
      kill -0 "${NODE[$n]}" 2>/dev/null || { echo "node $n exited:"; tail -20 "$WORK/node$n.log"; exit 1; }
      echo "r$r $s $( (( n == 1 )) && echo A || echo B) $(run "$s" "$n" "$SECS")" | tee -a "$WORK/results"
    done
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r, scenario, build, *fields = line.split()
    kv = dict(f.split("=", 1) for f in fields if "=" in f)
    if r != "r1": rows.setdefault((scenario, build), []).append(kv)
def med(v, key): return statistics.median(float(x[key]) for x in v)
print("\n| build | connections/s | CPU s per 1,000 connections | connection p99, ms | ping-pong msg/s | ping-pong p99, µs |")
print("|---|---:|---:|---:|---:|---:|")
for b in "AB":
    c, p = rows.get(("connrate", b), []), rows.get(("pingpong", b), [])
    if c and p:
        print(f"| {b} | {med(c,'conn_per_s'):,.0f} | {med(c,'cpu_s_per_1k_conn'):.3f} | {med(c,'p99_us')/1000:.2f} | {med(p,'msg_per_s'):,.0f} | {med(p,'p99_us'):,.0f} |")
PY
