#!/usr/bin/env bash
# bench/compare.sh [--quick] [--cores 2]: AkkaL4 side by side with HAProxy and nginx stream on this machine (issues #6, #15).
#
# Starts identical backends (the load generator's echo, iperf3 -s), then each relay — none ("direct"),
# AkkaL4 once per transport in $TRANSPORTS, HAProxy (mode tcp, 1 thread) and nginx stream (1 process) —
# each proxy pinned to core $PROXY_CPU and everything else to core $LOAD_CPU, and runs every scenario
# against every relay, interleaved, for several rounds (the relays not under test paused with SIGSTOP; all
# restarted before the idle test, which measures memory). Prints a Markdown table of the medians and of the
# ratios AkkaL4/HAProxy and AkkaL4/nginx, and writes it with the machine's details to
# bench/results/<date>.md (<date>-quick.md with --quick). See bench/README.md, "compare.sh".
#
# --cores 2: every relay on two cores — HAProxy nbthread 2, nginx a master with 2 workers (measured together),
# AkkaL4 as it is (it sizes itself by the cores it may use) — and, with no third core on this machine, the
# load and backends on the same two cores. Results go to <date>[-quick]-2cores.md.
#
# Environment (all optional):
#   TRANSPORTS        AkkaL4 transports to run, one node each (default "default akka-streams";
#                     "default" = AKKAL4_TRANSPORT unset, i.e. cluster.hocon's akkal4.data-plane.transport);
#                     a word NAME+VAR=value[+VAR=value] runs NAME with those variables added to that node alone,
#                     to A/B a runtime setting in one run (e.g. "default default+DOTNET_gcServer=1"), a node setting
#                     (default+AKKAL4_CONFIG=FILE: a HOCON file layered over cluster.hocon, as run --config), or another
#                     build (default+dll=PATH/akkal4.dll: that node's akkal4.dll, e.g. a copy of main's Release output)
#   AKKAL4_NODE_ENV   extra VAR=value pairs for the AkkaL4 nodes only (default: none; see bench/README.md)
#   BENCH_ROUNDS, BENCH_BULK_SECONDS, BENCH_SECONDS, BENCH_IDLE_CONNECTIONS, BENCH_CONCURRENCY,
#   BENCH_PINGPONG_CONNECTIONS, BENCH_WARMUP_SECONDS   override the scenario sizes below
#   BENCH_SCENARIOS      a subset of "bulk1 bulk1r bulk8 bulk8r connrate connrate-open pingpong pingpong-open idle" (default: all)
#   BENCH_OPEN_CONN_RATE, BENCH_OPEN_MSG_RATE   the open-loop scenarios' fixed rates (default 1000 connections/s, 8000 msg/s)
#   BENCH_SKIP_BUILD=1   use the existing Release build
#   BENCH_RESULT_SUFFIX  appended to the result file's name (e.g. -s29: bench/results/<date>-s29.md), so a second run of a day keeps the first
#   PROXY_CPU / LOAD_CPU the cores for the proxies / for load and backends (default 0 / 1)
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
CORES=1
while (( $# )); do
  case "$1" in
    --quick) QUICK=1 ;;
    --cores) shift; CORES=${1:-}; [[ $CORES == 1 || $CORES == 2 ]] || { echo "compare.sh: --cores is 1 or 2" >&2; exit 2; } ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (--quick, --cores 2)" >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
COMMAND="bench/compare.sh$( (( QUICK )) && echo ' --quick')$( (( CORES == 2 )) && echo ' --cores 2')"
for v in TRANSPORTS AKKAL4_NODE_ENV BENCH_SCENARIOS BENCH_ROUNDS BENCH_BULK_SECONDS BENCH_SECONDS BENCH_IDLE_CONNECTIONS BENCH_CONCURRENCY \
         BENCH_PINGPONG_CONNECTIONS BENCH_WARMUP_SECONDS BENCH_OPEN_CONN_RATE BENCH_OPEN_MSG_RATE BENCH_SKIP_BUILD PROXY_CPU LOAD_CPU; do
  [[ -n "${!v+x}" ]] && COMMAND="$v=\"${!v}\" $COMMAND"
done
# The code measured: the commit, and whether tracked files outside bench/results differ from it.
REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . ':!bench/results' 2>/dev/null || echo ' (with local changes)')"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

TRANSPORTS=${TRANSPORTS-"default akka-streams"}
AKKAL4_NODE_ENV=${AKKAL4_NODE_ENV:-}
if (( QUICK )); then
  ROUNDS=${BENCH_ROUNDS:-1}; BULK_SECONDS=${BENCH_BULK_SECONDS:-2}; SECONDS_PER=${BENCH_SECONDS:-3}
  IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-2000}; WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-1}; IDLE_HOLD=0.5
else
  ROUNDS=${BENCH_ROUNDS:-3}; BULK_SECONDS=${BENCH_BULK_SECONDS:-10}; SECONDS_PER=${BENCH_SECONDS:-10}
  IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}; WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-3}; IDLE_HOLD=2
fi
CONCURRENCY=${BENCH_CONCURRENCY:-16}
PINGPONG_CONNECTIONS=${BENCH_PINGPONG_CONNECTIONS:-8}
OPEN_CONN_RATE=${BENCH_OPEN_CONN_RATE:-1000}
OPEN_MSG_RATE=${BENCH_OPEN_MSG_RATE:-8000}
if (( CORES == 2 )); then
  PROXY_CPU=${PROXY_CPU:-0,1}; LOAD_CPU=${LOAD_CPU:-0,1}
else
  PROXY_CPU=${PROXY_CPU:-0}; LOAD_CPU=${LOAD_CPU:-1}
fi

# Addresses: all loopback, away from the test suites' 127.0.10.x/20.x/40.x and 127.5.0.x.
ECHO_BACKEND=127.0.90.1:9000
IPERF_BACKEND=127.0.90.2:5201
SOURCES=127.0.100.1-127.0.100.50   # client source addresses for connrate and idle (no port exhaustion)

# log, die, connects, stop_pids
. "$ROOT/bench/lib.sh"

# --- what this machine has ---------------------------------------------------------------------------------
install_missing() {
  local need=()
  command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
  command -v nginx >/dev/null 2>&1 || need+=(nginx)
  ls /usr/lib/nginx/modules/ngx_stream_module.so >/dev/null 2>&1 || need+=(libnginx-mod-stream)
  command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v ss >/dev/null 2>&1 || need+=(iproute2)
  command -v pgrep >/dev/null 2>&1 || need+=(procps)
  command -v taskset >/dev/null 2>&1 || need+=(util-linux)
  (( ${#need[@]} == 0 )) && return 0
  [[ $(id -u) == 0 ]] || die "missing ${need[*]}: run as root (apt-get install), or install them first"
  log "installing ${need[*]} (apt-get)"
  # Packages must not start their own daemons (nginx on :80, haproxy, iperf3): deny service starts
  # for the duration of the install unless the machine already has a policy.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1; fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || status=$?
  (( own_policy )) && rm -f "$policy"
  (( status == 0 )) || die "apt-get install ${need[*]} failed ($status)"
}
install_missing

NPROC=$(nproc)
if (( NPROC < 2 )); then log "WARNING: $NPROC core(s): proxy and load share core 0"; PROXY_CPU=0; LOAD_CPU=0; CORES=1; fi
# A proxy holds two sockets per relayed connection; take the hard limit and fit the idle test under it,
# leaving room for what a relay holds anyway (an AkkaL4 node has about 300 descriptors open when idle).
HARD_NOFILE=$(ulimit -Hn)
[[ $HARD_NOFILE == unlimited ]] && HARD_NOFILE=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
ulimit -n "$HARD_NOFILE" 2>/dev/null
NOFILE=$(ulimit -n)
MAX_IDLE=$(( (NOFILE - 1000) / 2 ))
(( MAX_IDLE >= 100 )) || die "ulimit -n is $NOFILE: too few descriptors for the idle test"
IDLE_NOTE=""
if (( IDLE_CONNECTIONS > MAX_IDLE )); then
  IDLE_NOTE="idle connections capped at $MAX_IDLE (asked $IDLE_CONNECTIONS): ulimit -n is $NOFILE here and a proxy needs two descriptors per connection"
  log "WARNING: $IDLE_NOTE"
  IDLE_CONNECTIONS=$MAX_IDLE
fi
# HAProxy's maxconn and nginx's worker_connections: sized for the full run's idle test (the same in both
# modes, so that the relays' footprint does not depend on --quick), not for the machine's limit.
RELAY_CONNECTIONS=$(( MAX_IDLE < 10000 ? MAX_IDLE : 10000 ))
(( IDLE_CONNECTIONS > RELAY_CONNECTIONS )) && RELAY_CONNECTIONS=$IDLE_CONNECTIONS
PROXY_MAXCONN=$(( RELAY_CONNECTIONS + 100 ))
NGINX_CONNECTIONS=$(( 2 * RELAY_CONNECTIONS + 200 ))

# --- build ---------------------------------------------------------------------------------------------------
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building the solution (Release)"
  dotnet build -c Release AkkaL4.sln -nologo -v q || die "the Release build failed"
fi
NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/akkal4.dll
LOADGEN_DLL=$ROOT/bench/AkkaL4.LoadGen/bin/Release/net10.0/akkal4-loadgen.dll
[[ -f $NODE_DLL && -f $LOADGEN_DLL ]] || die "no Release build ($NODE_DLL, $LOADGEN_DLL)"
BENCH_START=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- processes -----------------------------------------------------------------------------------------------
WORK=$ROOT/bench/results/tmp/run-$(date +%F-%H%M%S)
mkdir -p "$WORK" || die "cannot create $WORK"
find "$ROOT/bench/results/tmp" -mindepth 1 -maxdepth 1 -name 'run-*' ! -path "$WORK" -exec rm -rf {} + 2>/dev/null
RAW=$WORK/raw.txt
: > "$RAW"

declare -a STARTED=()          # every pid this script started
declare -A PID=()              # target → the pid it was started as
declare -A PIDS=()             # target → every pid whose CPU and RSS are measured, comma-separated (nginx's workers)
declare -A FAILED=()           # target → why it is out of the run
declare -A ADMIN=()            # AkkaL4 target → its admin API

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  local t
  for t in "${!PIDS[@]}"; do kill -CONT ${PIDS[$t]//,/ } 2>/dev/null; done
  stop_pids 10 "${STARTED[@]}"
  wait 2>/dev/null
  (( status == 0 )) || log "stopped (status $status); logs in $WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CPU COMMAND...: runs COMMAND pinned to CPU in the background, appending to $WORK/NAME.log.
start() {
  local name=$1 cpu=$2; shift 2
  taskset -c "$cpu" "$@" >> "$WORK/$name.log" 2>&1 &
  STARTED+=($!)
  LAST_PID=$!
}

# The load generator: on the load core, with inline socket completions (it is our tool, the same for every
# relay), and a time limit so that a relay that hangs cannot stall the run.
loadgen() {
  timeout --foreground "${LOADGEN_LIMIT:-300}" \
    env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 taskset -c "$LOAD_CPU" dotnet "$LOADGEN_DLL" "$@"
}

listening() { ss -Hltn "src ${1%:*} and sport = :${1##*:}" 2>/dev/null | grep -q .; }

# wait_ready TARGET PID SECONDS CHECK...: polls every CHECK (commands) until all pass; the process must stay up.
wait_ready() {
  local target=$1 pid=$2 limit=$3; shift 3
  local deadline=$(( $(date +%s) + limit ))
  while (( $(date +%s) < deadline )); do
    kill -0 "$pid" 2>/dev/null || { FAILED[$target]="exited during start"; return 1; }
    local ok=1 check
    for check in "$@"; do eval "$check" || { ok=0; break; }; done
    (( ok )) && return 0
    sleep 0.1
  done
  FAILED[$target]="not ready after ${limit}s"
  return 1
}

# --- backends ------------------------------------------------------------------------------------------------
# Every address below is in 127.0.90.0–127.0.99.255: anything already listening there (a run that was killed
# with SIGKILL, say) would answer in place of the relay under test.
busy=$(ss -Hltn 2>/dev/null | awk '{ print $4 }' | grep -E '^127\.0\.9[0-9]\.[0-9]+:' | tr '\n' ' ')
[[ -z $busy ]] || die "already listening on $busy(another compare.sh?); stop it first"
log "backends: echo on $ECHO_BACKEND, iperf3 -s on $IPERF_BACKEND (core $LOAD_CPU)"
start echo-backend "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" echo --listen "$ECHO_BACKEND"
ECHO_PID=$LAST_PID
start iperf3-server "$LOAD_CPU" iperf3 -s -B "${IPERF_BACKEND%:*}" -p "${IPERF_BACKEND##*:}"
IPERF_PID=$LAST_PID
wait_ready echo-backend "$ECHO_PID" 30 "connects $ECHO_BACKEND" || die "echo backend: ${FAILED[echo-backend]}"
wait_ready iperf3-server "$IPERF_PID" 30 "listening $IPERF_BACKEND" || die "iperf3 server: ${FAILED[iperf3-server]}"

# --- relays --------------------------------------------------------------------------------------------------
declare -a TARGETS=(direct)
declare -A ECHO_AT=([direct]=$ECHO_BACKEND) IPERF_AT=([direct]=$IPERF_BACKEND) TITLE=([direct]="direct")
DEFAULT_TRANSPORT=$(sed -n 's/^[[:space:]]*transport[[:space:]]*=[[:space:]]*\([A-Za-z0-9_-]*\).*/\1/p' cluster.hocon | head -1)

declare -A TRANSPORT_OF=() INDEX_OF=()

# launch TARGET: starts the relay (its configuration is already written) and records its pid.
launch() {
  local target=$1
  case $target in
    akkal4-*)
      local variant=${TRANSPORT_OF[$target]} i=${INDEX_OF[$target]} transport_env=(-u AKKAL4_TRANSPORT) transport extra=() word node_dll=$NODE_DLL
      transport=${variant%%+*}
      [[ $transport != default ]] && transport_env+=("AKKAL4_TRANSPORT=$transport")
      # NAME+VAR=value+...: variables for this node alone; dll=PATH: this node's build.
      [[ $variant == *+* ]] && IFS=+ read -r -a extra <<< "${variant#*+}"
      for word in "${extra[@]}"; do
        if [[ $word == dll=* ]]; then node_dll=${word#dll=}; else transport_env+=("$word"); fi
      done
      rm -rf "$WORK/data-$target"   # a fresh node: no last-known-good, no journal
      # shellcheck disable=SC2086 # AKKAL4_NODE_ENV is a list of VAR=value words
      start "$target" "$PROXY_CPU" env "${transport_env[@]}" $AKKAL4_NODE_ENV dotnet "$node_dll" run -f "$WORK/$target.yaml" \
        --name "bench-$i-$transport" --admin "${ADMIN[$target]}" --remoting "127.0.94.$i:0" --data "$WORK/data-$target" ;;
    haproxy) start haproxy "$PROXY_CPU" haproxy -db -f "$WORK/haproxy.cfg" ;;
    nginx)   start nginx "$PROXY_CPU" nginx -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" ;;
  esac
  PID[$target]=$LAST_PID
  PIDS[$target]=$LAST_PID
}

# ready TARGET: waits until the relay serves (AkkaL4: /readyz too); logs and marks it failed otherwise.
ready() {
  local target=$1 checks=("connects ${ECHO_AT[$1]}" "listening ${IPERF_AT[$1]}")
  [[ $target == akkal4-* ]] && checks=("curl -sf -m 2 -o /dev/null http://${ADMIN[$target]}/readyz" "${checks[@]}")
  if wait_ready "$target" "${PID[$target]}" 120 "${checks[@]}"; then
    # nginx with workers: the master only supervises; the workers relay, and are measured with it.
    local workers; workers=$(pgrep -P "${PID[$target]}" | paste -sd, -)
    [[ $target == nginx && -n $workers ]] && PIDS[$target]="${PID[$target]},$workers"
    log "${TITLE[$target]} ready: pid ${PID[$target]}, echo via ${ECHO_AT[$target]}, iperf3 via ${IPERF_AT[$target]}"
  else
    log "${TITLE[$target]}: ${FAILED[$target]} (see $WORK/$target.log)"; tail -n 20 "$WORK/$target.log" >&2
    return 1
  fi
}

# restart TARGET...: stops the relays (SIGTERM, SIGKILL after 15 s) and starts fresh ones, all at once.
restart() {
  local target p kept=() stopping=()
  for target in "$@"; do stopping+=("${PID[$target]}"); done
  stop_pids 15 "${stopping[@]}"
  for p in "${STARTED[@]}"; do [[ " ${stopping[*]} " != *" $p "* ]] && kept+=("$p"); done
  STARTED=("${kept[@]}")
  for target in "$@"; do
    printf '\n--- compare.sh: restarted %s\n' "$(date +%T)" >> "$WORK/$target.log"
    launch "$target"
  done
  for target in "$@"; do ready "$target"; done
}

i=0
for transport in $TRANSPORTS; do
  i=$(( i + 1 ))
  # Named by position: a variant may hold paths (dll=, AKKAL4_CONFIG=), and the name is part of file names.
  target=akkal4-$i
  TARGETS+=("$target")
  ECHO_AT[$target]=127.0.91.$(( 2 * i - 1 )):9000
  IPERF_AT[$target]=127.0.91.$(( 2 * i )):5201
  if [[ $transport == default ]]; then TITLE[$target]="AkkaL4 default (${DEFAULT_TRANSPORT:-?})"
  elif [[ $transport == default+* ]]; then TITLE[$target]="AkkaL4 default (${DEFAULT_TRANSPORT:-?}) +${transport#default+}"
  else TITLE[$target]="AkkaL4 $transport"; fi
  admin=127.0.94.$i:15990
  cat > "$WORK/$target.yaml" <<EOF
# compare.sh: one Service per backend, each selecting one WorkloadEntry.
apiVersion: v1
kind: Service
metadata: {name: bench-echo, namespace: default}
spec:
  clusterIP: ${ECHO_AT[$target]%:*}
  selector: {app: bench-echo}
  ports:
  - {name: tcp, port: ${ECHO_AT[$target]##*:}, targetPort: ${ECHO_BACKEND##*:}}
---
apiVersion: v1
kind: Service
metadata: {name: bench-iperf, namespace: default}
spec:
  clusterIP: ${IPERF_AT[$target]%:*}
  selector: {app: bench-iperf}
  ports:
  - {name: tcp, port: ${IPERF_AT[$target]##*:}, targetPort: ${IPERF_BACKEND##*:}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: bench-echo, namespace: default}
spec:
  address: ${ECHO_BACKEND%:*}
  labels: {app: bench-echo}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: bench-iperf, namespace: default}
spec:
  address: ${IPERF_BACKEND%:*}
  labels: {app: bench-iperf}
EOF
  ADMIN[$target]=$admin
  TRANSPORT_OF[$target]=$transport
  INDEX_OF[$target]=$i
  launch "$target"
done

cat > "$WORK/haproxy.cfg" <<EOF
# compare.sh: HAProxy, mode tcp, $CORES thread(s), buffers of AkkaL4's size (64 KiB).
global
    nbthread $CORES
    maxconn $PROXY_MAXCONN
    tune.bufsize 65536
defaults
    mode tcp
    maxconn $PROXY_MAXCONN
    timeout connect 5s
    timeout client 10m
    timeout server 10m
frontend echo
    bind 127.0.92.1:9000 backlog 4096
    default_backend echo
backend echo
    server echo $ECHO_BACKEND
frontend iperf
    bind 127.0.92.2:5201 backlog 4096
    default_backend iperf
backend iperf
    server iperf $IPERF_BACKEND
EOF
TARGETS+=(haproxy); ECHO_AT[haproxy]=127.0.92.1:9000; IPERF_AT[haproxy]=127.0.92.2:5201; TITLE[haproxy]="HAProxy$( (( CORES == 2 )) && echo ' (2 threads)')"
launch haproxy

# Debian's libnginx-mod-stream installs the module in nginx's --modules-path.
NGINX_MODULES=$(nginx -V 2>&1 | tr ' ' '\n' | sed -n 's/^--modules-path=//p')
STREAM_MODULE=${NGINX_MODULES:-/usr/lib/nginx/modules}/ngx_stream_module.so
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<EOF
# compare.sh: nginx stream, one process (the master does the work: no separate worker) or a master and
# 2 workers with --cores 2, 64 KiB buffers.
load_module $STREAM_MODULE;
daemon off;
master_process $( (( CORES == 2 )) && echo on || echo off );
worker_processes $CORES;
worker_rlimit_nofile $NOFILE;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events {
    worker_connections $NGINX_CONNECTIONS;
}
stream {
    proxy_buffer_size 64k;
    proxy_connect_timeout 5s;
    proxy_timeout 10m;
    server {
        listen 127.0.93.1:9000 backlog=4096;
        proxy_pass $ECHO_BACKEND;
    }
    server {
        listen 127.0.93.2:5201 backlog=4096;
        proxy_pass $IPERF_BACKEND;
    }
}
EOF
TARGETS+=(nginx); ECHO_AT[nginx]=127.0.93.1:9000; IPERF_AT[nginx]=127.0.93.2:5201; TITLE[nginx]="nginx$( (( CORES == 2 )) && echo ' (2 workers)')"
launch nginx

for target in "${TARGETS[@]}"; do
  [[ $target == direct ]] || ready "$target"
done

# --- scenarios -----------------------------------------------------------------------------------------------
SCENARIOS=(${BENCH_SCENARIOS:-bulk1 bulk1r bulk8 bulk8r connrate connrate-open pingpong pingpong-open idle})

# run_scenario ROUND TARGET SCENARIO: one load generator run; its result line goes to $RAW.
run_scenario() {
  local round=$1 target=$2 scenario=$3
  local echo_at=${ECHO_AT[$target]} iperf_at=${IPERF_AT[$target]} pid_args=() args
  [[ $target != direct ]] && pid_args=(--pid "${PIDS[$target]}")
  case $scenario in
    bulk1)    args=(iperf --target "$iperf_at" --seconds "$BULK_SECONDS" --streams 1) ;;
    bulk1r)   args=(iperf --target "$iperf_at" --seconds "$BULK_SECONDS" --streams 1 --reverse) ;;
    bulk8)    args=(iperf --target "$iperf_at" --seconds "$BULK_SECONDS" --streams 8) ;;
    bulk8r)   args=(iperf --target "$iperf_at" --seconds "$BULK_SECONDS" --streams 8 --reverse) ;;
    connrate) args=(connrate --target "$echo_at" --seconds "$SECONDS_PER" --concurrency "$CONCURRENCY" --sources "$SOURCES") ;;
    pingpong) args=(pingpong --target "$echo_at" --seconds "$SECONDS_PER" --connections "$PINGPONG_CONNECTIONS") ;;
    connrate-open) args=(connrate --target "$echo_at" --seconds "$SECONDS_PER" --rate "$OPEN_CONN_RATE" --sources "$SOURCES") ;;
    pingpong-open) args=(pingpong --target "$echo_at" --seconds "$SECONDS_PER" --connections "$PINGPONG_CONNECTIONS" --rate "$OPEN_MSG_RATE") ;;
    idle)     args=(idle --target "$echo_at" --connections "$IDLE_CONNECTIONS" --sources "$SOURCES" --hold "$IDLE_HOLD") ;;
    warmup-connrate) args=(connrate --target "$echo_at" --seconds "$WARMUP_SECONDS" --concurrency "$CONCURRENCY" --sources "$SOURCES") ;;
    warmup-pingpong) args=(pingpong --target "$echo_at" --seconds "$WARMUP_SECONDS" --connections "$PINGPONG_CONNECTIONS") ;;
  esac
  local out=$WORK/$target.$scenario.$round.out
  if [[ $target != direct ]] && ! kill -0 "${PID[$target]}" 2>/dev/null; then
    FAILED[$target]="exited before round $round $scenario"
    log "${TITLE[$target]}: ${FAILED[$target]} (see $WORK/$target.log)"
    return
  fi
  # Opening thousands of connections through a slow relay takes a while; everything else is short.
  local limit=$(( ${SECONDS_PER%.*} + ${BULK_SECONDS%.*} + 120 ))
  [[ $scenario == idle ]] && limit=$(( 120 + IDLE_CONNECTIONS / 10 ))
  # The relays not under test are paused (SIGSTOP), so that the proxy core runs only this one: an idle
  # AkkaL4 node still spends a few % of a core on its cluster's and scheduler's timers.
  pause_others "$target"
  LOADGEN_LIMIT=$limit loadgen "${args[@]}" --label "$target" "${pid_args[@]}" > "$out" 2>&1
  local status=$?
  [[ $target != direct ]] && settle "${PIDS[$target]}"
  resume_all
  local result
  result=$(grep -m1 '^result ' "$out")
  [[ $scenario == warmup-* ]] && return
  if [[ -z $result ]]; then
    result="result mode=none target=$target failures=1 error=exit-$status"
    log "  $scenario ${TITLE[$target]}: no result (exit $status), see $out"; tail -n 5 "$out" >&2
  else
    grep '^#' "$out" | sed 's/^# /  /' >&2
  fi
  echo "round=$round target=$target scenario=$scenario $result" >> "$RAW"
}

# settle PID: waits (up to 30 s) until the process uses under 5 % of a core, so that work left over from a
# run (closing thousands of idle connections takes an AkkaL4 node seconds) is not paused and then charged
# to its next run.
cpu_ticks() {
  local pid stat total=0
  for pid in ${1//,/ }; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    set -- ${stat##*) }; total=$(( total + ${12} + ${13} ))
  done
  echo "$total"
}
settle() {
  local before after
  for _ in $(seq 150); do
    before=$(cpu_ticks "$1") || return
    sleep 0.2
    after=$(cpu_ticks "$1") || return
    (( after - before <= CLK_TCK / 100 )) && return   # at most 1 tick in 0.2 s
  done
}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

pause_others() {
  local t
  for t in "${!PID[@]}"; do [[ $t != "$1" ]] && kill -STOP ${PIDS[$t]//,/ } 2>/dev/null; done
}
resume_all() {
  local t
  for t in "${!PID[@]}"; do kill -CONT ${PIDS[$t]//,/ } 2>/dev/null; done
}

active_targets() { local t; for t in "${TARGETS[@]}"; do [[ -z ${FAILED[$t]:-} ]] && echo "$t"; done; }

# Warm-up for the JIT-compiled relays only (HAProxy and nginx have nothing to warm).
log "warm-up: ${WARMUP_SECONDS}s of connrate and of pingpong per AkkaL4 node (not recorded)"
for target in $(active_targets); do
  [[ $target == akkal4-* ]] || continue
  run_scenario 0 "$target" warmup-connrate
  run_scenario 0 "$target" warmup-pingpong
done

for (( round = 1; round <= ROUNDS; round++ )); do
  for scenario in "${SCENARIOS[@]}"; do
    mapfile -t active < <(active_targets)
    n=${#active[@]}
    log "round $round/$ROUNDS: $scenario"
    # The idle test measures memory, so it gets fresh relays: a .NET heap with room left by the earlier
    # scenarios' garbage would take thousands of connections without its RSS moving.
    if [[ $scenario == idle ]]; then
      relays=(); for t in "${active[@]}"; do [[ $t != direct ]] && relays+=("$t"); done
      log "restarting ${relays[*]} for the idle test"
      restart "${relays[@]}"
      mapfile -t active < <(active_targets)
      n=${#active[@]}
    fi
    # Interleaved: each scenario runs against every relay back to back, starting one further each round.
    for (( k = 0; k < n; k++ )); do
      run_scenario "$round" "${active[$(( (k + round - 1) % n ))]}" "$scenario"
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - BENCH_START ))

# --- the table -----------------------------------------------------------------------------------------------
# values TARGET SCENARIO KEY: the numeric values of KEY over the rounds.
# SCENARIO * means every scenario.
values() {
  local scenario=$2
  [[ $scenario == '*' ]] && scenario='[^ ]*'
  grep "^round=[0-9]* target=$1 scenario=$scenario " "$RAW" | sed -n "s/.* $3=\([^ ]*\).*/\1/p" | grep -E '^-?[0-9.]+$'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fmt() { [[ -z $1 ]] && { echo "—"; return; }; awk -v v="$1" -v s="$2" -v d="$3" 'BEGIN { printf "%.*f", d, v * s }'; }
ratio() {
  [[ -z $1 || -z $2 ]] && { echo "—"; return; }
  # Ratios of values that can be zero or negative (latency added to direct's) would mean nothing.
  awk -v a="$1" -v b="$2" 'BEGIN { if (a <= 0 || b <= 0) print "—"; else { r = a / b; printf (r < 0.1 ? "%.3f×" : "%.2f×"), r } }'
}

AKKA_TARGETS=(); for t in "${TARGETS[@]}"; do [[ $t == akkal4-* ]] && AKKA_TARGETS+=("$t"); done

table() {
  local header="| scenario | better |" line="|---|:-:|" t
  for t in "${TARGETS[@]}"; do header+=" ${TITLE[$t]} |"; line+="---:|"; done
  for t in "${AKKA_TARGETS[@]}"; do
    header+=" ${TITLE[$t]#AkkaL4 } / HAProxy | ${TITLE[$t]#AkkaL4 } / nginx |"; line+="---:|---:|"
  done
  echo "$header"; echo "$line"
  # label | better | scenario | key | scale | decimals
  local rows=(
    "bulk, 1 stream, Gbit/s|↑|bulk1|gbit_s|1|2"
    "bulk, 1 stream reverse (-R), Gbit/s|↑|bulk1r|gbit_s|1|2"
    "bulk, 8 streams (-P 8), Gbit/s|↑|bulk8|gbit_s|1|2"
    "bulk, 8 streams reverse, Gbit/s|↑|bulk8r|gbit_s|1|2"
    "proxy CPU s per GB, 1 stream|↓|bulk1|cpu_s_per_gb|1|3"
    "proxy CPU s per GB, 1 stream reverse|↓|bulk1r|cpu_s_per_gb|1|3"
    "proxy CPU s per GB, 8 streams|↓|bulk8|cpu_s_per_gb|1|3"
    "proxy CPU s per GB, 8 streams reverse|↓|bulk8r|cpu_s_per_gb|1|3"
    "new connections/s ($CONCURRENCY clients)|↑|connrate|conn_per_s|1|0"
    "connection p50, ms (connect → echo → close)|↓|connrate|p50_us|0.001|2"
    "connection p99, ms|↓|connrate|p99_us|0.001|2"
    "proxy CPU s per 1,000 connections|↓|connrate|cpu_s_per_1k_conn|1|3"
    "open loop, $OPEN_CONN_RATE connections/s: achieved|↑|connrate-open|conn_per_s|1|0"
    "open loop connection p50, ms (from when due)|↓|connrate-open|p50_us|0.001|2"
    "open loop connection p99, ms|↓|connrate-open|p99_us|0.001|2"
    "open loop connection p99.9, ms|↓|connrate-open|p999_us|0.001|2"
    "ping-pong msg/s ($PINGPONG_CONNECTIONS conns, 64 B)|↑|pingpong|msg_per_s|1|0"
    "ping-pong p50, µs|↓|pingpong|p50_us|1|0"
    "ping-pong p99, µs|↓|pingpong|p99_us|1|0"
    "ping-pong p99.9, µs|↓|pingpong|p999_us|1|0"
    "ping-pong p99 added to direct's, µs|↓|pingpong|p99_us|added|0"
    "open loop ping-pong, $OPEN_MSG_RATE msg/s: achieved|↑|pingpong-open|msg_per_s|1|0"
    "open loop ping-pong p50, µs (from when due)|↓|pingpong-open|p50_us|1|0"
    "open loop ping-pong p99, µs|↓|pingpong-open|p99_us|1|0"
    "open loop ping-pong p99.9, µs|↓|pingpong-open|p999_us|1|0"
    "RSS per idle connection, bytes ($IDLE_CONNECTIONS conns)|↓|idle|bytes_per_conn|1|0"
    "RSS per idle connection, second half only, bytes|↓|idle|bytes_per_conn_second_half|1|0"
    "relay RSS when just started (before the idle test), MiB|↓|idle|rss_before_kib|0.0009765625|1"
    "relay's threads waiting for a CPU, % of run time (all runs)|↓|*|proxy_wait_pct|1|0"
    "load generator's threads waiting for a CPU, % (all but bulk)|↓|*|load_wait_pct|1|0"
  )
  local row label better scenario key scale decimals
  for row in "${rows[@]}"; do
    IFS='|' read -r label better scenario key scale decimals <<< "$row"
    declare -A med=()
    local direct_med
    direct_med=$(values direct "$scenario" "$key" | median)
    for t in "${TARGETS[@]}"; do
      local m; m=$(values "$t" "$scenario" "$key" | median)
      if [[ $scale == added ]]; then
        if [[ -n $m && -n $direct_med && $t != direct ]]; then m=$(awk -v a="$m" -v b="$direct_med" 'BEGIN { print a - b }'); else m=""; fi
        med[$t]=$m
      else
        med[$t]=$(if [[ -n $m ]]; then awk -v v="$m" -v s="$scale" 'BEGIN { print v * s }'; fi)
      fi
    done
    local out="| $label | $better |"
    for t in "${TARGETS[@]}"; do out+=" $(fmt "${med[$t]}" 1 "$decimals") |"; done
    for t in "${AKKA_TARGETS[@]}"; do out+=" $(ratio "${med[$t]}" "${med[haproxy]:-}") | $(ratio "${med[$t]}" "${med[nginx]:-}") |"; done
    echo "$out"
    unset med
  done
  local out="| failures (all scenarios and rounds) | ↓ |"
  for t in "${TARGETS[@]}"; do
    local f
    f=$(grep "^round=[0-9]* target=$t " "$RAW" | sed -n 's/.* failures=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    [[ -n ${FAILED[$t]:-} ]] && f="$f; ${FAILED[$t]}"
    out+=" $f |"
  done
  for t in "${AKKA_TARGETS[@]}"; do out+=" | |"; done
  echo "$out"
}

TABLE=$(table)
version_of() { "$@" 2>&1 | head -1; }
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
SUFFIX=""; (( QUICK )) && SUFFIX="-quick"; (( CORES == 2 )) && SUFFIX+="-2cores"; SUFFIX+=${BENCH_RESULT_SUFFIX:-}
RESULT_FILE=$ROOT/bench/results/$(date +%F)$SUFFIX.md
mkdir -p "$ROOT/bench/results"
{
  echo "# ${COMMAND##* bench/}, $(date '+%F %T %Z')"
  echo
  echo "Command: \`$COMMAND\` at commit $REVISION"
  echo
  echo "Medians of $ROUNDS round(s). ↑ = higher is better, ↓ = lower is better; a ratio is AkkaL4's median divided by the"
  echo "other relay's (above 1 means AkkaL4 measured more). — = not measured (direct has no proxy process)."
  echo
  echo "$TABLE"
  echo
  echo "## Machine and settings"
  echo
  echo "- $NPROC cores ($CPU_MODEL), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "- load average $LOAD_BEFORE before, $LOAD_AFTER after (other jobs on the machine add noise)"
  echo "- $(version_of haproxy -v); $(version_of nginx -v); $(version_of iperf3 --version); .NET SDK $(dotnet --version)"
  echo "- proxies pinned to core(s) $PROXY_CPU, load generator and backends (echo, iperf3 -s) to core(s) $LOAD_CPU (\`taskset\`); ulimit -n $NOFILE;"
  echo "  all relays run for the whole benchmark, and those not under test are paused (SIGSTOP) during each run"
  echo "- bulk: iperf3, ${BULK_SECONDS}s per run; connrate: ${SECONDS_PER}s, $CONCURRENCY clients, sources $SOURCES, close with RST;"
  echo "  open loop (latency from when each was due, 1 s unrecorded warm-up): $OPEN_CONN_RATE connections/s, $OPEN_MSG_RATE ping-pong msg/s;"
  echo "  ping-pong: ${SECONDS_PER}s, $PINGPONG_CONNECTIONS connections; idle: $IDLE_CONNECTIONS connections on relays restarted just before,"
  echo "  RSS read before, with half open and after a ${IDLE_HOLD}s hold, each once it settles;"
  echo "  warm-up ${WARMUP_SECONDS}s of connrate and ping-pong per AkkaL4 node before round 1"
  [[ -n $IDLE_NOTE ]] && echo "- $IDLE_NOTE"
  echo "- AkkaL4: \`dotnet src/Node/bin/Release/net10.0/akkal4.dll run\`, one single-node cluster per transport (TRANSPORTS=\"$TRANSPORTS\"),"
  echo "  node environment: ${AKKAL4_NODE_ENV:-nothing added}; it writes one access-log line per connection (HAProxy and nginx log nothing)"
  if (( CORES == 2 )); then
    echo "- HAProxy: mode tcp, nbthread 2, tune.bufsize 65536, maxconn $PROXY_MAXCONN; nginx: stream, a master and 2 workers (CPU and RSS summed over the three), proxy_buffer_size 64k, worker_connections $NGINX_CONNECTIONS"
  else
    echo "- HAProxy: mode tcp, nbthread 1, tune.bufsize 65536, maxconn $PROXY_MAXCONN; nginx: stream, master_process off (one process), proxy_buffer_size 64k, worker_connections $NGINX_CONNECTIONS"
  fi
  echo "- load generator and echo backend: \`bench/AkkaL4.LoadGen\` with DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1"
  echo "- took ${ELAPSED}s after the build"
  for t in "${TARGETS[@]}"; do
    [[ -n ${FAILED[$t]:-} ]] && echo "- **${TITLE[$t]}: ${FAILED[$t]}** (its log: ${WORK#"$ROOT"/}/$t.log)"
  done
  echo
  echo "## Raw results"
  echo
  echo '```'
  cat "$RAW"
  echo '```'
} > "$RESULT_FILE"

echo
echo "$TABLE"
echo
log "written to ${RESULT_FILE#"$ROOT"/} (${ELAPSED}s after the build; logs in ${WORK#"$ROOT"/})"
