#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on the node's admin API, with nothing but bash. The node writes
# the address its admin API listens on (its port may be chosen at start) to DATA/admin.url.
set -eu
url=$(cat "${AKKAL4_DATA:-/var/lib/akkal4}/admin.url")
hostport=${url#http://}
exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$hostport" >&3
read -r _ status _ <&3
[ "$status" = 200 ]
