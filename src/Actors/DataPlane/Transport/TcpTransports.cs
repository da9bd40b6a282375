using Akka.Actor;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>The transports <c>akkal4.data-plane.transport</c> can name.</summary>
public static class TcpTransports
{
    public const string Sockets = "sockets";
    public const string AkkaStreams = "akka-streams";

    public static IReadOnlyList<string> Names { get; } = [Sockets, AkkaStreams];

    public static ITcpTransport Create(ActorSystem system, string name) => name switch
    {
        Sockets => new SocketTransport(system.Scheduler),
        AkkaStreams => new AkkaTcpTransport(system),
        _ => throw new ArgumentException($"akkal4.data-plane.transport: unknown transport \"{name}\"; expected one of: {string.Join(", ", Names)}"),
    };
}
