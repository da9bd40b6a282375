#!/usr/bin/env bash
# Propagation of a large configuration: three `akkal4 run` nodes on 127.10.8.{1,2,3} (SQLite journals in a
# temporary directory), N headless Services (10 namespaces) PUT through node 3, which does not run the writer;
# prints the time to the acknowledgement (200: journaled and on a majority) and until every node routes by it, and the
# CPU seconds each node spent on the write (from the PUT to 3 s after the last node put it in force: the clock depends on
# what else runs on the machine, the CPU far less).
# PROPAGATION_PROBE=1: also asks each node's GET /v1/status every 0.25 s and prints the slowest answer per write.
# Usage: bench/propagation.sh [N ...]   (default: 1000 10000; e.g. 1 1000 10000 1: one Service, then 1,000, 10,000, then one of them changed)
# AKKAL4_LOG_LEVEL=debug: the per-node table at the end shows each step of each write, not only "in force".
# PROPAGATION_LOGS=DIR keeps the three nodes' logs there.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("${@:-1000 10000}"); [ $# -eq 0 ] && counts=(1000 10000)
dotnet build src/Node -c Release -v q -nologo >/dev/null
dll=src/Node/bin/Release/net10.0/akkal4.dll
root=$(mktemp -d); pids=(); : >"$root/puts"
keep() { [ -n "${PROPAGATION_LOGS:-}" ] && mkdir -p "$PROPAGATION_LOGS" && cp "$root"/n?.log "$PROPAGATION_LOGS"/ || true; }
# Every node and probe runs in a process group of its own (setsid), stopped by group on every way out.
trap 'for p in "${pids[@]}"; do kill -- -"$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; keep; rm -rf "$root"' EXIT
for n in 1 2 3; do
  setsid dotnet "$dll" run --name prop-$n --remoting 127.10.8.$n:4053 --admin 127.10.8.$n:15000 --data "$root/n$n" \
    --seed akka.tcp://akkal4@127.10.8.1:4053 >"$root/n$n.log" 2>&1 &
  pids+=($!)
  [ $n = 1 ] && sleep 8
done
# The revision a node routes by, from /healthz ("ok: routing on revision N, ..."): no interpreter started per poll (a
# python3 per poll took up to 3 s at load 35 and was most of what this script once reported as propagation).
revision() { curl -sf --max-time 5 "http://127.10.8.$1:15000/healthz" | sed -n 's/.*routing on revision \([0-9]*\).*/\1/p' | grep . || echo -1; }
until [ "$(curl -sf http://127.10.8.1:15000/v1/status | python3 -c 'import json,sys; print(sum(m["status"]=="Up" for m in json.load(sys.stdin)["members"]))' 2>/dev/null)" = 3 ]; do sleep 1; done
# How promptly each node's admin API answers while it decodes, replicates and compiles: one GET /v1/status per node every
# 0.25 s, each line "start-time seconds-taken http-code".
[ -n "${PROPAGATION_PROBE:-}" ] && for n in 1 2 3; do
  setsid bash -c 'while :; do
     t=$(date +%s.%N); r=$(curl -s -o /dev/null -w "%{time_total} %{http_code}" --max-time 20 "http://127.10.8.$1:15000/v1/status" || true)
     echo "$t $r" >>"$2"; sleep 0.25
   done' probe "$n" "$root/probe$n" &
  pids+=($!)
done
# A node's CPU time so far (user + system, in clock ticks), from /proc.
cpu() { awk '{print $14 + $15}' "/proc/${pids[$(($1 - 1))]}/stat"; }
hz=$(getconf CLK_TCK)
round=0
for count in "${counts[@]}"; do
  round=$((round + 1))
  # Each round labels its Services anew, so a write repeated (N=1 after N=10000: one Service changed) is a change.
  python3 - "$count" "$round" >"$root/config.yaml" <<'PY'
import sys
n, r = int(sys.argv[1]), sys.argv[2]
print("\n---\n".join(f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: big-{i % 10}, labels: {{round: '{r}'}}}}\nspec:\n  clusterIP: None\n"
                    f"  selector: {{app: svc-{i}}}\n  ports: [{{name: tcp, port: {1000 + i % 50000}, targetPort: 9000}}]" for i in range(n)))
PY
  bytes=$(stat -c %s "$root/config.yaml")
  cpu0=($(cpu 1) $(cpu 2) $(cpu 3))
  start=$(date +%s.%N)
  body=$(curl -s -X PUT -H 'Content-Type: application/yaml' --data-binary @"$root/config.yaml" http://127.10.8.3:15000/v1/config)
  acked=$(date +%s.%N)
  rev=$(echo "$body" | grep -o '"revision": *[0-9]*' | head -1 | grep -o '[0-9]*$')
  # Each node polled in turn until all three show it; each node's own time is when it was first seen there.
  declare -A seen=()
  while [ ${#seen[@]} -lt 3 ]; do
    for n in 1 2 3; do
      if [ -z "${seen[$n]:-}" ] && [ "$(revision $n)" -ge "$rev" ]; then seen[$n]=$(date +%s.%N); fi
    done
    if [ ${#seen[@]} -lt 3 ]; then sleep 0.1; fi
  done
  done_at=$(date +%s.%N)
  sleep 3
  cpu1=($(cpu 1) $(cpu 2) $(cpu 3))
  printf '%6d services (%d bytes): acknowledged after %.1fs, in force on all 3 nodes after %.1fs (node 1 %.1fs, 2 %.1fs, 3 %.1fs; PUT at %s UTC, revision %s, load %s); CPU seconds node 1 %.2f, 2 %.2f, 3 %.2f\n' \
    "$count" "$bytes" "$(echo "$acked - $start" | bc)" "$(echo "$done_at - $start" | bc)" \
    "$(echo "${seen[1]} - $start" | bc)" "$(echo "${seen[2]} - $start" | bc)" "$(echo "${seen[3]} - $start" | bc)" \
    "$(date -u -d @"$start" +%H:%M:%S.%3N)" "$rev" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(echo "(${cpu1[0]} - ${cpu0[0]}) / $hz" | bc -l)" "$(echo "(${cpu1[1]} - ${cpu0[1]}) / $hz" | bc -l)" "$(echo "(${cpu1[2]} - ${cpu0[2]}) / $hz" | bc -l)"
  unset seen
  echo "$rev $start" >>"$root/puts"
done
# When each step happened on each node, in seconds after the PUT, from the nodes' own log lines (the polls above add
# their own delay on a loaded machine): "in force" always, the steps before it with AKKAL4_LOG_LEVEL=debug.
python3 - "$root" <<'PY'
import re, sys, datetime
root = sys.argv[1]
puts = dict((int(r), float(t)) for r, t in (l.split() for l in open(f"{root}/puts")))
steps = [("checked, journaling", r"config revision (\d+): checked, journaling"),
         ("journaled", r"config revision (\d+): (?!checked|on a majority|on every node|not |acknowledged|replicated)"),
         ("on a majority", r"config revision (\d+): on a majority"),
         ("on every node", r"config revision (\d+): on every node"),
         ("client answered", r"config revision (\d+): acknowledged to the client"),
         ("replicated here (Changed)", r"config revision (\d+): replicated to this node"),
         ("in force (swapped)", r"config revision (\d+) in force")]
seen = {}
for n in (1, 2, 3):
    for line in open(f"{root}/n{n}.log", errors="replace"):
        m = re.match(r"\[\w+\]\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\.\d+)Z\]", line)
        if not m: continue
        when = datetime.datetime.strptime(m.group(1), "%m/%d/%Y %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
        for name, pattern in steps:
            s = re.search(pattern, line)
            if s and int(s.group(1)) in puts: seen.setdefault((int(s.group(1)), name, n), when)
import os
probes = {n: [tuple(map(float, l.split()[:2])) for l in open(f"{root}/probe{n}") if len(l.split()) >= 2] for n in (1, 2, 3) if os.path.exists(f"{root}/probe{n}")}
starts = sorted(puts.values()) + [float("inf")]
for rev in sorted(puts):
    print(f"revision {rev}, seconds after the PUT:   node 1   node 2   node 3")
    begin = puts[rev]; end = starts[starts.index(begin) + 1]
    if probes: print(f"  {'slowest GET /v1/status':<28}" + "".join(f"{max((d for t, d in probes[n] if begin <= t < end), default=float('nan')):9.2f}" for n in (1, 2, 3)))
    for name, _ in steps:
        cells = [seen.get((rev, name, n)) for n in (1, 2, 3)]
        if any(cells): print(f"  {name:<28}" + "".join(f"{c - puts[rev]:9.2f}" if c else "        -" for c in cells))
PY
