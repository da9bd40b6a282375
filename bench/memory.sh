#!/usr/bin/env bash
# bench/memory.sh [N]: an AkkaL4 node's memory, fresh and with N idle relayed connections (issue #15, item 3).
#
# For each variant in $MEMORY_VARIANTS (runtime settings, one variant per line; "default" = none), starts a
# fresh Release node (`akkal4 run`, one Service → one WorkloadEntry, sockets transport) pinned to core
# $PROXY_CPU, waits until it is ready and idle, and reads its VmRSS (anonymous and file-backed), its threads
# and how many managed assemblies it has mapped. Then the load generator opens N connections through it (64 at
# a time, each checked with one echo) and holds them: RSS per idle connection, overall and over the second
# half, and the node's GC figures from its /metrics (allocated per connection, collections, live and committed heap).
# Prints a Markdown table and writes it to bench/results/<date>-memory.md.
#
# Addresses (NET = $MEMORY_NET, default 127.90, the perf block; H = $MEMORY_HOSTS, default 2, and C = $MEMORY_CLIENTS, default
# 100, third octets): node NET.H.10:9000, admin NET.H.1:15990, echo NET.H.2:9000, client sources NET.C.1-50; with
# MEMORY_SEED=1 a seed node on NET.H.20 (remoting 4053, admin 15990).
# Run it under the tests lock: flock -o /tmp/akkal4-tests.lock bench/memory.sh
# Every process it starts runs in a process group of its own (setsid), killed by group on every exit.
#
# Environment: MEMORY_NET (the addresses' first two octets), MEMORY_FRESH_AFTER (seconds after ready before the fresh read, 15), MEMORY_HOSTS and MEMORY_CLIENTS (third octets), MEMORY_VARIANTS, BENCH_SKIP_BUILD=1, MEMORY_NODE_DLL (a published akkal4.dll instead of the Release build), PROXY_CPU (0), LOAD_CPU (1), MEMORY_NODE_ARGS (extra `run` flags),
# MEMORY_SEED=1: the measured node joins a seed node started first (gateway-only, --mesh false, so it binds none of the
# node's listeners) which takes the configuration, so it runs the config writer and the RouteTable entities: the measured
# node is then a follower, which hosts no persistent actor and gets the configuration by replication (the "role" column);
# MEMORY_SMAPS=1: the node's largest mappings (RSS by file, /proc/PID/smaps) under the table, fresh and with the N open;
# MEMORY_HOLD (seconds the N connections are held open before the last RSS read, 2), MEMORY_LABEL (results file <date>-memory-<label>.md), MEMORY_GCDUMP=DIR: also take a gcdump of the node (dotnet-gcdump, the repository's local tool) once all N connections
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

. bench/lib.sh # log, die, stop_group, stop_groups

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
# Each started with setsid (its pid is its process group): stopped by group, children included.
cleanup() { stop_groups "${STARTED[@]}"; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT

NET=${MEMORY_NET:-127.90}
H=$NET.${MEMORY_HOSTS:-2} C=$NET.${MEMORY_CLIENTS:-100}
ECHO=$H.2:9000 VIP=$H.10:9000 ADMIN=$H.1:15990 SEED_ADMIN=$H.20:15990 SEED_REMOTING=$H.20:4053
setsid taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" echo --listen "$ECHO" > "$WORK/echo.log" 2>&1 &
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
# KiB of RSS by mapping name (a file, [heap], [anon], /memfd:doublemapper: the runtime's loader heaps and JIT-compiled code,
# by view), largest 30.
smaps_by_mapping() {
  awk '/^[0-9a-f]+-[0-9a-f]+ /{ name = ($6 == "" ? "[anon]" : $6); if (name ~ /doublemapper/) name = name " (" $2 ")" } /^Rss:/{ rss[name] += $2 }
    END { for (n in rss) printf "%8d %s\n", rss[n], n }' "/proc/$1/smaps" | sort -rn | head -30
}
# The node's GC figures from its /metrics (the runtime's System.Runtime meter): bytes allocated since start, collections
# of all generations since start, and, as of the last collection, the heap's live size (all generations) and the memory
# the GC had committed: "ALLOCATED COLLECTIONS LIVE COMMITTED".
gc_counters() {
  curl -sf -m 5 "http://$ADMIN/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total /{ a = $2 } /^dotnet_gc_collections_total[{ ]/{ c += $2 }
    /^dotnet_gc_last_collection_heap_size_bytes[{ ]/{ h += $2 } /^dotnet_gc_last_collection_memory_committed_size_bytes /{ m = $2 }
    END { if (a != "") printf "%.0f %d %.0f %.0f\n", a, c, h, m }'
}
cpu_ticks() { local stat; stat=$(cat "/proc/$1/stat") || return 1; set -- ${stat##*) }; echo $(( ${12} + ${13} )); }
# Idle: under 1 tick of CPU in 0.5 s, three times running (at most 30 s).
settle() {
  local calm=0
  for _ in $(seq 60); do
    local a b; a=$(cpu_ticks "$1") || return; sleep 0.5; b=$(cpu_ticks "$1") || return
    if (( b - a <= 1 )); then (( ++calm >= 3 )) && return; else calm=0; fi
  done
}

ROWS=() SMAPS=()
while IFS= read -r variant; do
  [[ -z ${variant// } ]] && continue
  settings=(); [[ $variant != default ]] && read -r -a settings <<< "$variant"
  rm -rf "$WORK/data" "$WORK/seed-data"
  role=single node_args=(-f "$WORK/config.yaml") seed=
  if [[ ${MEMORY_SEED:-0} == 1 ]]; then
    setsid taskset -c "$LOAD_CPU" env "${settings[@]}" dotnet "$NODE_DLL" run -f "$WORK/config.yaml" --name seed --mesh false --admin "$SEED_ADMIN" \
      --remoting "$SEED_REMOTING" --data "$WORK/seed-data" > "$WORK/seed.log" 2>&1 &
    seed=$!; STARTED+=($seed)
    for _ in $(seq 600); do curl -sf -m 2 -o /dev/null "http://$SEED_ADMIN/readyz" && break; kill -0 "$seed" 2>/dev/null || break; sleep 0.2; done
    curl -sf -m 2 -o /dev/null "http://$SEED_ADMIN/readyz" || { tail -20 "$WORK/seed.log" >&2; die "seed node ($variant) not ready"; }
    role=follower node_args=(--seed "akka.tcp://akkal4@$SEED_REMOTING")
  fi
  # shellcheck disable=SC2086
  setsid taskset -c "$PROXY_CPU" env "${settings[@]}" dotnet "$NODE_DLL" run "${node_args[@]}" --name memory --admin "$ADMIN" \
    --remoting "$H.1:0" --data "$WORK/data" ${MEMORY_NODE_ARGS:-} > "$WORK/node.log" 2>&1 &
  pid=$!; STARTED+=($pid)
  ready=0
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || break
    if curl -sf -m 2 -o /dev/null "http://$ADMIN/readyz" && timeout 2 bash -c "exec 3<>/dev/tcp/${VIP%:*}/${VIP##*:}" 2>/dev/null; then ready=1; break; fi
    sleep 0.2
  done
  (( ready )) || { tail -20 "$WORK/node.log" >&2; die "node ($variant) not ready"; }
  # Read no sooner than MEMORY_FRESH_AFTER seconds after ready (default 15: the node trims the C library's heaps at
  # ready and 10 s after), then once idle.
  ready_at=$SECONDS
  settle "$pid"; sleep 2; settle "$pid"
  (( SECONDS - ready_at < ${MEMORY_FRESH_AFTER:-15} )) && sleep $(( ${MEMORY_FRESH_AFTER:-15} - (SECONDS - ready_at) )) && settle "$pid"
  rss=$(status_kib "$pid" VmRSS) anon=$(status_kib "$pid" RssAnon) file=$(status_kib "$pid" RssFile) threads=$(status_kib "$pid" Threads)
  assemblies=$(grep -o '[^/]*\.dll$' "/proc/$pid/maps" | sort -u | wc -l)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  read -r alloc0 gcs0 live0 committed0 <<< "$(gc_counters)"
  log "$variant ($role): fresh VmRSS $((rss / 1024)) MiB (anon $((anon / 1024)), file $((file / 1024))), $threads threads, $assemblies assemblies mapped; load $load"
  if [[ ${MEMORY_SMAPS:-0} == 1 ]]; then
    SMAPS+=("" "\`$variant\` ($role), KiB of RSS by mapping:" "" '```')
    while IFS= read -r line; do SMAPS+=("$line"); done < <(smaps_by_mapping "$pid")
    SMAPS+=('```')
  fi
  hold=${MEMORY_HOLD:-2} dumper=
  # What the GC did while the connections opened, read once all N are open (during the hold, as the RSS): the bytes
  # allocated per connection and the collections. Garbage allocated after the last collection is resident at the RSS
  # read, up to a gen0 budget of it: with none or one collection while opening, that is most of what was allocated.
  # Polled every 0.5 s (ss over N sockets costs CPU in the phase measured; the hold is 2 s); nothing is written when not all N opened
  # within 60 s, so the columns show — rather than figures of fewer connections.
  rm -f "$WORK/gc-open"
  set -m # a process group of its own, stopped by group like the rest
  (
    open() { ss -Htn state established "( sport = :${VIP##*:} )" src "${VIP%:*}" | wc -l; }
    for _ in $(seq 120); do
      if (( $(open) >= N )); then
        gc_counters > "$WORK/gc-open"
        [[ ${MEMORY_SMAPS:-0} == 1 ]] && smaps_by_mapping "$pid" > "$WORK/smaps-open"
        break
      fi
      sleep 0.5
    done
  ) &
  gcreader=$!; STARTED+=($gcreader)
  set +m
  if [[ -n ${MEMORY_GCDUMP:-} ]]; then
    hold=30; mkdir -p "$MEMORY_GCDUMP"; dump=$MEMORY_GCDUMP/${variant//[^A-Za-z0-9_.=-]/_}.gcdump
    set -m # the dumper gets a process group of its own (dotnet-gcdump with it), stopped by group like the rest
    (
      open() { ss -Htn state established "( sport = :${VIP##*:} )" src "${VIP%:*}" | wc -l; }
      for _ in $(seq 240); do (( $(open) >= N )) && break; sleep 0.5; done
      # A dump of fewer than N connections (some failed, or the load generator's hold ran out during the dump) is no figure.
      (( $(open) >= N )) || { log "gcdump skipped: $(open) of $N connections open"; exit 1; }
      dotnet dotnet-gcdump collect -p "$pid" -o "$dump" > /dev/null || exit 1
      (( $(open) >= N )) || { log "gcdump discarded: connections closed during the dump (hold $hold s)"; rm -f "$dump"; exit 1; }
      dotnet dotnet-gcdump report "$dump" > "$dump.txt"
    ) &
    dumper=$!; STARTED+=($dumper)
    set +m
  fi
  setsid taskset -c "$LOAD_CPU" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$LOADGEN_DLL" idle --target "$VIP" --connections "$N" \
        --sources "$C.1-$C.50" --hold "$hold" --pid "$pid" --label memory > "$WORK/loadgen.out" 2>&1 &
  loadgen=$!; STARTED+=($loadgen); wait "$loadgen"; out=$(cat "$WORK/loadgen.out")
  if [[ -n $dumper ]]; then wait "$dumper" || die "gcdump ($variant) not taken with all $N connections open; see above"; log "gcdump: $dump.txt"; fi
  wait "$gcreader"; alloc1= gcs1= live1= committed1=
  if [[ -s $WORK/smaps-open ]]; then
    SMAPS+=("" "\`$variant\` ($role), KiB of RSS by mapping with the $N connections open:" "" '```')
    while IFS= read -r line; do SMAPS+=("$line"); done < "$WORK/smaps-open"
    SMAPS+=('```'); rm -f "$WORK/smaps-open"
  fi
  [[ -s $WORK/gc-open ]] && read -r alloc1 gcs1 live1 committed1 < "$WORK/gc-open"
  gcnote=— heapnote=—
  if [[ -n ${alloc0:-} && -n ${alloc1:-} ]]; then
    gcnote="$(( (alloc1 - alloc0) / N )) / $(( gcs1 - gcs0 ))"
    heapnote=$(awk -v l0="$live0" -v l1="$live1" -v c0="$committed0" -v c1="$committed1" 'BEGIN { printf "%.1f → %.1f / %.1f → %.1f", l0 / 1048576, l1 / 1048576, c0 / 1048576, c1 / 1048576 }')
  fi
  result=$(grep -m1 '^result ' <<< "$out")
  grep '^#' <<< "$out" | sed 's/^# /  /' >&2
  per=$(sed -n 's/.* bytes_per_conn=\([^ ]*\).*/\1/p' <<< "$result")
  half=$(sed -n 's/.* bytes_per_conn_second_half=\([^ ]*\).*/\1/p' <<< "$result")
  fails=$(sed -n 's/.* failures=\([^ ]*\).*/\1/p' <<< "$result")
  after=$(sed -n 's/.* rss_after_kib=\([^ ]*\).*/\1/p' <<< "$result")
  ROWS+=("| \`$variant\` | $role | $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') | $((anon / 1024)) / $((file / 1024)) | $([[ $after =~ ^[0-9]+$ ]] && awk -v k="$after" 'BEGIN { printf "%.1f", k / 1024 }' || echo —) | $threads | $assemblies | ${per:-—} | ${half:-—} | $gcnote | $heapnote | ${fails:-?} | $load |")
  stop_group "$pid"; [[ -n $seed ]] && stop_group "$seed"
done <<< "$MEMORY_VARIANTS"

TABLE=$(
  echo "| runtime settings | role | fresh VmRSS, MiB | anon / file-backed, MiB | VmRSS with the $N connections, MiB | threads | assemblies mapped | RSS per idle connection, B ($N) | second half only, B | allocated per connection, B / collections, while opening | GC heap live / committed at the last collection, MiB: fresh → open | failures | load average |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
)
RESULT=$ROOT/bench/results/$(date +%F)-memory${MEMORY_LABEL:+-$MEMORY_LABEL}.md
{
  echo "# bench/memory.sh $N, $(date '+%F %T %Z')"
  echo
  echo "Commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (with local changes)'); node pinned to core $PROXY_CPU, load to core $LOAD_CPU; $(nproc) cores."
  echo
  echo "$TABLE"
  (( ${#SMAPS[@]} )) && printf '%s\n' "${SMAPS[@]}"
} > "$RESULT"
echo "$TABLE"
log "written to ${RESULT#"$ROOT"/}"
