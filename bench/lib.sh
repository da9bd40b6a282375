# bench/lib.sh: what the bench scripts share (sourced: . "$(dirname "$0")/lib.sh"), so each does these one way.

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# connects IP:PORT: a TCP connect there succeeds within 2 s.
connects() { timeout 2 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

# stop_pids SECONDS PID...: SIGTERM to each (SIGCONT first: one paused with SIGSTOP would not act on it), up to SECONDS
# for all of them to exit, then SIGKILL to what is left, and each reaped.
stop_pids() {
  local limit=$1 pid alive; shift
  for pid in "$@"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq $(( limit * 10 ))); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
}
