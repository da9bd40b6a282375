using Akka.Actor;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Routing.LoadBalancing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// One upstream cluster's endpoint pick, made by its <see cref="RouterActor"/> and published in
/// <see cref="UpstreamPickers"/> so that a connection picks on its own thread, as YARP's load-balancing
/// policies are called, instead of queueing in a mailbox. Thread-safe without a lock: what it reads is the
/// router's health (immutable states swapped whole), the open-connection counts (atomics) and a balancer that
/// is thread-safe; maxConnections is reserved atomically. The router stays the only writer of health.
/// </summary>
public sealed class ClusterPicker
{
    /// <summary>Endpoints viewed on the stack up to this many (a struct of 12 bytes each).</summary>
    private const int StackView = 128;

    private readonly ILoadBalancer _balancer;
    private readonly ClusterLoad _load;
    private readonly EndpointHealth[] _health;
    private readonly EndpointLoad[] _loads;
    private readonly string[] _names;
    /// <summary>Each endpoint's assignment, made once: every connection picked for it gets the same one.</summary>
    private readonly UpstreamAssigned[] _assigned;
    /// <summary>A newer snapshot's cluster of the same shape, seen last (clusters are compiled anew per snapshot).</summary>
    private UpstreamCluster? _sameShape;

    public UpstreamCluster Cluster { get; }
    public IActorRef Router { get; }

    public ClusterPicker(UpstreamCluster cluster, UpstreamHealth health, IActorRef router, ILoadBalancer? balancer = null)
    {
        Cluster = cluster;
        Router = router;
        _load = health.LoadOf(cluster);
        var endpoints = health.HealthOf(cluster);
        _names = cluster.Endpoints.Select(e => e.ToString()).ToArray();
        _health = _names.Select(endpoints.For).ToArray();
        _loads = _names.Select(_load.For).ToArray();
        _balancer = balancer ?? LoadBalancers.Create(cluster.Policy.LoadBalancer, cluster.Endpoints);
        _assigned = _names.Select((name, i) => new UpstreamAssigned(cluster, cluster.Endpoints[i], i, router, _loads[i], _health[i], name)).ToArray();
    }

    public IReadOnlyList<EndpointHealth> Endpoints => _health;

    /// <summary>The endpoints' names (address:port), in the cluster's order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Whether this picker serves <paramref name="cluster"/>: the same endpoints and policy, in whichever snapshot.</summary>
    public bool Serves(UpstreamCluster cluster)
    {
        if (ReferenceEquals(cluster, Cluster) || ReferenceEquals(cluster, Volatile.Read(ref _sameShape))) return true;
        if (!SameShape(Cluster, cluster)) return false;
        Volatile.Write(ref _sameShape, cluster);
        return true;
    }

    public static bool SameShape(UpstreamCluster a, UpstreamCluster b) =>
        a.Policy == b.Policy && a.Endpoints.SequenceEqual(b.Endpoints);

    /// <summary>
    /// An <see cref="UpstreamAssigned"/> (counted in: the connection counts itself out) or an <see cref="UpstreamRefused"/>
    /// (UO at maxConnections, UH when no endpoint is available). Endpoints in <paramref name="tried"/> are left out while
    /// another is available (a retry goes elsewhere).
    /// </summary>
    public object Pick(uint sourceHash, IReadOnlySet<string> tried)
    {
        var max = Cluster.Policy.MaxConnections;
        if (!_load.TryReserve(max))
            return new UpstreamRefused(ResponseFlags.UpstreamOverflow, Cluster.Name, $"maxConnections {max} reached");
        var view = _health.Length <= StackView ? stackalloc EndpointState[_health.Length] : new EndpointState[_health.Length];
        View(view, tried);
        var index = _balancer.Pick(view, sourceHash);
        if (index < 0)
        {
            _load.Release();
            return new UpstreamRefused(ResponseFlags.NoHealthyUpstream, Cluster.Name, _health.Length == 0 ? Cluster.Detail : NoneRoutable());
        }
        _loads[index].Opened();
        return _assigned[index];
    }

    /// <summary>What the balancer sees: routable endpoints, or all of them in panic; tried ones left out while another is left.</summary>
    private void View(Span<EndpointState> view, IReadOnlySet<string> tried)
    {
        var routable = 0;
        for (var i = 0; i < view.Length; i++)
        {
            var ok = _health[i].State.Routable;
            if (ok) routable++;
            view[i] = new EndpointState { Weight = Cluster.Endpoints[i].Weight, Active = _loads[i].Active, Ejected = !ok };
        }
        if (PanicPolicy.InPanic(routable, view.Length, Cluster.Policy.Outlier))
            for (var i = 0; i < view.Length; i++) view[i].Ejected = false;
        if (tried.Count == 0) return;
        var untried = 0;
        for (var i = 0; i < view.Length; i++)
            if (view[i].Available && !tried.Contains(_names[i])) untried++;
        if (untried == 0) return;
        for (var i = 0; i < view.Length; i++)
            if (tried.Contains(_names[i])) view[i].Tried = true;
    }

    private string NoneRoutable()
    {
        int ejected = 0, failing = 0;
        foreach (var e in _health)
        {
            if (e.State.Check == CheckVerdict.Unhealthy) failing++;
            else if (e.State.Ejected) ejected++;
        }
        return (ejected, failing) switch
        {
            (_, 0) => $"every endpoint is ejected ({ejected})",
            (0, _) => $"every endpoint fails its health check ({failing})",
            _ => $"no endpoint is routable: {ejected} ejected, {failing} failing health checks",
        };
    }
}
