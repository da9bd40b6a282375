using System.Collections.Immutable;
using System.Net;
using Akka.Configuration;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.DataPlane;

/// <summary>The <c>akkal4.data-plane</c> section of cluster.hocon.</summary>
public sealed record DataPlaneSettings(int MaxConnectAttempts, int ListenBacklog, TimeSpan BindRetry, TimeSpan BindRetryMax, string Transport,
    TimeSpan DrainTimeout, int MaxConnections, int MaxConnectionsPerListener, TimeSpan PreambleTimeout, int MaxClientHello, bool AcceptProxyProtocol,
    ImmutableArray<IpNet> ProxyProtocolTrustedSources, int MaxConnectionsPerSource, int DescriptorReserve)
{
    public const string DescriptorReserveKey = "akkal4.data-plane.descriptor-reserve";

    public const string TrustedSourcesKey = "akkal4.data-plane.proxy-protocol-trusted-sources";

    public const string MaxPendingKey = "akkal4.data-plane.max-pending-connections";
    public const string PendingTimeoutKey = "akkal4.data-plane.pending-timeout";

    /// <summary>
    /// Per listener, connections accepted and not yet dialling (nor reading their preamble) at which it stops accepting until
    /// one leaves (<see cref="PendingConnections"/>); 0: no limit.
    /// </summary>
    public int MaxPendingConnections { get; init; }

    /// <summary>
    /// The longest a connection may wait in the node between its accept and its actor's start; one that waited longer is
    /// closed (OM) without dialling (<see cref="TimeSpan.Zero"/>: no limit).
    /// </summary>
    public TimeSpan PendingTimeout { get; init; }

    /// <summary>SO_REUSEPORT on every listener (replicas on one host sharing addresses); off, only where the node's own need it (Transport/OwnListeners).</summary>
    public bool ReusePort { get; init; }

    /// <summary>Socket relays, listeners' accepts and plain upstreams' connects run on the runtime's socket event threads (<see cref="Transport.InlineCompletions"/>).</summary>
    public bool RelayInlineCompletions { get; init; }

    /// <summary>Where DestinationRules' TLS files may be read (<see cref="DataPlane.TlsFileRoots"/>).</summary>
    public ImmutableArray<string> TlsRoots { get; init; } = [];

    /// <summary>
    /// Whether a PROXY header from <paramref name="peer"/> (the connection's own peer, never a header's claim) may be
    /// believed: only load balancers in <see cref="ProxyProtocolTrustedSources"/> may say who the client is.
    /// </summary>
    public bool TrustsProxyProtocolFrom(IPAddress peer)
    {
        var key = IpKey.From(peer);
        foreach (var net in ProxyProtocolTrustedSources)
            if (net.Contains(key)) return true;
        return false;
    }

    /// <summary>Overrides <c>akkal4.data-plane.transport</c> (used to run the test suite on each transport).</summary>
    public const string TransportVariable = "AKKAL4_TRANSPORT";

    public static DataPlaneSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("akkal4.data-plane");
        return new DataPlaneSettings(
            Math.Max(1, c.GetInt("max-connect-attempts", 3)),
            c.GetInt("listen-backlog", 1024),
            c.GetTimeSpan("bind-retry", TimeSpan.FromSeconds(1)),
            c.GetTimeSpan("bind-retry-max", TimeSpan.FromSeconds(30)),
            Environment.GetEnvironmentVariable(TransportVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : c.GetString("transport", DataPlane.Transport.TcpTransports.Sockets),
            // No defaults in code for these: the built-in cluster.hocon is always the fallback.
            c.GetTimeSpan("drain-timeout", null),
            c.GetInt("max-connections"),
            c.GetInt("max-connections-per-listener"),
            c.GetTimeSpan("preamble-timeout", null),
            (int)Math.Clamp(c.GetByteSize("max-client-hello") ?? 0, 256, 1 << 20),
            c.GetBoolean("accept-proxy-protocol"),
            TrustedSources(c),
            c.GetInt("max-connections-per-source"),
            Reserve(c))
        {
            ReusePort = c.GetBoolean("reuse-port"), RelayInlineCompletions = c.GetBoolean("relay-inline-completions"), TlsRoots = DataPlane.TlsFileRoots.From(config),
            MaxPendingConnections = NotNegative(MaxPendingKey, c.GetInt("max-pending-connections")),
            PendingTimeout = NotNegative(PendingTimeoutKey, c.GetTimeSpan("pending-timeout", null)),
        };
    }

    /// <exception cref="ConfigurationException">A negative limit (0 is none).</exception>
    private static T NotNegative<T>(string key, T value) where T : IComparable<T> =>
        value.CompareTo(default) >= 0 ? value : throw new ConfigurationException($"{key} = {value}: must not be negative (0: no limit)");

    /// <exception cref="ConfigurationException">The reserve is too small to keep the process alive.</exception>
    private static int Reserve(Akka.Configuration.Config c)
    {
        var reserve = c.GetInt("descriptor-reserve");
        if (reserve < DescriptorBudget.MinReserve)
            throw new ConfigurationException($"{DescriptorReserveKey} = {reserve}: at least {DescriptorBudget.MinReserve} descriptors must stay free for the "
                                             + "runtime (it needs some to start a thread or load an assembly, and dies without), the admin API and the cluster");
        return reserve;
    }

    /// <exception cref="ConfigurationException">An entry is no CIDR, or PROXY headers are accepted with nobody trusted to send them.</exception>
    private static ImmutableArray<IpNet> TrustedSources(Akka.Configuration.Config c)
    {
        var nets = ImmutableArray.CreateBuilder<IpNet>();
        foreach (var entry in c.GetStringList("proxy-protocol-trusted-sources", []))
        {
            if (!IpNet.TryParse(entry.Trim(), out var net)) throw new ConfigurationException($"{TrustedSourcesKey}: {IpNet.Refusal(entry)}");
            nets.Add(net);
        }
        // Fail closed and loud: with nobody trusted every gateway connection would be refused, and trusting everybody
        // silently is what the setting exists to prevent (0.0.0.0/0 and ::/0 say that explicitly).
        if (c.GetBoolean("accept-proxy-protocol") && nets.Count == 0)
            throw new ConfigurationException($"akkal4.data-plane.accept-proxy-protocol is on but {TrustedSourcesKey} is empty: "
                                             + "name the load balancers allowed to send PROXY headers (CIDRs; --proxy-protocol-trusted-sources)");
        return nets.ToImmutable();
    }
}

/// <summary>
/// The node's connections, shared by every listener: the cap (0 = none) on connections admitted, and the descriptors'
/// places. A listener takes a place (<see cref="TryReserve"/>) before it asks for the next connection, so listeners
/// admitting at once cannot together pass the room; the connection keeps it until it ends (<see cref="Release"/>), or
/// it is given back (<see cref="Unreserve"/>) if no connection used it. A listener's accept stream holds a place of its
/// own (<see cref="TryReserveStream"/>) from before it binds to its unbinding; while a stream waits for one, connections
/// leave a place free for it (<see cref="WaitForStream"/>), else on a node at its room they would take every freed one.
/// </summary>
public sealed class ConnectionBudget(int max, DescriptorBudget descriptors)
{
    private int _open;
    /// <summary>Descriptor places taken: the connections admitted, the listeners' places for the next one and their streams'.</summary>
    private int _places;
    private int _streams;
    private int _waitingStreams;

    /// <summary>Connections admitted and not ended.</summary>
    public int Open => Volatile.Read(ref _open);
    /// <summary>Places taken: <see cref="Open"/>, <see cref="Streams"/> and at most one per running listener (its next connection's).</summary>
    public int Places => Volatile.Read(ref _places);
    /// <summary>Places held by listeners' accept streams.</summary>
    public int Streams => Volatile.Read(ref _streams);
    /// <summary>Listeners' accept streams waiting for a place.</summary>
    public int WaitingStreams => Volatile.Read(ref _waitingStreams);
    public DescriptorBudget Descriptors => descriptors;

    /// <summary>Takes a place for one connection if the descriptors leave room for it and the streams waiting (one compare-and-swap); false: none.</summary>
    public bool TryReserve() => Reserve(WaitingStreams);

    /// <summary>
    /// Takes a place for a connection the stock transport accepted ahead of its listener (queued for it), leaving one free
    /// beside those the waiting streams need, so a listener can still take the place it asks with; false: none (the stream
    /// closes the connection). Given back with <see cref="Unreserve"/> as the connection leaves the queue.
    /// </summary>
    public bool TryReserveAhead() => Reserve(WaitingStreams + 1);

    /// <summary>Takes a place for a listener's accept stream (before connections: none is left free for others); false: none.</summary>
    public bool TryReserveStream()
    {
        if (!Reserve(0)) return false;
        Interlocked.Increment(ref _streams);
        return true;
    }

    private bool Reserve(int leaveFree)
    {
        while (true)
        {
            var places = Volatile.Read(ref _places);
            if (!descriptors.Room(places + leaveFree, Open, Streams)) return false;
            if (Interlocked.CompareExchange(ref _places, places + 1, places) == places) return true;
        }
    }

    /// <summary>Gives back a place no connection used.</summary>
    public void Unreserve() => Interlocked.Decrement(ref _places);

    /// <summary>Gives back an accept stream's place (its listener unbound or stopped).</summary>
    public void UnreserveStream()
    {
        Interlocked.Decrement(ref _streams);
        Interlocked.Decrement(ref _places);
    }

    /// <summary>An accept stream began (true) or stopped (false) waiting for a place.</summary>
    public void WaitForStream(bool waiting)
    {
        if (waiting) Interlocked.Increment(ref _waitingStreams);
        else Interlocked.Decrement(ref _waitingStreams);
    }

    /// <summary>Admits a connection that holds a place; false (the place still held) when the node is at its cap.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _open) <= max || max <= 0) return true;
        Interlocked.Decrement(ref _open);
        return false;
    }

    /// <summary>An admitted connection ended: its place is free.</summary>
    public void Release()
    {
        Interlocked.Decrement(ref _open);
        Interlocked.Decrement(ref _places);
    }

    /// <summary>
    /// Why the descriptors leave no room for a connection beside every running listener's stream place (the limit read
    /// again if due), or null.
    /// </summary>
    public string? NoRoom()
    {
        descriptors.Refresh(Places, Open, Streams);
        return descriptors.NoRoom(Streams + WaitingStreams);
    }
}
