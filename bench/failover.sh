#!/usr/bin/env bash
# Writer failover: three `akkal4 run` nodes on 127.10.7.{1,2,3} with the built-in settings (SQLite journals in a
# temporary directory), small writes sent without pause through the two nodes that do not run the config writer;
# the writer's node is kill -9ed and the time until a write sent after the kill is acknowledged (200) is printed,
# with the time of each step from the survivors' logs (unreachable, downed, removed, singleton started, writer ready),
# one table row per run (as in bench/README.md). KEEP=1 keeps the nodes' logs.
# Usage: bench/failover.sh [RUNS]   (default: 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
dotnet build src/Node -c Release -v q -nologo >/dev/null
dll=src/Node/bin/Release/net10.0/akkal4.dll
root=$(mktemp -d); pids=()
# Every node runs in a process group of its own (setsid: its pid is its group), killed by group on every way out.
stop() { for p in "${pids[@]}"; do kill -9 -- -"$p" 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap 'stop; [ -n "${KEEP:-}" ] && echo "logs in $root" || rm -rf "$root"' EXIT
status() { curl -sf -m 5 "http://127.10.7.$1:15000/v1/status"; }
up() { status "$1" | python3 -c 'import json,sys; print(sum(m["status"]=="Up" for m in json.load(sys.stdin)["members"]))' 2>/dev/null || echo 0; }
now() { date +%s.%N; }
for run in $(seq "$runs"); do
  pids=(); declare -A pid=()
  for n in 1 2 3; do
    setsid dotnet "$dll" run --name fo-$n --remoting 127.10.7.$n:4053 --admin 127.10.7.$n:15000 --data "$root/r$run/n$n" \
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
  kill -9 -- -"${pid[$writer]}"; killed=$(now)
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
  # Each step as seconds after the kill, the first survivor's log line that marks it.
  python3 - "$run" "$killed" "$done_at" "$root/r$run-n${survivors[0]}.log" "$root/r$run-n${survivors[1]}.log" <<'PY' | tee -a "$root/table"
import re, sys
from datetime import datetime, timezone
run, killed, acked = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
steps = [("unreachable", "Marking node(s) as UNREACHABLE"), ("downed", "SBR took decision"),
         ("removed", "Leader is removing unreachable node"), ("writer started", "Singleton manager started singleton"),
         ("writer ready", "config writer started")]
first = {}
for path in sys.argv[4:]:
    for line in open(path, errors="replace"):
        m = re.search(r"\]\[(\d+/\d+/\d+ \d+:\d+:\d+\.\d+)Z\]", line)
        if not m: continue
        t = datetime.strptime(m.group(1), "%m/%d/%Y %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp() - killed
        for name, marker in steps:
            if marker in line and t > 0 and name not in first: first[name] = t
load = open("/proc/loadavg").read().split()[0]
print("| %s | %.1f s | " % (run, acked - killed)
      + " | ".join("%.1f s" % first[n] if n in first else "?" for n, _ in steps) + " | %s |" % load)
PY
  stop
done
echo "| run | acknowledged after the kill | unreachable | downed | removed | writer started | writer ready | load (1 min) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
cat "$root/table"
