using Akka.Actor;
using Akka.Streams;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Upstreams;

namespace AkkaL4.Actors.DataPlane;

/// <summary>What every listener and connection actor of a node shares.</summary>
public sealed record NodeDataPlane(
    LiveRoutes Routes,
    IActorRef Routers,
    UpstreamPickers Pickers,
    ITcpTransport Transport,
    DataPlaneSettings Settings,
    DataPlaneMetrics Metrics,
    IMaterializer Materializer,
    Relays Relays,
    ConnectionBudget Connections)
{
    /// <summary>Where connections put their access-log entries (by default: nowhere, and no observer).</summary>
    public AccessLogSink AccessLog { get; init; } = new(null);
}
