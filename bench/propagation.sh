#!/usr/bin/env bash
# Propagation of a large configuration: three `akkal4 run` nodes on 127.10.8.{1,2,3} (SQLite journals in a
# temporary directory), N headless Services (10 namespaces) PUT through node 3, which does not run the writer;
# prints the time to the acknowledgement (200: journaled and on a majority) and until every node routes by it.
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
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; keep; rm -rf "$root"' EXIT
for n in 1 2 3; do
  dotnet "$dll" run --name prop-$n --remoting 127.10.8.$n:4053 --admin 127.10.8.$n:15000 --data "$root/n$n" \
    --seed akka.tcp://akkal4@127.10.8.1:4053 >"$root/n$n.log" 2>&1 &
  pids+=($!)
  [ $n = 1 ] && sleep 8
done
# The revision a node routes by, from /healthz ("ok: routing on revision N, ..."): no interpreter started per poll (a
# python3 per poll took up to 3 s at load 35 and was most of what this script once reported as propagation).
revision() { curl -sf --max-time 5 "http://127.10.8.$1:15000/healthz" | sed -n 's/.*routing on revision \([0-9]*\).*/\1/p' | grep . || echo -1; }
until [ "$(curl -sf http://127.10.8.1:15000/v1/status | python3 -c 'import json,sys; print(sum(m["status"]=="Up" for m in json.load(sys.stdin)["members"]))' 2>/dev/null)" = 3 ]; do sleep 1; done
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
  printf '%6d services (%d bytes): acknowledged after %.1fs, in force on all 3 nodes after %.1fs (node 1 %.1fs, 2 %.1fs, 3 %.1fs; PUT at %s UTC, revision %s)\n' \
    "$count" "$bytes" "$(echo "$acked - $start" | bc)" "$(echo "$done_at - $start" | bc)" \
    "$(echo "${seen[1]} - $start" | bc)" "$(echo "${seen[2]} - $start" | bc)" "$(echo "${seen[3]} - $start" | bc)" \
    "$(date -u -d @"$start" +%H:%M:%S.%3N)" "$rev"
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
for rev in sorted(puts):
    print(f"revision {rev}, seconds after the PUT:   node 1   node 2   node 3")
    for name, _ in steps:
        cells = [seen.get((rev, name, n)) for n in (1, 2, 3)]
        if any(cells): print(f"  {name:<28}" + "".join(f"{c - puts[rev]:9.2f}" if c else "        -" for c in cells))
PY
