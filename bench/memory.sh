#!/usr/bin/env bash
# bench/memory.sh [N]: an AkkaL4 node's memory, fresh and with N idle relayed connections (issue #15, item 3).
#
# For each variant in $MEMORY_VARIANTS (runtime settings, one variant per line; "default" = none), starts a
# fresh Release node (`akkal4 run`, one Service → one WorkloadEntry, sockets transport) pinned to core
# $PROXY_CPU, waits until it is ready and idle, and reads its VmRSS (anonymous and file-backed), its threads
# and how many managed assemblies it has mapped. Then the load generator opens N connections through it (64 at
# a time, each checked with one echo) and holds them: RSS per idle connection, overall and over the second
# half. Prints a Markdown table and writes it to bench/results/<date>-memory.md.
#
# Addresses (the perf block): node 127.90.2.10:9000, admin 127.90.2.1:15990, echo 127.90.2.2:9000,
# client sources 127.90.100.1-50. Run it under the tests lock: flock /tmp/akkal4-tests.lock bench/memory.sh
#
# Environment: MEMORY_VARIANTS, BENCH_SKIP_BUILD=1, MEMORY_NODE_DLL (a published akkal4.dll instead of the Release build), PROXY_CPU (0), LOAD_CPU (1), MEMORY_NODE_ARGS (extra `run` flags),
# MEMORY_LABEL (results file <date>-memory-<label>.md), MEMORY_GCDUMP=DIR: also take a gcdump of the node (dotnet-gcdump, the repository's local tool) once all N connections
# are open, and its per-type report, into DIR/<variant>.gcdump(.txt). A gcdump forces a full GC, so the RSS figures of
# such a run are not comparable with a run without one.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
N=${1:-5000}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MEMORY_VARIANTS=${MEMORY_VARIANTS:-default}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building the solution (Release)"
  dotnet build -c Release AkkaL4.sln -nologo -v q >&2 || die "the Release build failed"
fi
NODE_DLL=${MEMORY_NODE_DLL:-$ROOT/src/Node/bin/Release/net10.0/akkal4.dll}
LOADGEN_DLL=$ROOT/bench/AkkaL4.LoadGen/bin/Release/net10.0/akkal4-loadgen.dll
[[ -f $NODE_DLL && -f $LOADGEN_DLL ]] || die "no Release build"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
(( $(ulimit -n) >= 2 * N + 1000 )) || die "ulimit -n $(ulimit -n) is too low for $N connections"

WORK=$(mktemp -d /tmp/akkal4-memory.XXXXXX)
declare -a STARTED=()
cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${STARTED[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT

ECHO=127.90.2.2:9000 VIP=127.90.2.10:9000 ADMIN=127.90.2.1:15990
taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" echo --listen "$ECHO" > "$WORK/echo.log" 2>&1 &
STARTED+=($!)
cat > "$WORK/config.yaml" <<YAML
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
YAML

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_ticks() { local stat; stat=$(cat "/proc/$1/stat") || return 1; set -- ${stat##*) }; echo $(( ${12} + ${13} )); }
# Idle: under 1 tick of CPU in 0.5 s, three times running (at most 30 s).
settle() {
  local calm=0
  for _ in $(seq 60); do
    local a b; a=$(cpu_ticks "$1") || return; sleep 0.5; b=$(cpu_ticks "$1") || return
    if (( b - a <= 1 )); then (( ++calm >= 3 )) && return; else calm=0; fi
  done
}

ROWS=()
while IFS= read -r variant; do
  [[ -z ${variant// } ]] && continue
  settings=(); [[ $variant != default ]] && read -r -a settings <<< "$variant"
  rm -rf "$WORK/data"
  # shellcheck disable=SC2086
  taskset -c "$PROXY_CPU" env "${settings[@]}" dotnet "$NODE_DLL" run -f "$WORK/config.yaml" --name memory --admin "$ADMIN" \
    --remoting 127.90.2.1:0 --data "$WORK/data" ${MEMORY_NODE_ARGS:-} > "$WORK/node.log" 2>&1 &
  pid=$!; STARTED+=($pid)
  ready=0
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || break
    if curl -sf -m 2 -o /dev/null "http://$ADMIN/readyz" && timeout 2 bash -c "exec 3<>/dev/tcp/${VIP%:*}/${VIP##*:}" 2>/dev/null; then ready=1; break; fi
    sleep 0.2
  done
  (( ready )) || { tail -20 "$WORK/node.log" >&2; die "node ($variant) not ready"; }
  settle "$pid"; sleep 2; settle "$pid"
  rss=$(status_kib "$pid" VmRSS) anon=$(status_kib "$pid" RssAnon) file=$(status_kib "$pid" RssFile) threads=$(status_kib "$pid" Threads)
  assemblies=$(grep -o '[^/]*\.dll$' "/proc/$pid/maps" | sort -u | wc -l)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  log "$variant: fresh VmRSS $((rss / 1024)) MiB (anon $((anon / 1024)), file $((file / 1024))), $threads threads, $assemblies assemblies mapped; load $load"
  hold=2 dumper=
  if [[ -n ${MEMORY_GCDUMP:-} ]]; then
    hold=30; mkdir -p "$MEMORY_GCDUMP"; dump=$MEMORY_GCDUMP/${variant//[^A-Za-z0-9_.=-]/_}.gcdump
    (
      open() { ss -Htn state established "( sport = :${VIP##*:} )" src "${VIP%:*}" | wc -l; }
      for _ in $(seq 240); do (( $(open) >= N )) && break; sleep 0.5; done
      # A dump of fewer than N connections (some failed, or the load generator's hold ran out during the dump) is no figure.
      (( $(open) >= N )) || { log "gcdump skipped: $(open) of $N connections open"; exit 1; }
      dotnet dotnet-gcdump collect -p "$pid" -o "$dump" > /dev/null || exit 1
      (( $(open) >= N )) || { log "gcdump discarded: connections closed during the dump (hold $hold s)"; rm -f "$dump"; exit 1; }
      dotnet dotnet-gcdump report "$dump" > "$dump.txt"
    ) &
    dumper=$!
  fi
  out=$(taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" idle --target "$VIP" --connections "$N" \
        --sources 127.90.100.1-127.90.100.50 --hold "$hold" --pid "$pid" --label memory 2>&1)
  if [[ -n $dumper ]]; then wait "$dumper" || die "gcdump ($variant) not taken with all $N connections open; see above"; log "gcdump: $dump.txt"; fi
  result=$(grep -m1 '^result ' <<< "$out")
  grep '^#' <<< "$out" | sed 's/^# /  /' >&2
  per=$(sed -n 's/.* bytes_per_conn=\([^ ]*\).*/\1/p' <<< "$result")
  half=$(sed -n 's/.* bytes_per_conn_second_half=\([^ ]*\).*/\1/p' <<< "$result")
  fails=$(sed -n 's/.* failures=\([^ ]*\).*/\1/p' <<< "$result")
  ROWS+=("| \`$variant\` | $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') | $((anon / 1024)) / $((file / 1024)) | $threads | $assemblies | ${per:-—} | ${half:-—} | ${fails:-?} | $load |")
  kill -TERM "$pid"; for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done <<< "$MEMORY_VARIANTS"

TABLE=$(
  echo "| runtime settings | fresh VmRSS, MiB | anon / file-backed, MiB | threads | assemblies mapped | RSS per idle connection, B ($N) | second half only, B | failures | load average |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
)
RESULT=$ROOT/bench/results/$(date +%F)-memory${MEMORY_LABEL:+-$MEMORY_LABEL}.md
{
  echo "# bench/memory.sh $N, $(date '+%F %T %Z')"
  echo
  echo "Commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (with local changes)'); node pinned to core $PROXY_CPU, load to core $LOAD_CPU; $(nproc) cores."
  echo
  echo "$TABLE"
} > "$RESULT"
echo "$TABLE"
log "written to ${RESULT#"$ROOT"/}"
