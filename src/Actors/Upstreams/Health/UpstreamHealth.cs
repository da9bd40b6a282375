using System.Collections.Concurrent;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>The health of one upstream cluster's endpoints, by endpoint (<c>address:port</c>).</summary>
public sealed class ClusterHealth
{
    private readonly ConcurrentDictionary<string, EndpointHealth> _endpoints = new(StringComparer.Ordinal);

    public EndpointHealth For(string endpoint) => _endpoints.GetOrAdd(endpoint, e => new EndpointHealth(e));

    /// <summary>Reads without adding: an endpoint never seen is in its initial state.</summary>
    public EndpointHealthState StateOf(string endpoint) =>
        _endpoints.TryGetValue(endpoint, out var health) ? health.State : EndpointHealthState.Initial;

    /// <summary>Forgets endpoints the cluster no longer has.</summary>
    internal void Retain(IReadOnlyCollection<string> endpoints)
    {
        foreach (var key in _endpoints.Keys)
            if (!endpoints.Contains(key)) _endpoints.TryRemove(key, out _);
    }
}

/// <summary>
/// A node's upstream health and load, kept apart from the router actors so that a restarted router, or
/// one replaced by a configuration change, goes on with what its predecessor knew (ejections, check
/// verdicts, open connections), as Envoy keeps a host's health across cluster updates. Thread-safe: the
/// admin API and explain read it while routers write.
/// </summary>
public sealed class UpstreamHealth
{
    // Health by cluster id (one router writes each); load by cluster name (maxConnections counts every connection to the name).
    private readonly ConcurrentDictionary<string, ClusterHealth> _health = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClusterLoad> _loads = new(StringComparer.Ordinal);

    public ClusterHealth HealthOf(UpstreamCluster cluster) => _health.GetOrAdd(cluster.Id, _ => new ClusterHealth());

    public ClusterLoad LoadOf(UpstreamCluster cluster) => _loads.GetOrAdd(cluster.Name, _ => new ClusterLoad());

    /// <summary>
    /// Forgets the health of clusters and endpoints no longer in force (a cluster that comes back starts afresh, as
    /// in Envoy). Loads stay: connections still open count themselves out of them.
    /// </summary>
    public void Retain(IEnumerable<UpstreamCluster> inForce)
    {
        var clusters = inForce.ToDictionary(c => c.Id, c => c.Endpoints.Select(e => e.ToString()).ToHashSet(StringComparer.Ordinal));
        foreach (var (id, health) in _health)
        {
            if (clusters.TryGetValue(id, out var endpoints)) health.Retain(endpoints);
            else _health.TryRemove(id, out _);
        }
    }

    /// <summary>Every routable cluster of <paramref name="routes"/>, in its order; endpoints never seen yet show as healthy.</summary>
    public IReadOnlyList<ClusterHealthSnapshot> Snapshot(RouteSnapshot routes) =>
        routes.Clusters.Where(c => c.Status == ClusterStatus.Ok).Select(Snapshot).ToList();

    public ClusterHealthSnapshot Snapshot(UpstreamCluster cluster) =>
        Snapshot(cluster, _health.GetValueOrDefault(cluster.Id) ?? new ClusterHealth(), _loads.GetValueOrDefault(cluster.Name) ?? new ClusterLoad());

    public static ClusterHealthSnapshot Snapshot(UpstreamCluster cluster, ClusterHealth health, ClusterLoad load)
    {
        var policy = cluster.Policy;
        var checks = policy.HealthCheck is not null;
        var endpoints = new List<EndpointHealthSnapshot>(cluster.Endpoints.Count);
        var routable = 0;
        foreach (var e in cluster.Endpoints)
        {
            var name = e.ToString();
            var state = health.StateOf(name);
            if (state.Routable) routable++;
            endpoints.Add(EndpointHealthSnapshot.Of(name, state, load.ActiveOf(name), checks));
        }
        return new ClusterHealthSnapshot(cluster.Name, cluster.Id, PanicPolicy.InPanic(routable, endpoints.Count, policy.Outlier),
            policy.Outlier?.ToString(), policy.HealthCheck?.ToString(), endpoints);
    }
}
