#!/usr/bin/env bash
# Writes the compose file's one secret, a random AKKAL4_POSTGRES_PASSWORD, into an env file only its owner may read
# (0600); docker-compose.yml has no default password and refuses to start without one. Run it once before the first
# `up`: a password already in the file is kept (the journal volume was created with it), and none is ever printed.
#   deploy/compose-env.sh          # .env beside docker-compose.yml, which docker compose reads by itself
#   deploy/compose-env.sh FILE     # another file: docker compose --env-file FILE ...
# Across several hosts, run it on one and copy only its password line to the others (the file may hold per-host
# settings too: AKKAL4_HOST, labels, port), keeping it 0600; every host's nodes log in to the one journal with it,
# and a run on each host would write a different password there:
#   grep '^AKKAL4_POSTGRES_PASSWORD=' .env | ssh host2 'cd akkal4 && umask 077 && cat >> .env && chmod 600 .env'
set -eu
file=${1:-$(cd "$(dirname "$0")/.." && pwd)/.env}
umask 077
# A hand-written line counts too (`export ...`, leading spaces): a second, different password must never join it.
if [ -f "$file" ] && grep -Eq '^[[:space:]]*(export[[:space:]]+)?AKKAL4_POSTGRES_PASSWORD=.' "$file"; then
  echo "compose-env.sh: $file already sets AKKAL4_POSTGRES_PASSWORD: kept" >&2
else
  # A last line without its newline would otherwise swallow the new one (AKKAL4_HOST=...AKKAL4_POSTGRES_PASSWORD=...).
  if [ -s "$file" ] && [ -n "$(tail -c1 "$file")" ]; then echo >>"$file"; fi
  # Hex: nothing the connection string (Password=...;) or YAML would have to quote.
  printf 'AKKAL4_POSTGRES_PASSWORD=%s\n' "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >>"$file"
  echo "compose-env.sh: wrote a new AKKAL4_POSTGRES_PASSWORD to $file" >&2
fi
# A file written before (by hand, or under another umask) is tightened too: it holds the journal's password.
chmod 600 "$file"
