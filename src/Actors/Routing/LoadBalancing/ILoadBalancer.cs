namespace AkkaL4.Actors.Routing.LoadBalancing;

/// <summary>
/// The state of one endpoint that balancers read: its weight, open connections, whether it is ejected, and whether
/// this connection already tried it (a retry goes elsewhere; unlike an ejection it says nothing of the endpoint).
/// </summary>
public struct EndpointState
{
    public int Weight;
    public int Active;
    public bool Ejected;
    public bool Tried;

    /// <summary>Serving connections at all: what a shared rotation is built from.</summary>
    public readonly bool Serving => !Ejected && Weight > 0;
    /// <summary>A candidate for this pick.</summary>
    public readonly bool Available => Serving && !Tried;
}

/// <summary>
/// Picks an endpoint of one cluster for a new connection. One class per DestinationRule
/// <c>loadBalancer</c> policy. Thread-safe: a cluster's picker calls it from every connection's thread at once.
/// </summary>
public interface ILoadBalancer
{
    /// <summary>The index of the chosen endpoint, or -1 when none is available.</summary>
    int Pick(ReadOnlySpan<EndpointState> endpoints, uint sourceHash);
}

public static class LoadBalancers
{
    public static ILoadBalancer Create(LoadBalancerKind kind, IReadOnlyList<UpstreamEndpoint> endpoints, Random? random = null) => kind switch
    {
        LoadBalancerKind.RoundRobin => new RoundRobinBalancer(),
        LoadBalancerKind.Random => new RandomBalancer(random ?? Random.Shared),
        LoadBalancerKind.SourceIpHash => new SourceIpHashBalancer(endpoints.Select(e => e.ToString()).ToArray()),
        // Passthrough connects to the original destination; its endpoint list is not consulted.
        _ => new LeastRequestBalancer(random ?? Random.Shared),
    };

    internal static int CountAvailable(ReadOnlySpan<EndpointState> endpoints)
    {
        var n = 0;
        foreach (var e in endpoints) if (e.Available) n++;
        return n;
    }

    /// <summary>The index of the <paramref name="k"/>-th available endpoint.</summary>
    internal static int NthAvailable(ReadOnlySpan<EndpointState> endpoints, int k)
    {
        for (var i = 0; i < endpoints.Length; i++)
            if (endpoints[i].Available && k-- == 0) return i;
        return -1;
    }

    /// <summary>A stable 32-bit hash (FNV-1a) of a client address, for consistent hashing.</summary>
    public static uint HashOf(IpKey address)
    {
        var h = 2166136261u;
        var bits = address.Bits;
        for (var i = 0; i < 16; i++) { h = (h ^ (byte)bits) * 16777619u; bits >>= 8; }
        return h;
    }
}
