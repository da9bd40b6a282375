#!/bin/bash
# The node image's entry point: `akkal4 ARGS`, with a node name unique per container by default.
# With network_mode: host every container has the host's host name, so a node without AKKAL4_NAME
# (a replica of `--scale router=N`) is named AKKAL4_NAME_PREFIX + its container id as `docker ps` shows it.
set -eu
if [ -z "${AKKAL4_NAME:-}" ]; then
  id=$(grep -om1 'containers/[0-9a-f]\{64\}/' /proc/self/mountinfo | cut -d/ -f2 || true)
  id=${id:0:12}
  export AKKAL4_NAME=${AKKAL4_NAME_PREFIX:-}${id:-$(hostname)}
fi
exec /app/akkal4 "$@"
