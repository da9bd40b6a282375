using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Routing.LoadBalancing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// One upstream cluster's router: picks an endpoint per connection with the cluster's load balancer among
/// the routable ones (or all of them in panic), enforces <c>maxConnections</c>, feeds connect outcomes to
/// the <see cref="OutlierDetector"/>, sweeps ejections every outlier <c>interval</c> and runs the active
/// health checks the DestinationRule asks for. Endpoint health lives in <see cref="UpstreamHealth"/>, not
/// here, so a restarted or replaced router goes on with it; this actor is its only writer.
/// </summary>
public sealed class RouterActor : ReceiveActor, IWithTimers
{
    /// <summary>Envoy's outlier interval timer: ejections whose time has passed end now. Public so tests can sweep at a time they choose.</summary>
    public sealed class Sweep
    {
        public static readonly Sweep Instance = new();
        private Sweep() { }
    }

    /// <summary>Time for the active health checks (the first at once).</summary>
    public sealed class RunChecks
    {
        public static readonly RunChecks Instance = new();
        private RunChecks() { }
    }

    private sealed record CheckDone(int Index, string? Error);

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly UpstreamCluster _cluster;
    private readonly ILoadBalancer _balancer;
    private readonly ClusterLoad _load;
    private readonly ClusterHealth _health;
    private readonly EndpointHealth[] _endpoints;
    private readonly EndpointLoad[] _endpointLoads;
    private readonly string[] _names;
    private readonly EndpointState[] _view;
    private readonly bool[] _checking;
    private readonly OutlierDetector _detector;
    private readonly HealthCheckPolicy? _checks;
    private readonly HealthProbe _probe;
    private readonly Func<DateTime> _clock;
    private readonly DataPlaneMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(UpstreamCluster cluster, UpstreamHealth health, DataPlaneMetrics metrics, Func<DateTime>? clock = null, HealthProbe? probe = null) =>
        Akka.Actor.Props.Create(() => new RouterActor(cluster, health, metrics, clock ?? (() => DateTime.UtcNow), probe ?? ActiveHealthCheck.TcpConnect));

    public RouterActor(UpstreamCluster cluster, UpstreamHealth health, DataPlaneMetrics metrics, Func<DateTime> clock, HealthProbe probe)
    {
        _cluster = cluster;
        _load = health.LoadOf(cluster);
        _health = health.HealthOf(cluster);
        _names = cluster.Endpoints.Select(e => e.ToString()).ToArray();
        _endpoints = _names.Select(_health.For).ToArray();
        _endpointLoads = _names.Select(_load.For).ToArray();
        _view = new EndpointState[_names.Length];
        _checking = new bool[_names.Length];
        _metrics = metrics;
        _clock = clock;
        _probe = probe;
        _balancer = LoadBalancers.Create(cluster.Policy.LoadBalancer, cluster.Endpoints);
        _detector = new OutlierDetector(cluster.Policy.Outlier);
        _checks = cluster.Policy.HealthCheck;

        Receive<PickUpstream>(Pick);
        Receive<ConnectOutcome>(Outcome);
        Receive<Sweep>(_ => OnSweep());
        Receive<RunChecks>(_ => StartChecks());
        Receive<CheckDone>(OnCheckDone);
        Receive<FailRouter>(f => throw new InvalidOperationException($"fault injected into router {f.ClusterId}"));
        Receive<GetClusterHealth>(_ => Sender.Tell(UpstreamHealth.Snapshot(_cluster, _health, _load)));
    }

    protected override void PreStart()
    {
        _detector.Reconcile(_endpoints);
        ActiveHealthCheck.Reconcile(_endpoints, _checks);
        if (_cluster.Policy.Outlier is { } outlier) Timers.StartPeriodicTimer("outlier-sweep", Sweep.Instance, outlier.Interval);
        if (_checks is { } checks) Timers.StartPeriodicTimer("health-check", RunChecks.Instance, TimeSpan.Zero, checks.Interval);
    }

    private void Pick(PickUpstream request)
    {
        if (_cluster.Policy.MaxConnections is { } max && _load.Active >= max)
        {
            _metrics.UpstreamOverflow.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
            Sender.Tell(new UpstreamRefused(ResponseFlags.UpstreamOverflow, _cluster.Name, $"maxConnections {max} reached"));
            return;
        }
        View(request.Tried);
        var index = _balancer.Pick(_view, request.SourceHash);
        if (index < 0)
        {
            Sender.Tell(UpstreamRefused.NoHealthyUpstream(_metrics, _cluster.Name, _view.Length == 0 ? _cluster.Detail : NoneRoutable()));
            return;
        }
        _endpointLoads[index].Opened();
        Sender.Tell(new UpstreamAssigned(_cluster, _cluster.Endpoints[index], index, Self, _endpointLoads[index]));
    }

    /// <summary>
    /// What the balancer sees: routable endpoints, or all of them in panic; endpoints this connection already
    /// tried are left out while another is left (a retry goes elsewhere).
    /// </summary>
    private void View(IReadOnlySet<string> tried)
    {
        var routable = 0;
        for (var i = 0; i < _view.Length; i++)
        {
            var ok = _endpoints[i].State.Routable;
            if (ok) routable++;
            _view[i] = new EndpointState { Weight = _cluster.Endpoints[i].Weight, Active = _endpointLoads[i].Active, Ejected = !ok };
        }
        if (PanicPolicy.InPanic(routable, _view.Length, _cluster.Policy.Outlier))
            for (var i = 0; i < _view.Length; i++) _view[i].Ejected = false;
        if (tried.Count == 0) return;
        var untried = 0;
        for (var i = 0; i < _view.Length; i++)
            if (_view[i].Available && !tried.Contains(_names[i])) untried++;
        if (untried == 0) return;
        for (var i = 0; i < _view.Length; i++)
            if (tried.Contains(_names[i])) _view[i].Ejected = true;
    }

    private string NoneRoutable()
    {
        int ejected = 0, failing = 0;
        foreach (var e in _endpoints)
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

    private void Outcome(ConnectOutcome outcome)
    {
        var i = outcome.Index;
        if (i >= _endpoints.Length) return;
        if (outcome.Connected)
        {
            _detector.Connected(_endpoints[i]);
            return;
        }
        var happened = _detector.Failed(_endpoints, i, outcome.Error ?? "connect failed", _clock());
        var state = _endpoints[i].State;
        switch (happened)
        {
            case OutlierEvent.Ejected:
                _metrics.OutlierEjections.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
                _log.Warning("outlier: {0} endpoint {1} ejected until {2:O} (ejection {3}) after {4} consecutive connect failures: {5}",
                    _cluster.Name, _names[i], state.EjectedUntil, state.TimesEjected, state.ConsecutiveFailures, state.LastError);
                break;
            case OutlierEvent.Overflow:
                _metrics.OutlierEjectionsOverflow.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
                _log.Warning("outlier: {0} endpoint {1} failed {2} times in a row but maxEjectionPercent {3} forbids ejecting it",
                    _cluster.Name, _names[i], state.ConsecutiveFailures, _cluster.Policy.Outlier!.MaxEjectionPercent);
                break;
        }
    }

    private void OnSweep()
    {
        foreach (var i in _detector.Sweep(_endpoints, _clock()))
            _log.Info("outlier: {0} endpoint {1} returns after its ejection time", _cluster.Name, _names[i]);
    }

    private void StartChecks()
    {
        var checks = _checks!;
        var self = Self;
        for (var i = 0; i < _endpoints.Length; i++)
        {
            // A check still waiting for its answer is not doubled (timeout ≤ interval, so only on a slow machine).
            if (_checking[i]) continue;
            _checking[i] = true;
            var index = i;
            _metrics.HealthCheckAttempts.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
            _probe(_cluster.Endpoints[i], checks.Timeout).ContinueWith(
                t => self.Tell(new CheckDone(index, t.IsCompletedSuccessfully ? t.Result : t.Exception?.GetBaseException().Message ?? "check cancelled")),
                TaskContinuationOptions.ExecuteSynchronously);
        }
    }

    private void OnCheckDone(CheckDone done)
    {
        var i = done.Index;
        _checking[i] = false;
        var checks = _checks!;
        var before = _endpoints[i].State;
        var after = done.Error is null ? ActiveHealthCheck.Passed(before, checks) : ActiveHealthCheck.Failed(before, checks, done.Error, _clock());
        _endpoints[i].Set(after);
        if (done.Error is not null) _metrics.HealthCheckFailures.Add(1, DataPlaneMetrics.Cluster(_cluster.Name));
        if (before.Check != after.Check && after.Check != CheckVerdict.Unknown)
        {
            if (after.Check == CheckVerdict.Unhealthy)
                _log.Warning("health check: {0} endpoint {1} is unhealthy: {2}", _cluster.Name, _names[i], done.Error);
            else _log.Info("health check: {0} endpoint {1} is healthy", _cluster.Name, _names[i]);
        }
        if (before.Ejected && !after.Ejected)
            _log.Info("outlier: {0} endpoint {1} returns: it passes its health check", _cluster.Name, _names[i]);
    }
}
