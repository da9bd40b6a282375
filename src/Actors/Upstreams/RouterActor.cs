using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Routing.LoadBalancing;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// One upstream cluster's live state: the load balancer, active connections per endpoint,
/// <c>maxConnections</c>, and outlier ejection (consecutive connect failures eject an endpoint for
/// baseEjectionTime × times ejected, within maxEjectionPercent). Built from the snapshot's
/// <see cref="UpstreamCluster"/>, so a restart rebuilds it from configuration.
/// </summary>
public sealed class RouterActor : ReceiveActor
{
    private readonly UpstreamCluster _cluster;
    private readonly ILoadBalancer _balancer;
    private readonly EndpointState[] _state;
    private readonly int[] _consecutiveFailures;
    private readonly int[] _timesEjected;
    private readonly DateTime[] _ejectedUntil;
    private readonly Func<DateTime> _clock;
    private readonly DataPlaneMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterLoad _load;
    private readonly EndpointLoad[] _endpointLoads;

    public static Props Props(UpstreamCluster cluster, ClusterLoad load, DataPlaneMetrics metrics, Func<DateTime>? clock = null) =>
        Akka.Actor.Props.Create(() => new RouterActor(cluster, load, metrics, clock ?? (() => DateTime.UtcNow)));

    public RouterActor(UpstreamCluster cluster, ClusterLoad load, DataPlaneMetrics metrics, Func<DateTime> clock)
    {
        _cluster = cluster;
        _load = load;
        _endpointLoads = cluster.Endpoints.Select(e => load.For(e.ToString())).ToArray();
        _metrics = metrics;
        _clock = clock;
        _balancer = LoadBalancers.Create(cluster.Policy.LoadBalancer, cluster.Endpoints);
        _state = cluster.Endpoints.Select(e => new EndpointState { Weight = e.Weight }).ToArray();
        _consecutiveFailures = new int[_state.Length];
        _timesEjected = new int[_state.Length];
        _ejectedUntil = new DateTime[_state.Length];

        Receive<PickUpstream>(Pick);
        Receive<ConnectOutcome>(Outcome);
        Receive<FailRouter>(f => throw new InvalidOperationException($"fault injected into router {f.ClusterId}"));
        Receive<GetRouterState>(_ => Sender.Tell(new RouterState(_cluster.Id,
            _cluster.Endpoints.Select((e, i) => (e.ToString(), _endpointLoads[i].Active, _state[i].Ejected)).ToList())));
    }

    private void Pick(PickUpstream request)
    {
        if (_cluster.Policy.MaxConnections is { } max && _load.Active >= max)
        {
            _metrics.UpstreamOverflow.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
            Sender.Tell(new UpstreamRefused(ResponseFlags.UpstreamOverflow, _cluster.Name, $"maxConnections {max} reached"));
            return;
        }
        Unejected();
        for (var i = 0; i < _state.Length; i++) _state[i].Active = _endpointLoads[i].Active;
        Span<EndpointState> view = _state.Length <= 64 ? stackalloc EndpointState[_state.Length] : new EndpointState[_state.Length];
        _state.CopyTo(view);
        PanicIfTooFewHealthy(view);
        // Retries go to another endpoint when one is left.
        var untried = 0;
        for (var i = 0; i < view.Length; i++)
        {
            if (request.Tried.Contains(_cluster.Endpoints[i].ToString())) view[i].Ejected = true;
            else if (view[i].Available) untried++;
        }
        if (untried == 0) { _state.CopyTo(view); PanicIfTooFewHealthy(view); }

        var index = _balancer.Pick(view, request.SourceHash);
        if (index < 0)
        {
            _metrics.UpstreamNoneHealthy.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
            Sender.Tell(new UpstreamRefused(ResponseFlags.NoHealthyUpstream, _cluster.Name,
                _state.Length == 0 ? _cluster.Detail : "every endpoint is ejected"));
            return;
        }
        _endpointLoads[index].Opened();
        Sender.Tell(new UpstreamAssigned(_cluster, _cluster.Endpoints[index], index, Self, _endpointLoads[index]));
    }

    /// <summary>Istio's minHealthPercent: below it, ejections are ignored (Envoy's panic mode).</summary>
    private void PanicIfTooFewHealthy(Span<EndpointState> view)
    {
        if (_cluster.Policy.Outlier is not { MinHealthPercent: > 0 } outlier || view.Length == 0) return;
        var healthy = 0;
        foreach (var e in view) if (!e.Ejected) healthy++;
        if (healthy * 100 < outlier.MinHealthPercent * view.Length)
            for (var i = 0; i < view.Length; i++) view[i].Ejected = false;
    }

    private void Unejected()
    {
        var now = _clock();
        for (var i = 0; i < _state.Length; i++)
        {
            if (!_state[i].Ejected || _ejectedUntil[i] > now) continue;
            _state[i].Ejected = false;
            _consecutiveFailures[i] = 0;
            _log.Info("outlier: {0} endpoint {1} returns after ejection", _cluster.Name, _cluster.Endpoints[i]);
        }
    }

    private void Outcome(ConnectOutcome outcome)
    {
        var i = outcome.Index;
        if (i >= _state.Length) return;
        if (outcome.Connected)
        {
            _consecutiveFailures[i] = 0;
            return;
        }
        _consecutiveFailures[i]++;
        if (_cluster.Policy.Outlier is not { } outlier || outlier.EjectAfter == 0 || _state[i].Ejected) return;
        if (_consecutiveFailures[i] < outlier.EjectAfter) return;
        var ejected = _state.Count(s => s.Ejected);
        if (ejected * 100 >= outlier.MaxEjectionPercent * _state.Length)
        {
            _log.Warning("outlier: {0} endpoint {1} failed {2} times in a row but maxEjectionPercent {3} is reached",
                _cluster.Name, _cluster.Endpoints[i], _consecutiveFailures[i], outlier.MaxEjectionPercent);
            return;
        }
        _timesEjected[i]++;
        var duration = outlier.BaseEjectionTime * _timesEjected[i];
        _state[i].Ejected = true;
        _ejectedUntil[i] = _clock() + duration;
        _log.Warning("outlier: {0} endpoint {1} ejected for {2} after {3} consecutive connect failures",
            _cluster.Name, _cluster.Endpoints[i], duration, _consecutiveFailures[i]);
    }
}
