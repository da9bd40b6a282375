#!/usr/bin/env bash
# bench/profile-conn.sh [SECONDS]: where a connection's CPU goes (issue #15 item 2). One Release node pinned to
# core 0 relays connrate (connect, 64 B echo, close with RST; 16 clients) from the load generator and echo backend on
# core 1 for SECONDS (default 10), after a 3 s warm-up. Reports, per 1,000 connections: the node's CPU seconds, the
# thread-pool work items it ran, its GCs by generation, its monitor lock contentions, and bytes allocated; and with
# PERF=1 a `perf record` of the node (DOTNET_PerfMapEnabled=1 and W^X off, so JIT-compiled frames have names) whose
# top symbols are written beside the run; with PERF=stat, the sched_yield calls and context switches per connection;
# with PERF=syscalls, every system call the node makes, by name, per connection (the kernel's syscalls:sys_enter_*
# tracepoints, counted). Needs dotnet-counters (and perf with PERF set) on PATH or in $TOOLS.
# Addresses 127.120.0.x (node, admin, echo) and 127.120.1.1-50 (clients), or NET.0.x and NET.1.1-50 with NET=127.123 (a
# session's own block). Run it under the tests lock.
# Environment: AKKAL4_NODE_ENV (extra VAR=value pairs for the node), CONCURRENCY (16), RATE (open loop when set),
# NODE_DLL (another build of the node, e.g. a copy of main's Release output, for an A/B), WARMUP (seconds of connrate before
# the measured run, default 3: at a few hundred connections/s the tiered JIT still compiles for 10 s and more after it, and
# its thread's CPU counts in the node's).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SECONDS_RUN=${1:-10}
TOOLS=${TOOLS:-/tmp/conn-tools}
PATH=$TOOLS:$PATH
NODE_DLL=${NODE_DLL:-src/Node/bin/Release/net10.0/akkal4.dll}
LOADGEN_DLL=bench/AkkaL4.LoadGen/bin/Release/net10.0/akkal4-loadgen.dll
WORK=$(mktemp -d /tmp/profile-conn.XXXXXX)
NET=${NET:-127.120}
VIP=$NET.0.1:9000 ECHO=$NET.0.2:9000 ADMIN=$NET.0.3:15990
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

cat > "$WORK/node.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  clusterIP: ${VIP%:*}
  selector: {app: echo}
  ports:
  - {name: tcp, port: ${VIP##*:}, targetPort: ${ECHO##*:}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo, namespace: default}
spec:
  address: ${ECHO%:*}
  labels: {app: echo}
EOF

taskset -c 1 env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" echo --listen "$ECHO" > "$WORK/echo.log" 2>&1 &
PIDS+=($!)
PERF_ENV=()
# The W^X double mapping hides JIT-compiled code from perf's map of the process (bench/README.md, session 6).
[[ ${PERF:-0} == 1 ]] && PERF_ENV=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0)
# shellcheck disable=SC2086
taskset -c 0 env "${PERF_ENV[@]}" ${AKKAL4_NODE_ENV:-} dotnet "$NODE_DLL" run -f "$WORK/node.yaml" --name profile \
  --admin "$ADMIN" --remoting $NET.0.3:0 --data "$WORK/data" > "$WORK/node.log" 2>&1 &
NODE=$!
PIDS+=($NODE)
for _ in $(seq 600); do
  curl -sf -m 2 -o /dev/null "http://$ADMIN/readyz" && timeout 2 bash -c "exec 3<>/dev/tcp/${VIP%:*}/${VIP##*:}" 2>/dev/null && break
  kill -0 $NODE 2>/dev/null || { echo "node exited; see $WORK/node.log" >&2; exit 1; }
  sleep 0.1
done

load() {
  local rate=()
  [[ -n ${RATE:-} ]] && rate=(--rate "$RATE")
  taskset -c 1 env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" connrate --target "$VIP" --seconds "$1" \
    --concurrency "${CONCURRENCY:-16}" --sources $NET.1.1-$NET.1.50 --pid "$NODE" "${rate[@]}"
}
load "${WARMUP:-3}" > "$WORK/warmup.log" 2>&1
sleep 1

taskset -c 1 dotnet-counters collect -p "$NODE" --format csv -o "$WORK/counters.csv" --refresh-interval 1 \
  --counters System.Runtime > "$WORK/counters.log" 2>&1 &
COUNTERS=$!
PIDS+=($COUNTERS)
sleep 2
if [[ ${PERF:-0} == 1 ]]; then
  perf record -F ${PERF_HZ:-499} -g -p "$NODE" -o "$WORK/perf.data" -- sleep "$SECONDS_RUN" > "$WORK/perf.log" 2>&1 &
  PERF_PID=$!
elif [[ ${PERF:-0} == stat ]]; then
  # System calls that only spin or switch: sched_yield (the thread pool's idle spin), context switches.
  perf stat -x, -e syscalls:sys_enter_sched_yield,context-switches -p "$NODE" -o "$WORK/perf-stat.txt" -- sleep "$SECONDS_RUN" &
  PERF_PID=$!
elif [[ ${PERF:-0} == syscalls ]]; then
  perf stat -x, -e 'syscalls:sys_enter_*' -e context-switches -p "$NODE" -o "$WORK/perf-stat.txt" -- sleep "$SECONDS_RUN" &
  PERF_PID=$!
fi
START=$(date +%s)
load "$SECONDS_RUN" | tee "$WORK/run.log" | grep '^result'
END=$(date +%s)
[[ -n ${PERF_PID:-} ]] && wait "$PERF_PID"
sleep 2
kill -TERM $COUNTERS 2>/dev/null; wait $COUNTERS 2>/dev/null
CONNS=$(grep -o 'connections=[0-9]*' "$WORK/run.log" | head -1 | cut -d= -f2)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); files in $WORK"
# dotnet-counters' csv: Timestamp,Provider,Counter Name,Counter Type,Mean/Increment. Sum the increments between START and END.
python3 - "$WORK/counters.csv" "$START" "$END" "${CONNS:-0}" <<'PY'
import csv, sys, datetime, collections
path, start, end, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
inc = collections.defaultdict(float)
with open(path) as f:
    for row in csv.reader(f):
        if len(row) < 5 or row[0] == 'Timestamp': continue
        try: t = datetime.datetime.strptime(row[0][:19], '%m/%d/%Y %H:%M:%S').replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError: continue
        if not (start < t <= end + 1) or row[3] != 'Rate': continue
        if not any(k in row[2] for k in ('gc.collections', 'pause.time', 'total_allocated', 'lock_contentions', 'work_item.count', 'cpu.time')): continue
        inc[row[2]] += float(row[4] or 0)
if conns <= 0: sys.exit("no connections counted")
for name, value in sorted(inc.items()):
    print(f"  {name}: {value:,.3f} in all, {value * 1000 / conns:,.3f} per 1,000 connections")
PY
if [[ -f $WORK/perf-stat.txt ]]; then
  awk -F, -v n="${CONNS:-1}" '$1 ~ /^[0-9]/ && $1 > 0 { printf "  %8.2f per connection  %s (%d in all)\n", $1 / n, $3, $1 }' "$WORK/perf-stat.txt" | sort -rn
fi
if [[ -f $WORK/perf.data ]]; then
  perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -60 > "$WORK/perf-top.txt"
  perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -20 > "$WORK/perf-dso.txt"
  echo "perf: $WORK/perf-top.txt, $WORK/perf-dso.txt"
fi
