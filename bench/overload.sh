#!/usr/bin/env bash
# bench/overload.sh: an AkkaL4 node beside HAProxy under more connections than it can take (open loop), and how each
# comes back when the load stops. See bench/README.md, "Overload (over18, session 18)".
#
# Starts the load generator's echo backend, one AkkaL4 node per word of $TRANSPORTS and HAProxy (mode tcp, 1 thread), each
# relay pinned to core $PROXY_CPU and the load to core $LOAD_CPU (as compare.sh). For each rate in $OVERLOAD_RATES and each
# relay (interleaved, the others paused with SIGSTOP): an open-loop connrate run (connect, 64 B echo, RST; a connection is
# due every 1/rate s whatever the others do, 4,096 in flight at most, each given 5 s), and at the moment the load stops a
# probe: one connection at a time for $OVERLOAD_PROBE_SECONDS, whose worst latency says whether a newcomer is served at once.
# It samples the relay's descriptors (/proc/PID/fd) during the run, and after it polls until they are back at their count
# before the run (at most 30 s), and reads the node's /metrics (overflow, accept pauses, pending connections (accepted, not
# yet dialling): the listener's pauses at max-pending-connections and those closed OM at pending-timeout, active connections).
#
# The echo backend is shared by every run, so before each run it is checked (alive, and one line echoed back within 2 s)
# and started afresh if that fails; after each run it is checked again, and a run it failed during is marked INVALID in
# the table (with the backend's last log line), so one broken run does not pass for a result, nor break the others.
# (Session 18's run lost every row after its first to an echo backend that died with "Out of memory.": what the .NET
# runtime prints when it cannot start a thread, e.g. at its descriptor limit.) The backend's peak descriptors during
# each run are in the table too.
#
# Environment (all optional):
#   OVERLOAD_RATES           connections/s, space-separated (default "7400 14800": 2x and 4x the sockets transport's
#                            ~3,700/s closed-loop capacity on one core of this machine)
#   OVERLOAD_SECONDS         each run's length after the loadgen's 1 s warm-up (default 5)
#   OVERLOAD_PROBE_SECONDS   the probe's length (default 2)
#   OVERLOAD_MAX_INFLIGHT    connections the load keeps open at most (default 4096, the loadgen's): beyond, a start waits
#                            (a "late start", its wait counted in its latency); clients that do not wait need it higher
#   TRANSPORTS               AkkaL4 nodes as in compare.sh: "default", "akka-streams", NAME+VAR=value, default+dll=PATH
#   BENCH_SKIP_BUILD=1       use the existing Release build
#   OVERLOAD_HAPROXY=off     leave HAProxy out (e.g. a short trial run of one AkkaL4 node)
#   PROXY_CPU / LOAD_CPU     (default 0 / 1)
# Results: a table on stdout and every raw line in bench/results/tmp/overload-<time>/.
# A short trial (one relay, well under a minute): OVERLOAD_HAPROXY=off OVERLOAD_RATES=500 OVERLOAD_SECONDS=2 BENCH_SKIP_BUILD=1 bench/overload.sh
set -uo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "overload.sh: no arguments (settings are environment variables: --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
# log, die, connects, stop_pids
. "$ROOT/bench/lib.sh"
HAPROXY=${OVERLOAD_HAPROXY:-on}
RATES=${OVERLOAD_RATES:-"7400 14800"}
SECONDS_PER=${OVERLOAD_SECONDS:-5}
PROBE_SECONDS=${OVERLOAD_PROBE_SECONDS:-2}
MAX_INFLIGHT=${OVERLOAD_MAX_INFLIGHT:-4096}
TRANSPORTS=${TRANSPORTS:-default}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
# Block 212 of tests/AkkaL4.Tests/Support/AddressBlocks.cs (data-plane overload).
ECHO_BACKEND=127.212.0.1:9000
SOURCES=127.212.100.1-127.212.100.50
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

[[ $HAPROXY == off ]] || command -v haproxy >/dev/null || die "haproxy is missing (apt-get install haproxy), or OVERLOAD_HAPROXY=off"
ulimit -n "$(ulimit -Hn)" 2>/dev/null

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building (Release)"
  dotnet build -c Release AkkaL4.sln -nologo -v q -p:UseSharedCompilation=false || die "the Release build failed"
fi
NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/akkal4.dll
LOADGEN_DLL=$ROOT/bench/AkkaL4.LoadGen/bin/Release/net10.0/akkal4-loadgen.dll
[[ -f $NODE_DLL && -f $LOADGEN_DLL ]] || die "no Release build"
WORK=$ROOT/bench/results/tmp/overload-$(date +%F-%H%M%S)
mkdir -p "$WORK" || die "cannot create $WORK"

declare -a STARTED=()
declare -A PID=() ECHO_AT=() TITLE=() ADMIN=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_pids 10 "${STARTED[@]}"
  wait 2>/dev/null
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start() { local name=$1 cpu=$2; shift 2; taskset -c "$cpu" "$@" >> "$WORK/$name.log" 2>&1 & STARTED+=($!); LAST_PID=$!; }
loadgen() { timeout --foreground 120 env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 taskset -c "$LOAD_CPU" dotnet "$LOADGEN_DLL" "$@"; }
# echoes IP:PORT: a line sent there comes back within 2 s.
echoes() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "overload-check\n" >&3 && IFS= read -r -t 2 line <&3 && [[ $line == overload-check ]]' _ "${1%:*}" "${1##*:}" 2>/dev/null
}
until_ok() { local limit=$1; shift; for _ in $(seq $(( limit * 10 ))); do eval "$*" && return 0; sleep 0.1; done; return 1; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
cpu_ticks() { local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; set -- ${stat##*) }; echo $(( ${12} + ${13} )); }
settle() { local a b; for _ in $(seq 150); do a=$(cpu_ticks "$1") || return; sleep 0.2; b=$(cpu_ticks "$1") || return; (( b - a <= 1 )) && return; done; }
# The node's counters that say what it did with the load: summed over series.
metric() { curl -sf -m 5 "http://$1/metrics" 2>/dev/null | awk -v m="$2" '$1 ~ "^"m"({|$)" { s += $NF } END { printf "%d", s }'; }

# The echo backend: started (again), its pid in ECHO_PID; backend_ok says whether it is alive and echoes; backend_fault why not.
ECHO_PID=0
start_backend() {
  if (( ECHO_PID )); then
    stop_pids 5 "$ECHO_PID"
    local kept=() p
    for p in "${STARTED[@]}"; do (( p != ECHO_PID )) && kept+=("$p"); done
    STARTED=("${kept[@]}")
    printf '\n--- overload.sh: restarted %s\n' "$(date +%T)" >> "$WORK/echo.log"
  fi
  log "echo backend on $ECHO_BACKEND (core $LOAD_CPU)"
  start echo "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" echo --listen "$ECHO_BACKEND"
  ECHO_PID=$LAST_PID
  until_ok 30 "kill -0 $ECHO_PID && echoes $ECHO_BACKEND" || die "echo backend not ready (see $WORK/echo.log)"
}
backend_ok() { kill -0 "$ECHO_PID" 2>/dev/null && echoes "$ECHO_BACKEND"; }
backend_fault() {
  local last; last=$(grep -v '^#' "$WORK/echo.log" 2>/dev/null | grep . | tail -n 1)
  if ! kill -0 "$ECHO_PID" 2>/dev/null; then echo "exited${last:+: $last}"; else echo "alive but echoes nothing${last:+ (its log: $last)}"; fi
}
start_backend

TARGETS=()
i=0
for transport in $TRANSPORTS; do
  i=$(( i + 1 )); t=akkal4-$i; TARGETS+=("$t")
  ECHO_AT[$t]=127.212.1.$i:9000; ADMIN[$t]=127.212.2.$i:15990; TITLE[$t]="AkkaL4 $transport"
  cat > "$WORK/$t.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: overload-echo, namespace: default}
spec:
  clusterIP: 127.212.1.$i
  selector: {app: overload-echo}
  ports: [{name: tcp, port: 9000, targetPort: ${ECHO_BACKEND##*:}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: overload-echo, namespace: default}
spec: {address: ${ECHO_BACKEND%:*}, labels: {app: overload-echo}}
EOF
  env_args=(-u AKKAL4_TRANSPORT) dll=$NODE_DLL name=${transport%%+*}
  [[ $name != default ]] && env_args+=("AKKAL4_TRANSPORT=$name")
  if [[ $transport == *+* ]]; then
    IFS=+ read -r -a extra <<< "${transport#*+}"
    for w in "${extra[@]}"; do if [[ $w == dll=* ]]; then dll=${w#dll=}; else env_args+=("$w"); fi; done
  fi
  start "$t" "$PROXY_CPU" env "${env_args[@]}" dotnet "$dll" run -f "$WORK/$t.yaml" --name "overload-$i" --admin "${ADMIN[$t]}" \
    --remoting "127.212.2.$i:0" --data "$WORK/data-$t" --access-log "$WORK/$t.access.log"
  PID[$t]=$LAST_PID
done
cat > "$WORK/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 9500
    tune.bufsize 65536
defaults
    mode tcp
    maxconn 9500
    timeout connect 5s
    timeout client 10m
    timeout server 10m
frontend echo
    bind 127.212.3.1:9000 backlog 4096
    default_backend echo
backend echo
    server echo $ECHO_BACKEND
EOF
if [[ $HAPROXY != off ]]; then
  start haproxy "$PROXY_CPU" haproxy -db -f "$WORK/haproxy.cfg"
  PID[haproxy]=$LAST_PID; ECHO_AT[haproxy]=127.212.3.1:9000; TITLE[haproxy]=HAProxy; TARGETS+=(haproxy)
fi
for t in "${TARGETS[@]}"; do
  check="connects ${ECHO_AT[$t]}"
  [[ $t == akkal4-* ]] && check="curl -sf -m 2 -o /dev/null http://${ADMIN[$t]}/readyz && $check"
  until_ok 120 "kill -0 ${PID[$t]} && $check" || die "${TITLE[$t]} not ready (see $WORK/$t.log)"
  log "${TITLE[$t]} ready: pid ${PID[$t]} on ${ECHO_AT[$t]}"
done
for t in "${TARGETS[@]}"; do   # the JIT's first calls, not recorded
  [[ $t == akkal4-* ]] && loadgen connrate --target "${ECHO_AT[$t]}" --seconds 2 --concurrency 16 --sources "$SOURCES" > "$WORK/$t.warmup.out" 2>&1
done

# The node's counters read before each run; grown ADMIN NAME: how much NAME grew since.
COUNTERS=(envoy_listener_downstream_cx_overflow akkal4_listener_accept_paused_total akkal4_listener_pending_full_total akkal4_listener_pending_timeout_total)
declare -A BEFORE=()
grown() { echo $(( $(metric "$1" "$2") - ${BEFORE[$2]:-0} )); }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< "$1"; }
ROWS=()
round=0
for rate in $RATES; do
  n=${#TARGETS[@]}
  for (( k = 0; k < n; k++ )); do
    t=${TARGETS[$(( (k + round) % n ))]}; pid=${PID[$t]}
    kill -0 "$pid" 2>/dev/null || { ROWS+=("| $rate | ${TITLE[$t]} | died |"); continue; }
    # A backend a run before this one broke is started afresh (said so in the row), not left to fail this run too.
    backend="ok"
    if ! backend_ok; then
      fault=$(backend_fault); log "echo backend before ${TITLE[$t]} at $rate/s: $fault; starting a fresh one"
      start_backend; backend="fresh (the one before: $fault)"
    fi
    for o in "${TARGETS[@]}"; do [[ $o != "$t" ]] && kill -STOP "${PID[$o]}"; done
    fd0=$(fds "$pid")
    if [[ $t == akkal4-* ]]; then for m in "${COUNTERS[@]}"; do BEFORE[$m]=$(metric "${ADMIN[$t]}" "$m"); done; fi
    out=$WORK/$t.$rate.out probe=$WORK/$t.$rate.probe.out peak=$WORK/$t.$rate.fds echo_peak=$WORK/$t.$rate.echo-fds
    ( while kill -0 "$pid" 2>/dev/null; do fds "$pid"; fds "$ECHO_PID" >> "$echo_peak"; sleep 0.2; done ) > "$peak" & sampler=$!
    loadgen connrate --target "${ECHO_AT[$t]}" --seconds "$SECONDS_PER" --rate "$rate" --max-inflight "$MAX_INFLIGHT" --sources "$SOURCES" --pid "$pid" --label "$t" > "$out" 2>&1 & load=$!
    # The probe starts as the load's schedule ends (its 1 s warm-up, then the run): while what was accepted still drains.
    sleep "$(( 1 + ${SECONDS_PER%.*} ))"
    loadgen connrate --target "${ECHO_AT[$t]}" --seconds "$PROBE_SECONDS" --concurrency 1 --sources "$SOURCES" > "$probe" 2>&1
    wait "$load"
    t0=$(date +%s.%N)
    back=$(until_ok 30 "(( \$(fds $pid) <= fd0 ))" && echo "$(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s" || echo "no: $(fds "$pid") (was $fd0)")
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    extra=""
    if [[ $t == akkal4-* ]]; then
      a=${ADMIN[$t]}
      extra="overflow +$(grown "$a" envoy_listener_downstream_cx_overflow), accept paused +$(grown "$a" akkal4_listener_accept_paused_total), pending full +$(grown "$a" akkal4_listener_pending_full_total), OM +$(grown "$a" akkal4_listener_pending_timeout_total), pending $(metric "${ADMIN[$t]}" akkal4_listener_pending_connections), active $(metric "${ADMIN[$t]}" envoy_listener_downstream_cx_active)"
    fi
    # Did the backend last the run? A run it failed during is no result (its failures are the backend's).
    if ! backend_ok; then
      fault=$(backend_fault); log "echo backend failed during ${TITLE[$t]} at $rate/s: $fault"
      backend="**INVALID: failed during the run** ($fault)"
    fi
    backend="$backend, $(sort -n "$echo_peak" 2>/dev/null | tail -1) fds at most"
    settle "$pid"
    for o in "${TARGETS[@]}"; do kill -CONT "${PID[$o]}"; done
    r=$(grep -m1 '^result ' "$out"); p=$(grep -m1 '^result ' "$probe")
    kinds=$(grep '^#   failure' "$out" | sed 's/^#   failure //' | paste -sd';' -)
    echo "rate=$rate target=$t $r" >> "$WORK/raw.txt"; echo "rate=$rate target=$t probe $p" >> "$WORK/raw.txt"
    echo "rate=$rate target=$t backend $backend" >> "$WORK/raw.txt"
    grep '^# ' "$out" "$probe" >&2
    ROWS+=("| $rate | ${TITLE[$t]} | $(field "$r" conn_per_s) | $(field "$r" failures) ${kinds:+($kinds)} | $(field "$r" late_starts) | $(field "$r" cpu_s_per_1k_conn) | $(awk '{print $1/1000}' <<< "$(field "$r" p99_us)") | $(field "$p" connections) / $(field "$p" failures) / $(awk '{print $1/1000}' <<< "$(field "$p" max_us)") | $fd0 → $(sort -n "$peak" | tail -1) → $back | $extra | $backend |")
  done
  round=$(( round + 1 ))
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "overload.sh at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (with local changes)'), $(date -u +%FT%TZ), load average $LOAD_BEFORE → $LOAD_AFTER, ${SECONDS_PER} s per run, at most $MAX_INFLIGHT in flight"
  echo
  echo "| offered/s | relay | finished/s | failures (kinds) | late starts | CPU s per 1,000 finished | p99 of finished, ms | probe after: conns / failures / worst ms | descriptors: before → peak → back | node metrics during | echo backend |"
  echo "|---:|---|---:|---|---:|---:|---:|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$WORK/table.md"
