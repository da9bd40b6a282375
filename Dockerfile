# The akkal4 node image. With a registry: docker build -t akkal4 .
# Without one: deploy/offline-images.sh builds stand-ins for the two base images, then
#   docker build --network host --build-arg SDK_IMAGE=akkal4/sdk:10.0 --build-arg RUNTIME_IMAGE=akkal4/aspnet:10.0 -t akkal4 .
# (docker-compose.yml with deploy/docker-compose.offline.yml does the same).
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /src
# Restore first, from the project files alone, so a source change does not download packages again.
COPY Directory.Build.props Directory.Packages.props ./
COPY src/Messages/AkkaL4.Messages.csproj src/Messages/
COPY src/Actors/AkkaL4.Actors.csproj src/Actors/
COPY src/Node/AkkaL4.Node.csproj src/Node/
RUN dotnet restore src/Node/AkkaL4.Node.csproj
COPY cluster.hocon ./
COPY examples/seed examples/seed
COPY src src
RUN dotnet publish src/Node/AkkaL4.Node.csproj -c Release --no-restore -o /app

# The node needs the ASP.NET Core shared framework (its admin API): the aspnet image, not runtime.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=build /app .
COPY deploy/docker-entrypoint.sh deploy/healthcheck.sh /usr/local/bin/
COPY examples /etc/akkal4/examples
# The official .NET images' non-root user (uid 1654, also made by deploy/offline-images.sh); the data
# directory is the container's own (no volume: a replica's last-known-good is rebuilt from the cluster).
RUN mkdir -p -m 700 /var/lib/akkal4 && chown 1654:1654 /var/lib/akkal4
USER 1654
# Every `akkal4 run` option has an AKKAL4_* variable (see `akkal4 run --help`); these suit a container.
ENV AKKAL4_DATA=/var/lib/akkal4
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["healthcheck.sh"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["run"]
