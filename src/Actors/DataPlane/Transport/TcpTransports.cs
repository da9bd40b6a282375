using Akka.Actor;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>The transports <c>akkal4.data-plane.transport</c> can name.</summary>
public static class TcpTransports
{
    public const string Sockets = "sockets";
    public const string AkkaStreams = "akka-streams";

    public static IReadOnlyList<string> Names { get; } = [Sockets, AkkaStreams];

    /// <param name="places">The node's connection places: the stock transport's listeners queue connections they accept ahead only in one each.</param>
    /// <param name="inlineCompletions">The node's <c>relay-inline-completions</c>: accepts and plain connects complete inline too (sockets only).</param>
    public static ITcpTransport Create(ActorSystem system, string name, ConnectionBudget? places = null, bool inlineCompletions = false) => name switch
    {
        Sockets => new SocketTransport(system.Scheduler, inlineCompletions),
        AkkaStreams => new AkkaTcpTransport(system, places),
        _ => throw new ArgumentException($"akkal4.data-plane.transport: unknown transport \"{name}\"; expected one of: {string.Join(", ", Names)}"),
    };
}
