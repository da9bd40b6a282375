using System.Collections.Concurrent;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// Open connections of one upstream cluster, in all and per endpoint. A pick counts a connection in when it
/// assigns it; the connection counts itself out when it ends, however its router has fared since (restarted,
/// or replaced by a configuration change), so counts and maxConnections stay true. Picks run on many threads
/// at once: the total is reserved atomically against maxConnections before an endpoint is chosen.
/// </summary>
public sealed class ClusterLoad
{
    private readonly ConcurrentDictionary<string, EndpointLoad> _endpoints = new(StringComparer.Ordinal);
    private int _active;

    public EndpointLoad For(string endpoint) => _endpoints.GetOrAdd(endpoint, _ => new EndpointLoad(this));

    /// <summary>Reads without adding.</summary>
    public int ActiveOf(string endpoint) => _endpoints.TryGetValue(endpoint, out var load) ? load.Active : 0;

    public int Active => Volatile.Read(ref _active);

    /// <summary>Counts one more connection unless <paramref name="max"/> are open already.</summary>
    internal bool TryReserve(int? max)
    {
        if (max is not { } limit)
        {
            Interlocked.Increment(ref _active);
            return true;
        }
        var active = Volatile.Read(ref _active);
        while (true)
        {
            if (active >= limit) return false;
            var seen = Interlocked.CompareExchange(ref _active, active + 1, active);
            if (seen == active) return true;
            active = seen;
        }
    }

    /// <summary>Gives back a reservation no endpoint was found for.</summary>
    internal void Release() => Interlocked.Decrement(ref _active);
}

public sealed class EndpointLoad
{
    private readonly ClusterLoad _cluster;
    private int _active;

    internal EndpointLoad(ClusterLoad cluster) => _cluster = cluster;

    public int Active => Volatile.Read(ref _active);

    /// <summary>Takes on a connection whose place in the cluster's total is reserved already (<see cref="ClusterLoad.TryReserve"/>).</summary>
    internal void Opened() => Interlocked.Increment(ref _active);

    public void Closed()
    {
        Interlocked.Decrement(ref _active);
        _cluster.Release();
    }
}
