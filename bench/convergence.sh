#!/usr/bin/env bash
# bench/convergence.sh [SERVICES]: how long a route change takes to be answered and to be in force on a node whose data
# plane is busy, and what the control plane's thread priority does to it.
#
# One Release node (`akkal4 run`, sockets transport) pinned to core $PROXY_CPU relays the load generator's closed-loop
# connections (connrate: connect, 64 B echo, close; $CONVERGENCE_CONCURRENCY clients) from core $LOAD_CPU, so the
# node's thread-pool threads keep its core busy. Meanwhile the configuration (the echo Service and SERVICES more, default
# 1000, 10 namespaces) is written again $CONVERGENCE_WRITES times, each a change: every Service's label ("big": all decoded
# and compiled again) or one Service's port ("small"). For each write: seconds from the PUT to its answer and to the
# node's "config revision N in force" log line (the route cache's swap). Variants alternate, each on a fresh node:
# `default` (as built), `bulkN` (the control plane's threads at nice N, as session 22 shipped with N = 10) and `cacheN`
# (the route cache's thread alone at nice N). A reference without load (`idle`) runs once per round.
#
# Addresses: $CONVERGENCE_NET (default 127.219) .1.x: node admin .1.1:15990, listener .1.10:9000, echo .1.2:9000,
# client sources .2.1-50. Run it under the tests lock: flock -o /tmp/akkal4-tests.lock bench/convergence.sh
# Environment: CONVERGENCE_VARIANTS ("default bulk10"; bulkN, cacheN for N in 0-19), BENCH_ROUNDS (3), CONVERGENCE_WRITES (6 per variant and kind), CONVERGENCE_CONCURRENCY (16), PROXY_CPU (0),
# LOAD_CPU (1), BENCH_SKIP_BUILD=1. Writes bench/results/<date>-convergence.md.
# Every process it starts runs in a process group of its own (setsid), stopped by group on every exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
. bench/lib.sh
SERVICES=${1:-1000}
ROUNDS=${BENCH_ROUNDS:-3} WRITES=${CONVERGENCE_WRITES:-6} CONCURRENCY=${CONVERGENCE_CONCURRENCY:-16}
PROXY_CPU=${PROXY_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
NET=${CONVERGENCE_NET:-127.219}
ADMIN=$NET.1.1:15990 VIP=$NET.1.10:9000 ECHO=$NET.1.2:9000 SOURCES=$NET.2.1-$NET.2.50
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  dotnet build src/Node -c Release -v q -nologo > /dev/null || die "build failed"
  dotnet build bench/AkkaL4.LoadGen -c Release -v q -nologo > /dev/null || die "load generator build failed"
fi
NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/akkal4.dll LOADGEN_DLL=$ROOT/bench/AkkaL4.LoadGen/bin/Release/net10.0/akkal4-loadgen.dll
[[ -f $NODE_DLL && -f $LOADGEN_DLL ]] || die "no Release build"

WORK=$(mktemp -d /tmp/akkal4-convergence.XXXXXX)
declare -a STARTED=()
cleanup() { stop_groups "${STARTED[@]}"; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT

setsid taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" echo --listen "$ECHO" > "$WORK/echo.log" 2>&1 &
STARTED+=($!)

# config N LABEL PORT: the echo Service and its WorkloadEntry, and N headless Services labelled LABEL, the first on PORT.
config() {
  python3 - "$@" <<'PY'
import sys
n, label, port, vip, echo = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
docs = [f"apiVersion: v1\nkind: Service\nmetadata: {{name: echo, namespace: default}}\nspec:\n  clusterIP: {vip.rsplit(':', 1)[0]}\n"
        f"  selector: {{app: echo}}\n  ports: [{{name: tcp, port: {vip.rsplit(':', 1)[1]}, targetPort: {echo.rsplit(':', 1)[1]}}}]",
        f"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{name: echo, namespace: default}}\nspec:\n"
        f"  address: {echo.rsplit(':', 1)[0]}\n  labels: {{app: echo}}"]
docs += [f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: big-{i % 10}, labels: {{round: '{label}'}}}}\nspec:\n"
         f"  clusterIP: None\n  selector: {{app: svc-{i}}}\n  ports: [{{name: tcp, port: {port if i == 0 else 1000 + i % 50000}, targetPort: 9000}}]"
         for i in range(n)]
print("\n---\n".join(docs))
PY
}
# put FILE: "SECONDS-TO-ANSWER REVISION" (revision empty when not accepted).
put() {
  local t0 t1 body
  t0=$(date +%s.%N)
  body=$(curl -s -m 120 -X PUT -H 'Content-Type: application/yaml' --data-binary @"$1" "http://$ADMIN/v1/config")
  t1=$(date +%s.%N)
  echo "$t0 $t1 $(grep -o '"revision": *[0-9]*' <<< "$body" | head -1 | grep -o '[0-9]*$')"
}
# in_force LOG REVISION: the epoch seconds of the node's "config revision N in force" line (waits up to 120 s).
in_force() {
  local line
  for _ in $(seq 1200); do
    line=$(grep -m1 "config revision $2 in force" "$1") && break
    sleep 0.1
  done
  [[ -n ${line:-} ]] || return 1
  # [INFO][12/03/2026 09:51:02.123Z]...
  date -u -d "$(sed -E 's/^\[[A-Z]+\]\[([0-9]{2})\/([0-9]{2})\/([0-9]{4}) ([0-9:.]+)Z\].*/\3-\1-\2 \4/' <<< "$line")" +%s.%N
}

declare -A SAMPLES=()
run_variant() { # run_variant VARIANT ROUND
  local variant=$1 round=$2 pid load= renicer=
  rm -rf "$WORK/data"
  setsid taskset -c "$PROXY_CPU" dotnet "$NODE_DLL" run --name convergence --admin "$ADMIN" --remoting "$NET.1.1:0" \
    --data "$WORK/data" > "$WORK/node.log" 2>&1 &
  pid=$!; STARTED+=($pid)
  # Up (not ready: ready needs a configuration in force, which the first write below gives).
  for _ in $(seq 600); do grep -q "config writer started" "$WORK/node.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  grep -q "config writer started" "$WORK/node.log" || { tail -20 "$WORK/node.log" >&2; die "node ($variant) did not start"; }
  config "$SERVICES" "r0" 1000 "$VIP" "$ECHO" > "$WORK/c.yaml"
  read -r _ _ rev <<< "$(put "$WORK/c.yaml")"; [[ -n $rev ]] || die "the first write was refused"
  in_force "$WORK/node.log" "$rev" > /dev/null || die "revision $rev not in force"
  for _ in $(seq 100); do connects "$VIP" && break; sleep 0.1; done
  if [[ $variant == bulk[0-9]* || $variant == cache[0-9]* ]]; then
    # The control plane's threads put at nice N, within 50 ms of their start, in bash alone on the load's core: bulkN the
    # route cache's, writer's and config client's dispatcher threads and the threads made for a write (the admin API's
    # check, the last-known-good writer: ".NET Long Running Task"), as session 22 lowered them (N = 10); cacheN the route
    # cache's only.
    setsid taskset -c "$LOAD_CPU" bash -c 'while :; do
        for t in /proc/$1/task/*; do
          { read -r comm < "$t/comm"; read -r line < "$t/stat"; } 2>/dev/null || continue
          case $3:$comm in bulk:akkal4.control*|bulk:akkal4.config-*|"bulk:.NET Long Runni"*|cache:akkal4.control*) ;; *) continue ;; esac
          set -- "$1" "$2" "$3" ${line##*) }
          [[ ${20} == "$2" ]] || renice -n "$2" -p "${t##*/}" > /dev/null
        done
        sleep 0.05
      done' renicer "$pid" "${variant//[a-z]/}" "${variant//[0-9]/}" &
    renicer=$!; STARTED+=($renicer)
  fi
  if [[ $variant != idle ]]; then
    setsid taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" connrate --target "$VIP" \
      --seconds 600 --concurrency "$CONCURRENCY" --sources "$SOURCES" --label convergence > "$WORK/load.log" 2>&1 &
    load=$!; STARTED+=($load)
    sleep 3 # the load ramps up: its first connections are not what is measured
  fi
  local i kind t0 t1 done_at
  for i in $(seq "$WRITES"); do
    for kind in big small; do
      if [[ $kind == big ]]; then config "$SERVICES" "$round-$i" 1000 "$VIP" "$ECHO" > "$WORK/c.yaml"
      else config "$SERVICES" "$round-$i" $(( 2000 + i )) "$VIP" "$ECHO" > "$WORK/c.yaml"; fi
      read -r t0 t1 rev <<< "$(put "$WORK/c.yaml")"; [[ -n $rev ]] || die "write $i ($kind, $variant) refused"
      done_at=$(in_force "$WORK/node.log" "$rev") || die "revision $rev ($kind, $variant) not in force"
      SAMPLES[$variant/$kind/answer]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f ", b - a }')"
      SAMPLES[$variant/$kind/force]+="$(awk -v a="$t0" -v b="$done_at" 'BEGIN { printf "%.3f ", b - a }')"
    done
  done
  log "$variant round $round: load $(cut -d' ' -f1-3 /proc/loadavg); in force after (big) ${SAMPLES[$variant/big/force]}"
  [[ -n $load ]] && stop_group "$load"
  [[ -n ${renicer:-} ]] && stop_group "$renicer"
  stop_group "$pid"
}

for round in $(seq "$ROUNDS"); do
  read -r -a order <<< "${CONVERGENCE_VARIANTS:-default bulk10}"
  (( round % 2 )) || { local_order=(); for (( k = ${#order[@]} - 1; k >= 0; k-- )); do local_order+=("${order[k]}"); done; order=("${local_order[@]}"); }
  for variant in idle "${order[@]}"; do run_variant "$variant" "$round"; done
done

# median and max of a list of seconds
stats() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f / %.2f (%d)", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR], NR }'; }
TABLE=$(
  echo "| variant | big change: answered, s | big change: in force, s | small change: answered, s | small change: in force, s |"
  echo "|---|---:|---:|---:|---:|"
  for variant in idle ${CONVERGENCE_VARIANTS:-default bulk10}; do
    echo "| \`$variant\` | $(stats "${SAMPLES[$variant/big/answer]}") | $(stats "${SAMPLES[$variant/big/force]}") | $(stats "${SAMPLES[$variant/small/answer]}") | $(stats "${SAMPLES[$variant/small/force]}") |"
  done
)
RESULT=$ROOT/bench/results/$(date +%F)-convergence.md
{
  echo "# bench/convergence.sh $SERVICES, $(date '+%F %T %Z')"
  echo
  echo "Seconds from the PUT, median / max (samples); $ROUNDS rounds of $WRITES writes of each kind per variant; node on core $PROXY_CPU,"
  echo "connrate load ($CONCURRENCY clients) and echo on core $LOAD_CPU (none for \`idle\`); $(nproc) cores, commit $(git rev-parse --short HEAD)."
  echo
  echo "$TABLE"
} > "$RESULT"
echo "$TABLE"
log "written to ${RESULT#"$ROOT"/}"
