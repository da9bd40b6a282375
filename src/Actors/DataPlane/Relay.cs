using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Implementation.Fusing;
using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Actors.DataPlane;

/// <summary>Joins a client and an upstream connection through a <see cref="RelayStage"/> and runs them: one graph per connection.</summary>
internal static class Relay
{
    /// <summary>
    /// Client socket, relay, upstream socket, fused once: fusing a graph cost more than a sixth of a
    /// connection's CPU, so connections of the socket transport materialise this with their own
    /// <see cref="RelayParts"/> instead of building and fusing a graph each.
    /// </summary>
    private static readonly Akka.Streams.Fusing.FusedGraph<ClosedShape, RelayStage.Control> Sockets = Fusing.Aggressive(
        Flow.FromGraph(new SocketStage(a => Parts(a).Client!))
            .JoinMaterialized(BidiFlow.FromGraph(new RelayStage(null)).Join(Flow.FromGraph(new SocketStage(a => Parts(a).Upstream!))), Keep.Right));

    private static RelayParts Parts(Attributes attributes) =>
        attributes.GetAttribute<RelayParts>() ?? throw new InvalidOperationException("a relay needs its RelayParts");

    public static RelayStage.Control Run(TcpConnection client, TcpConnection upstream, RelayParts parts, IMaterializer materializer) =>
        client.Socket is { } clientSocket && upstream.Socket is { } upstreamSocket
            // Still a FusedGraph with the attributes on (the materializer fuses anything else again).
            ? materializer.Materialize(Sockets.WithAttributes(new Attributes(parts with { Client = clientSocket, Upstream = upstreamSocket })))
            : client.Flow.JoinMaterialized(BidiFlow.FromGraph(new RelayStage(parts)).Join(upstream.Flow), Keep.Right).Run(materializer);
}
