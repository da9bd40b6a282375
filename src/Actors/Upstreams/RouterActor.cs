using Akka.Actor;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Upstreams;

/// <summary>
/// One upstream cluster's router: publishes the cluster's <see cref="ClusterPicker"/> (which picks an endpoint
/// per connection among the routable ones, or all of them in panic, and enforces <c>maxConnections</c>) for
/// connections to call on their own threads, answers <see cref="PickUpstream"/> with it, feeds connect outcomes to
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
    private readonly ClusterLoad _load;
    private readonly ClusterHealth _health;
    private readonly EndpointHealth[] _endpoints;
    private readonly IReadOnlyList<string> _names;
    private readonly bool[] _checking;
    private readonly ClusterPicker _picker;
    private readonly UpstreamPickers? _pickers;
    private readonly OutlierDetector _detector;
    private readonly HealthCheckPolicy? _checks;
    private readonly HealthProbe _probe;
    private readonly Func<DateTime> _clock;
    private readonly DataPlaneMetrics _metrics;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <param name="pickers">Where the router publishes its picker while it runs; without it, picks come only as <see cref="PickUpstream"/>.</param>
    public static Props Props(UpstreamCluster cluster, UpstreamHealth health, DataPlaneMetrics metrics, Func<DateTime>? clock = null, HealthProbe? probe = null, UpstreamPickers? pickers = null) =>
        Akka.Actor.Props.Create(() => new RouterActor(cluster, health, metrics, clock ?? (() => DateTime.UtcNow), probe ?? ActiveHealthCheck.TcpConnect, pickers));

    public RouterActor(UpstreamCluster cluster, UpstreamHealth health, DataPlaneMetrics metrics, Func<DateTime> clock, HealthProbe probe, UpstreamPickers? pickers)
    {
        _cluster = cluster;
        _load = health.LoadOf(cluster);
        _health = health.HealthOf(cluster);
        _picker = new ClusterPicker(cluster, health, Self);
        _pickers = pickers;
        _names = _picker.Names;
        _endpoints = _picker.Endpoints.ToArray();
        _checking = new bool[_names.Count];
        _metrics = metrics;
        _clock = clock;
        _probe = probe;
        _detector = new OutlierDetector(cluster.Policy.Outlier);
        _checks = cluster.Policy.HealthCheck;

        Receive<PickUpstream>(_ => Sender.Tell(_picker));
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
        // Health is reconciled first: a connection picking at once sees this policy's view of it.
        _pickers?.Publish(_picker);
    }

    // Also runs before a restart: the picker is withdrawn until the new instance publishes its own.
    protected override void PostStop() => _pickers?.Withdraw(_picker);

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
