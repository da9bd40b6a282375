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

# stop_group PID: the process group PID leads (started with setsid) SIGTERM, up to 10 s for PID to exit, then SIGKILL; reaped.
stop_group() { kill -TERM -- "-$1" 2>/dev/null; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -KILL -- "-$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# stop_groups PID...: each process group SIGTERM, 0.5 s, then SIGKILL to what is left, and every child reaped.
stop_groups() {
  local pid
  for pid in "$@"; do kill -TERM -- "-$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "$@"; do kill -KILL -- "-$pid" 2>/dev/null; done
  wait 2>/dev/null
}
