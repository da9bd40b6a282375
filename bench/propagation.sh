#!/usr/bin/env bash
# Propagation of a large configuration: three `akkal4 run` nodes on 127.10.8.{1,2,3} (SQLite journals in a
# temporary directory), N headless Services (10 namespaces) PUT through node 3, which does not run the writer;
# prints the time to the acknowledgement (200: journaled and on a majority) and until every node routes by it.
# Usage: bench/propagation.sh [N ...]   (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("${@:-1000 10000}"); [ $# -eq 0 ] && counts=(1000 10000)
dotnet build src/Node -c Release -v q -nologo >/dev/null
dll=src/Node/bin/Release/net10.0/akkal4.dll
root=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$root"' EXIT
for n in 1 2 3; do
  dotnet "$dll" run --name prop-$n --remoting 127.10.8.$n:4053 --admin 127.10.8.$n:15000 --data "$root/n$n" \
    --seed akka.tcp://akkal4@127.10.8.1:4053 >"$root/n$n.log" 2>&1 &
  pids+=($!)
  [ $n = 1 ] && sleep 8
done
revision() { curl -sf "http://127.10.8.$1:15000/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])' 2>/dev/null || echo -1; }
until [ "$(curl -sf http://127.10.8.1:15000/v1/status | python3 -c 'import json,sys; print(sum(m["status"]=="Up" for m in json.load(sys.stdin)["members"]))' 2>/dev/null)" = 3 ]; do sleep 1; done
for count in "${counts[@]}"; do
  python3 - "$count" >"$root/config.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("\n---\n".join(f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: big-{i % 10}}}\nspec:\n  clusterIP: None\n"
                    f"  selector: {{app: svc-{i}}}\n  ports: [{{name: tcp, port: {1000 + i % 50000}, targetPort: 9000}}]" for i in range(n)))
PY
  bytes=$(stat -c %s "$root/config.yaml")
  start=$(date +%s.%N)
  body=$(curl -s -X PUT -H 'Content-Type: application/yaml' --data-binary @"$root/config.yaml" http://127.10.8.3:15000/v1/config)
  acked=$(date +%s.%N)
  rev=$(echo "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
  for n in 1 2 3; do until [ "$(revision $n)" -ge "$rev" ]; do sleep 0.1; done; done
  done_at=$(date +%s.%N)
  printf '%6d services (%d bytes): acknowledged after %.1fs, in force on all 3 nodes after %.1fs\n' \
    "$count" "$bytes" "$(echo "$acked - $start" | bc)" "$(echo "$done_at - $start" | bc)"
done
