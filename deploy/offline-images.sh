#!/usr/bin/env bash
# Builds, without any container registry, the base images the Dockerfile and docker-compose.yml
# need, from Debian packages and this machine's .NET SDK:
#   akkal4/aspnet:10.0    stands in for mcr.microsoft.com/dotnet/aspnet:10.0 (Debian bookworm minbase +
#                         the .NET and ASP.NET Core runtimes of the local SDK, user app = 1654)
#   akkal4/sdk:10.0       stands in for mcr.microsoft.com/dotnet/sdk:10.0 (the same + the whole local SDK)
#   akkal4/postgres:15    stands in for postgres:15 (Debian's postgresql, the official image's variables)
# Then: docker-compose -f docker-compose.yml -f deploy/docker-compose.offline.yml up -d --build --scale router=3
# Images that already exist are kept (--force rebuilds them). Needs root (debootstrap), debootstrap,
# a Docker engine (DOCKER_HOST) and dotnet on PATH. AKKAL4_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail
cd "$(dirname "$0")"

force=false
[ "${1:-}" = "--force" ] && force=true
mirror=${AKKAL4_DEBIAN_MIRROR:-http://deb.debian.org/debian}
have() { ! $force && docker image inspect "$1" >/dev/null 2>&1; }

if have akkal4/aspnet:10.0 && have akkal4/sdk:10.0 && have akkal4/postgres:15; then
  echo "offline-images: akkal4/aspnet:10.0, akkal4/sdk:10.0 and akkal4/postgres:15 exist (--force rebuilds them)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "offline-images: debootstrap is required (apt-get install debootstrap)" >&2; exit 1; }
docker info >/dev/null || { echo "offline-images: no Docker engine at ${DOCKER_HOST:-the default socket}" >&2; exit 1; }
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
[ -d "$dotnet_root/shared/Microsoft.AspNetCore.App" ] || { echo "offline-images: no .NET SDK with the ASP.NET Core runtime at $dotnet_root" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
start=$SECONDS
echo "offline-images: debootstrap bookworm from $mirror"
# ca-certificates and libssl3 as in the official runtime images (TLS); libgssapi-krb5-2 spares Npgsql its
# "cannot load libgssapi_krb5" line; tzdata for local times in logs.
debootstrap --variant=minbase --include=ca-certificates,libssl3,libgssapi-krb5-2,tzdata bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# The official .NET images' non-root user.
chroot "$rootfs" useradd --uid 1654 --user-group --create-home --shell /bin/sh app
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
echo "offline-images: debootstrap took $((SECONDS - start)) s"

# The Debian root plus the given parts of the local .NET install under /usr/share/dotnet, as one image.
# DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: there is no libicu in the base (the node is built invariant too).
import_dotnet() { # image, parts... [--change INSTRUCTION]...
  local image=$1 parts=() changes=(); shift
  while [ $# -gt 0 ]; do
    if [ "$1" = --change ]; then changes+=(--change "$2"); shift 2; else parts+=("./$1"); shift; fi
  done
  tar -C "$rootfs" -cf "$work/root.tar" .
  tar -C "$dotnet_root" -rf "$work/root.tar" --transform='s|^\./|./usr/share/dotnet/|' "${parts[@]}"
  docker import "${changes[@]}" \
    --change 'ENV PATH=/usr/share/dotnet:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV DOTNET_ROOT=/usr/share/dotnet' \
    --change 'ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1' \
    --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1' \
    --change 'ENV DOTNET_NOLOGO=1' \
    --change 'ENV APP_UID=1654' \
    --change 'CMD ["bash"]' \
    "$work/root.tar" "$image" >/dev/null
  rm -f "$work/root.tar"
  echo "offline-images: $image"
}
have akkal4/aspnet:10.0 || import_dotnet akkal4/aspnet:10.0 dotnet host shared

# PostgreSQL: Debian's package on the same root, fetched over the host's network (the engine has no bridge).
if ! have akkal4/postgres:15; then
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - akkal4/debian:bookworm >/dev/null
  docker build --network host -q -t akkal4/postgres:15 postgres >/dev/null
  echo "offline-images: akkal4/postgres:15"
fi

# The build stage restores NuGet packages over the host's network: it trusts what this machine trusts
# (a TLS-intercepting proxy's root, say) and checks revocation as this machine is told to.
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
have akkal4/sdk:10.0 || import_dotnet akkal4/sdk:10.0 dotnet host shared sdk sdk-manifests packs \
  ${NUGET_CERT_REVOCATION_MODE:+--change "ENV NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE"}
echo "offline-images: done in $((SECONDS - start)) s"
