#!/usr/bin/env bash
# Writes the compose file's secrets, once, into an env file only its owner may read (0600), and the cluster's
# remoting certificate into a directory beside it only its owner may enter (0700). docker-compose.yml has no default
# for any of them and refuses to start without them. Run it once before the first `up`:
#   deploy/compose-env.sh          # .env (and .env.secrets/) beside docker-compose.yml, which docker compose reads by itself
#   deploy/compose-env.sh FILE     # another file (and FILE.secrets/): docker compose --env-file FILE ...
# What it writes (a value already in the file is kept, and none is ever printed):
#   AKKAL4_POSTGRES_PASSWORD   the journal's password (the journal volume is created with it)
#   AKKAL4_ADMIN_TOKEN         every node's admin API token: `akkal4 apply --admin-token` or $AKKAL4_ADMIN_TOKEN
#   AKKAL4_TLS_CERT_PASSWORD   the password of the remoting certificate's file
#   AKKAL4_TLS_CERT_FILE       that file, FILE.secrets/cluster.p12: a cluster CA (openssl, EC P-256, 10 years) that every
#                              node uses as its --tls-cert, so remoting is mutual TLS and only holders of it can join
# Across several hosts, run it on one and copy its secret lines and the certificate to the others (the file may hold
# per-host settings too: AKKAL4_HOST, labels, port), keeping them 0600/0700; a run on each host would make another
# password (which the one journal refuses) and another cluster CA (which the other hosts' nodes refuse):
#   grep -E '^AKKAL4_(POSTGRES_PASSWORD|ADMIN_TOKEN|TLS_CERT_PASSWORD)=' .env | ssh host2 'cd akkal4 && umask 077 && cat >> .env && chmod 600 .env'
#   ssh host2 'cd akkal4 && umask 077 && mkdir -p .env.secrets' && scp -p .env.secrets/cluster.p12 host2:akkal4/.env.secrets/
#   ssh host2 'cd akkal4 && echo "AKKAL4_TLS_CERT_FILE=$PWD/.env.secrets/cluster.p12" >> .env'
# A new certificate (before it expires, or if a copy leaked): remove the file and its two lines, run this again, copy
# it to every host, and restart every node (`docker-compose up -d --force-recreate`): old and new do not mix.
set -eu
file=${1:-$(cd "$(dirname "$0")/.." && pwd)/.env}
case $file in /*) ;; *) file=$PWD/$file ;; esac
umask 077

# Whether the file sets NAME; a hand-written line counts too (`export ...`, leading spaces): a second, different value
# must never join it.
has() { [ -f "$file" ] && grep -Eq "^[[:space:]]*(export[[:space:]]+)?$1=." "$file"; }
value() { sed -nE "s/^[[:space:]]*(export[[:space:]]+)?$1=//p" "$file" | tail -n 1; }
add() { # NAME VALUE
  # A last line without its newline would otherwise swallow the new one (AKKAL4_HOST=...AKKAL4_POSTGRES_PASSWORD=...).
  if [ -s "$file" ] && [ -n "$(tail -c1 "$file")" ]; then echo >>"$file"; fi
  printf '%s=%s\n' "$1" "$2" >>"$file"
  echo "compose-env.sh: wrote a new $1 to $file" >&2
}
# Hex: nothing a connection string (Password=...;), a header or YAML would have to quote.
random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
secret() { # NAME BYTES
  if has "$1"; then echo "compose-env.sh: $file already sets $1: kept" >&2; else add "$1" "$(random "$2")"; fi
}

secret AKKAL4_POSTGRES_PASSWORD 24
secret AKKAL4_ADMIN_TOKEN 32
secret AKKAL4_TLS_CERT_PASSWORD 24

if has AKKAL4_TLS_CERT_FILE; then
  cert=$(value AKKAL4_TLS_CERT_FILE)
  [ -f "$cert" ] || { echo "compose-env.sh: $file names AKKAL4_TLS_CERT_FILE=$cert, which does not exist" >&2; exit 1; }
  echo "compose-env.sh: $file already sets AKKAL4_TLS_CERT_FILE: kept" >&2
else
  command -v openssl >/dev/null || { echo "compose-env.sh: openssl is required to make the remoting certificate (apt-get install openssl)" >&2; exit 1; }
  dir=$file.secrets
  mkdir -p "$dir" && chmod 700 "$dir"
  cert=$dir/cluster.p12
  [ ! -e "$cert" ] || { echo "compose-env.sh: $cert exists but $file does not name it (AKKAL4_TLS_CERT_FILE): move it away or add the line" >&2; exit 1; }
  # A cluster CA, usable as every node's certificate (README, "Security"): CA, both TLS usages and AkkaL4's
  # cluster-member usage, as `akkal4 cert create` makes one. Its key exists unprotected only inside the 0700
  # directory, and only until the PKCS#12 (protected by AKKAL4_TLS_CERT_PASSWORD) is written.
  AKKAL4_TLS_CERT_PASSWORD=$(value AKKAL4_TLS_CERT_PASSWORD) && export AKKAL4_TLS_CERT_PASSWORD
  trap 'rm -f "$dir/key.pem" "$dir/cert.pem"' EXIT
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=akkal4-compose" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth,clientAuth,2.25.139096495120150460239324983570819273742" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  openssl pkcs12 -export -inkey "$dir/key.pem" -in "$dir/cert.pem" -passout env:AKKAL4_TLS_CERT_PASSWORD -out "$cert"
  # The nodes run as the image's user (uid 1654), which reads it through its bind mount; on this host nobody but the
  # directory's owner reaches it (0700).
  chmod 644 "$cert"
  add AKKAL4_TLS_CERT_FILE "$cert"
fi
# A file written before (by hand, or under another umask) is tightened too: it holds the secrets.
chmod 600 "$file"
