# The akkal4 node image: build with the SDK, run on the ASP.NET runtime image.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Node/AkkaL4.Node.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app .
COPY examples /etc/akkal4/examples
ENTRYPOINT ["dotnet", "/app/akkal4.dll"]
CMD ["run", "-f", "/etc/akkal4/config"]
