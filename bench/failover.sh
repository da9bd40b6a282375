#!/usr/bin/env bash
# Writer failover: three `akkal4 run` nodes on 127.10.7.{1,2,3} with the built-in settings (SQLite journals in a
# temporary directory), small writes sent without pause through the two nodes that do not run the config writer;
# the writer's node is kill -9ed and the time until a write sent after the kill is acknowledged (200) is printed,
# with the survivors' log lines that mark each step (unreachable, downed, removed, singleton started, writer ready).
# Usage: bench/failover.sh [RUNS]   (default: 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dotnet build src/Node -c Release -v q -nologo >/dev/null
dll=src/Node/bin/Release/net10.0/akkal4.dll
root=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$root"' EXIT
status() { curl -sf -m 5 "http://127.10.7.$1:15000/v1/status"; }
up() { status "$1" | python3 -c 'import json,sys; print(sum(m["status"]=="Up" for m in json.load(sys.stdin)["members"]))' 2>/dev/null || echo 0; }
now() { date +%s.%N; }
for run in $(seq "$runs"); do
  pids=(); declare -A pid=()
  for n in 1 2 3; do
    dotnet "$dll" run --name fo-$n --remoting 127.10.7.$n:4053 --admin 127.10.7.$n:15000 --data "$root/r$run/n$n" \
      --seed akka.tcp://akkal4@127.10.7.1:4053 --seed akka.tcp://akkal4@127.10.7.2:4053 >"$root/r$run-n$n.log" 2>&1 &
    pids+=($!); pid[$n]=$!
  done
  until [ "$(up 1)" = 3 ]; do sleep 1; done
  put() { curl -s -o /dev/null -w '%{http_code}' -m 60 -X PUT -H 'Content-Type: application/yaml' --data-binary \
    "apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: $2, namespace: failover}
spec: {address: 127.10.7.9, labels: {app: $2}}" "http://127.10.7.$1:15000/v1/config"; }
  until [ "$(put 3 warm-$run)" = 200 ]; do sleep 1; done
  writer=$(status 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["configWriter"].split("@127.10.7.")[1].split(":")[0])')
  survivors=(); for n in 1 2 3; do [ "$n" != "$writer" ] && survivors+=("$n"); done
  kill -9 "${pid[$writer]}"; killed=$(now)
  i=0
  while :; do
    sent=$(now); code=$(put "${survivors[$((i % 2))]}" "w-$run-$i"); i=$((i + 1))
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  done_at=$(now)
  printf 'run %d: writer on node %d killed; a write sent %.1fs after the kill acknowledged %.1fs after it (%d tries); load %s\n' \
    "$run" "$writer" "$(echo "$sent - $killed" | bc)" "$(echo "$done_at - $killed" | bc)" "$i" "$(cut -d' ' -f1-3 /proc/loadavg)"
  date -u -d "@$killed" +'  killed at %H:%M:%S.%3N'
  for n in "${survivors[@]}"; do
    grep -hE "nreachable|SBR|[Dd]own|Member removed|Singleton manager started singleton|Hand-?over|config writer" "$root/r$run-n$n.log" \
      | grep -v "^\s*$" | sed "s/^/  [n$n] /" | tail -n 25
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
done
