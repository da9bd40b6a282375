#!/usr/bin/env bash
# Starts or stops a private Docker engine that leaves the host's network alone: no bridge, no iptables
# rules, its own data root, exec root and socket under one directory. Containers then need
# network_mode: host (the compose file uses it everywhere).
#   eval "$(deploy/dockerd.sh start)"   # installs docker.io + docker-compose if absent; prints export DOCKER_HOST=…
#   deploy/dockerd.sh stop              # stops the engine this script started (by its pid file)
# AKKAL4_DOCKERD_DIR picks the directory (default /tmp/akkal4-dockerd-$UID).
set -u
dir=${AKKAL4_DOCKERD_DIR:-/tmp/akkal4-dockerd-$(id -u)}
socket=unix://$dir/docker.sock

case "${1:-}" in
  start)
    if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null; then
      # No service may start during the install: on a machine with systemd the package would start the
      # system's dockerd, with its bridge and iptables rules.
      policy=/usr/sbin/policy-rc.d
      [ -e $policy ] || { printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && trap 'rm -f $policy' EXIT; }
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose; } >&2 \
        || { echo "dockerd.sh: could not install docker.io and docker-compose" >&2; exit 1; }
    fi
    mkdir -p "$dir"
    if ! DOCKER_HOST=$socket docker info >/dev/null 2>&1; then
      # setsid: the engine outlives the shell that started it, and a Ctrl+C there does not reach it.
      setsid dockerd --data-root "$dir/root" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" -H "$socket" \
        --bridge=none --iptables=false --ip6tables=false </dev/null >"$dir/dockerd.log" 2>&1 &
      for _ in $(seq 1 120); do
        DOCKER_HOST=$socket docker info >/dev/null 2>&1 && break
        sleep 0.5
      done
    fi
    if ! DOCKER_HOST=$socket docker info >/dev/null 2>&1; then
      echo "dockerd.sh: dockerd did not start; its log:" >&2
      tail -n 20 "$dir/dockerd.log" >&2
      exit 1
    fi
    echo "export DOCKER_HOST=$socket"
    ;;
  stop)
    [ -f "$dir/dockerd.pid" ] || exit 0
    pid=$(cat "$dir/dockerd.pid")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.5; done
    echo "dockerd.sh: dockerd ($pid) still running after 30 s" >&2
    exit 1
    ;;
  *)
    echo "usage: deploy/dockerd.sh start|stop" >&2
    exit 2
    ;;
esac
