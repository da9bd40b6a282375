using System.Collections.Concurrent;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// Open connections per endpoint of one upstream cluster. The router counts a connection in when it
/// assigns it; the connection counts itself out when it ends, however its router has fared since
/// (restarted, or replaced by a configuration change), so counts and maxConnections stay true.
/// </summary>
public sealed class ClusterLoad
{
    private readonly ConcurrentDictionary<string, EndpointLoad> _endpoints = new(StringComparer.Ordinal);

    public EndpointLoad For(string endpoint) => _endpoints.GetOrAdd(endpoint, _ => new EndpointLoad());

    /// <summary>Reads without adding.</summary>
    public int ActiveOf(string endpoint) => _endpoints.TryGetValue(endpoint, out var load) ? load.Active : 0;

    public int Active
    {
        get
        {
            var total = 0;
            foreach (var (_, load) in _endpoints) total += load.Active;
            return total;
        }
    }
}

public sealed class EndpointLoad
{
    private int _active;

    public int Active => Volatile.Read(ref _active);
    public void Opened() => Interlocked.Increment(ref _active);
    public void Closed() => Interlocked.Decrement(ref _active);
}
