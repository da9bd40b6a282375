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
#                              node uses as its --tls-cert, so remoting is mutual TLS and only holders of it can join;
#                              for the default .env it is written relative to the compose file (./.env.secrets/...), so
#                              the checkout may move
# Everything is checked before anything is written: a certificate named without its password (or the reverse), a
# password that does not open it, or a certificate left behind without the line naming it is refused, not repaired.
# Across several hosts, run it on one and copy its secret lines and the certificate to the others (the file may hold
# per-host settings too: AKKAL4_HOST, labels, port), keeping them 0600/0700; a run on each host would make another
# password (which the one journal refuses) and another cluster CA (which the other hosts' nodes refuse):
#   grep -E '^AKKAL4_(POSTGRES_PASSWORD|ADMIN_TOKEN|TLS_CERT_PASSWORD)=' .env | ssh host2 'cd akkal4 && umask 077 && cat >> .env && chmod 600 .env'
#   ssh host2 'cd akkal4 && mkdir -p .env.secrets && chmod 700 .env.secrets' && scp -p .env.secrets/cluster.p12 host2:akkal4/.env.secrets/
#   ssh host2 'cd akkal4 && echo "AKKAL4_TLS_CERT_FILE=./.env.secrets/cluster.p12" >> .env'
# A new certificate (before it expires, or if a copy leaked): remove the file and its two lines, run this again, copy
# it to every host, and recreate every node (`docker-compose up -d --force-recreate --scale router=N`): old and new
# refuse each other, so the whole cluster is down while they restart.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-$root/.env}
case $file in /*) ;; *) file=$PWD/$file ;; esac
umask 077
die() { echo "compose-env.sh: $*" >&2; exit 1; }

# Whether the file sets NAME; a hand-written line counts too (`export ...`, leading spaces): a second, different value
# must never join it.
has() { [ -f "$file" ] && grep -Eq "^[[:space:]]*(export[[:space:]]+)?$1=." "$file"; }
# Its value as compose reads it: without a CR, a trailing " # comment" or one pair of surrounding quotes.
value() {
  sed -nE "s/^[[:space:]]*(export[[:space:]]+)?$1=//p" "$file" | tail -n 1 | tr -d '\r' | sed -E 's/[[:space:]]+#.*$//' \
    | sed -E "s/^\"(.*)\"$/\\1/; s/^'(.*)'$/\\1/"
}
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

# ---- checks, before anything is written ----
[ ! -L "$file" ] || die "$file is a symbolic link: give the file itself"
[ ! -e "$file" ] || [ -O "$file" ] || die "$file belongs to another user: it would hold your secrets"
# The default .env's certificate is named relative to the compose file, as compose resolves it; another FILE's absolutely.
if [ "$file" = "$root/.env" ]; then dir=$root/.env.secrets named=./.env.secrets/cluster.p12; else dir=$file.secrets named=$file.secrets/cluster.p12; fi
case $named in *[:\$#\ ]*) die "the certificate's path $named has a space, ':', '\$' or '#', which compose reads otherwise: give FILE another place" ;; esac
make_cert=false
if has AKKAL4_TLS_CERT_FILE; then
  cert=$(value AKKAL4_TLS_CERT_FILE)
  case $cert in /*) path=$cert ;; *) path=$root/$cert ;; esac
  [ -f "$path" ] || die "$file names AKKAL4_TLS_CERT_FILE=$cert, which does not exist (or is not a file)"
  has AKKAL4_TLS_CERT_PASSWORD || die "$file names AKKAL4_TLS_CERT_FILE but not AKKAL4_TLS_CERT_PASSWORD, the password that opens it: copy that line too"
  if command -v openssl >/dev/null; then
    AKKAL4_TLS_CERT_PASSWORD=$(value AKKAL4_TLS_CERT_PASSWORD) openssl pkcs12 -in "$path" -noout -passin env:AKKAL4_TLS_CERT_PASSWORD 2>/dev/null \
      || die "AKKAL4_TLS_CERT_PASSWORD in $file does not open $cert"
  fi
else
  has AKKAL4_TLS_CERT_PASSWORD && die "$file sets AKKAL4_TLS_CERT_PASSWORD but names no AKKAL4_TLS_CERT_FILE: add the certificate's line, or remove the password's to make a new one"
  [ ! -e "$dir/cluster.p12" ] || die "$dir/cluster.p12 exists but $file does not name it: move it away, or add AKKAL4_TLS_CERT_FILE and AKKAL4_TLS_CERT_PASSWORD lines for it"
  [ ! -e "$dir" ] || { [ -d "$dir" ] && [ ! -L "$dir" ] && [ -O "$dir" ]; } || die "$dir is not a directory of yours"
  command -v openssl >/dev/null || die "openssl is required to make the remoting certificate (apt-get install openssl)"
  make_cert=true
fi

# ---- writes ----
secret AKKAL4_POSTGRES_PASSWORD 24
secret AKKAL4_ADMIN_TOKEN 32
if $make_cert; then
  add AKKAL4_TLS_CERT_PASSWORD "$(random 24)"
  mkdir -p "$dir" && chmod 700 "$dir"
  # A cluster CA, usable as every node's certificate (README, "Security"): CA, both TLS usages and AkkaL4's
  # cluster-member usage, as `akkal4 cert create` makes one. Its key exists unprotected only inside the 0700
  # directory, and only until the PKCS#12 (protected by AKKAL4_TLS_CERT_PASSWORD, AES-256) is written.
  AKKAL4_TLS_CERT_PASSWORD=$(value AKKAL4_TLS_CERT_PASSWORD) && export AKKAL4_TLS_CERT_PASSWORD
  trap 'rm -f "$dir/key.pem" "$dir/cert.pem" "$dir/openssl.log"' EXIT
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=akkal4-compose" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth,clientAuth,2.25.139096495120150460239324983570819273742" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>"$dir/openssl.log" \
  && openssl pkcs12 -export -inkey "$dir/key.pem" -in "$dir/cert.pem" -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 \
    -passout env:AKKAL4_TLS_CERT_PASSWORD -out "$dir/cluster.p12" 2>>"$dir/openssl.log" \
  || { cat "$dir/openssl.log" >&2; rm -f "$dir/cluster.p12"; die "openssl could not make the certificate (above); nothing more was written"; }
  # The nodes run as the image's user (uid 1654), which reads it through its bind mount; on this host nobody but the
  # directory's owner reaches it (0700).
  chmod 644 "$dir/cluster.p12"
  add AKKAL4_TLS_CERT_FILE "$named"
else
  echo "compose-env.sh: $file already sets AKKAL4_TLS_CERT_FILE and AKKAL4_TLS_CERT_PASSWORD: kept" >&2
fi
# A file written before (by hand, or under another umask) is tightened too: it holds the secrets.
chmod 600 "$file"
