using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Routing.LoadBalancing;
using AkkaL4.Actors.Upstreams;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// One accepted connection, from decision to the last byte: decide from the node's current snapshot,
/// get an endpoint from the router actors, connect (retrying another endpoint on failure), relay
/// both directions with half-close, enforce idleTimeout and maxConnectionDuration, then report bytes,
/// duration and flags in one access-log entry and stop.
/// </summary>
public sealed class ConnectionActor : UntypedActor, IWithTimers
{
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The node's drain timeout passed: end the connection now, with a FIN each way.</summary>
    public sealed class DrainTimeout
    {
        public static readonly DrainTimeout Instance = new();
        private DrainTimeout() { }
    }

    private sealed record Connected(TcpConnection Upstream);
    private sealed record ConnectFailed(Exception Cause);

    /// <summary>
    /// One connect attempt. The actor may stop while it is in flight (the client went away, the
    /// listener's node shuts down): a connection that arrives after that is closed, not leaked.
    /// </summary>
    private sealed class Attempt
    {
        public readonly CancellationTokenSource Cancel = new();
        private TcpConnection? _arrived;
        private bool _abandoned;

        /// <summary>False when the attempt was abandoned first (the connection is closed).</summary>
        public bool Arrive(TcpConnection connection)
        {
            lock (this)
            {
                if (!_abandoned) _arrived = connection;
            }
            if (_arrived is null) connection.Close();
            return _arrived is not null;
        }

        /// <summary>Abandons the attempt; closes its connection when it arrived but was never joined.</summary>
        public void Abandon()
        {
            TcpConnection? arrived;
            lock (this)
            {
                _abandoned = true;
                arrived = _arrived;
            }
            Cancel.Cancel();
            arrived?.Close();
        }
    }
    private sealed record DirectionEnded(bool Upstream, Exception? Failure);
    private sealed record DurationElapsed;

    private readonly TcpConnection _accepted;
    private readonly LiveRoutes _routes;
    private readonly IActorRef _routers;
    private readonly ITcpTransport _transport;
    private readonly DataPlaneSettings _settings;
    private readonly DataPlaneMetrics _metrics;
    private readonly Relays _relays;

    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;
    private readonly long _started = System.Diagnostics.Stopwatch.GetTimestamp();
    private RelayStage.Control? _relay;
    private ImmutableHashSet<string> _tried = ImmutableHashSet<string>.Empty;
    private string _listener = "";
    private Decision _decision;
    private Attempt? _attempt;
    private UpstreamAssigned? _upstream;
    private ResponseFlags _flags;
    private string _detail = "";
    private int _attempts;
    private int _directionsOpen = 2;
    private bool _relaying;
    private bool _reported;
    private string? _refusedCluster;

    // Created directly, not by reflection over an expression: this runs once per connection.
    public static Props Props(TcpConnection accepted, NodeDataPlane dataPlane) =>
        Akka.Actor.Props.CreateBy(new Producer(accepted, dataPlane)).WithMailbox(ConnectionMailbox.Path);

    private sealed class Producer(TcpConnection accepted, NodeDataPlane dataPlane) : IIndirectActorProducer
    {
        public Type ActorType => typeof(ConnectionActor);
        public ActorBase Produce() => new ConnectionActor(accepted, dataPlane);
        public void Release(ActorBase actor) { }
    }

    public ConnectionActor(TcpConnection accepted, NodeDataPlane dataPlane)
    {
        _accepted = accepted;
        (_routes, _routers, _transport, _settings, _metrics, _, _relays, _) = dataPlane;
    }

    // A switch, not ReceiveActor's Receive<T>: those build a handler table per actor, that is per connection
    // (about 3 KB allocated, most of it held while the connection lives; measured in bench/README.md).
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case UpstreamAssigned assigned: Connect(assigned); break;
            case UpstreamRefused r: Refuse(r.Flag, r.Detail, r.Cluster); break;
            case Connected connected: OnConnected(connected); break;
            case ConnectFailed failed: OnConnectFailed(failed); break;
            case DirectionEnded ended: OnDirectionEnded(ended); break;
            case DurationElapsed:
                _flags |= ResponseFlags.DurationTimeout;
                _detail = "maxConnectionDuration reached";
                _relay?.Stop(null);
                break;
            case DrainTimeout:
                _detail = "closed at the node's drain timeout";
                if (_relaying) _relay?.Stop(null);
                else Context.Stop(Self);
                break;
            default: Unhandled(message); break;
        }
    }

    protected override void PreStart()
    {
        // The client is joined to an upstream only once one is connected, so failed attempts never touch it.
        var local = _accepted.Local;
        var localKey = IpKey.From(local.Address);
        _listener = new IpPort(localKey, local.Port).ToString();
        _metrics.Accepted(_listener);

        var snapshot = _routes.Current;
        var source = IpKey.From(_accepted.Remote.Address);
        _decision = snapshot.Decide(new IpPort(localKey, local.Port), source, localKey);
        switch (_decision.Result)
        {
            case DecisionResult.Route:
                _routers.Tell(new PickUpstream(_decision.Target!, LoadBalancers.HashOf(source), _tried));
                break;
            case DecisionResult.NoHealthyUpstream:
                _metrics.UpstreamNoneHealthy.Add(1, DataPlaneMetrics.Listener(_listener));
                Refuse(ResponseFlags.NoHealthyUpstream, Explanation.Of(_decision).Reason, _decision.Target?.Destinations.FirstOrDefault()?.Cluster.Name);
                break;
            default:
                Refuse(ResponseFlags.NoRoute, Explanation.Of(_decision).Reason, null);
                break;
        }
    }

    private void Connect(UpstreamAssigned assigned)
    {
        _upstream = assigned;
        _attempts++;
        var endpoint = assigned.Endpoint;
        EndPoint remote = IPAddress.TryParse(endpoint.Address, out var ip) ? new IPEndPoint(ip, endpoint.Port) : new DnsEndPoint(endpoint.Address, endpoint.Port);
        var policy = assigned.Cluster.Policy;
        var attempt = _attempt = new Attempt();
        var self = Self;
        _transport.ConnectAsync(remote, new ConnectOptions(policy.ConnectTimeout, policy.Keepalive), attempt.Cancel.Token).ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                if (attempt.Arrive(t.Result)) self.Tell(new Connected(t.Result));
            }
            else if (!attempt.Cancel.IsCancellationRequested)
            {
                self.Tell(new ConnectFailed(t.Exception?.InnerException ?? new TaskCanceledException()));
            }
        }, TaskContinuationOptions.ExecuteSynchronously);
    }

    private void OnConnected(Connected connected)
    {
        var assigned = _upstream!;
        assigned.Router.Tell(new ConnectOutcome(assigned.Index, true));
        _relaying = true;

        var policy = assigned.Cluster.Policy;
        var self = Self;
        var parts = new RelayParts(policy.IdleTimeout, (up, failure) => self.Tell(new DirectionEnded(up, failure)));
        _relay = parts.Control;
        _metrics.UpstreamConnected(_listener, assigned.Cluster.Name, assigned.Endpoint.ToString(), _relay);
        _relays.Run(_accepted, connected.Upstream, parts);

        if (policy.MaxConnectionDuration is { } max)
            Timers.StartSingleTimer("max-duration", new DurationElapsed(), max);
    }

    private void OnConnectFailed(ConnectFailed failed)
    {
        var assigned = _upstream!;
        assigned.Router.Tell(new ConnectOutcome(assigned.Index, false, failed.Cause is TimeoutException ? "connect timed out" : failed.Cause.GetBaseException().Message));
        assigned.Load.Closed();
        _tried = _tried.Add(assigned.Endpoint.ToString());
        _upstream = null;
        _attempt = null;
        // Both transports fail a connect that timed out with a TimeoutException (ITcpTransport's contract).
        var cause = failed.Cause;
        var timedOut = cause is TimeoutException;
        _flags |= ResponseFlags.UpstreamConnectFailure;
        var why = $"connect to {assigned.Endpoint} failed: {(timedOut ? "timed out after " + assigned.Cluster.Policy.ConnectTimeout : cause.Message)}";
        _metrics.UpstreamConnectFailed(assigned.Cluster.Name, assigned.Endpoint.ToString(), timedOut, why);
        _detail = _detail.Length == 0 ? why : $"{_detail}; {why}";
        if (_attempts < _settings.MaxConnectAttempts)
        {
            _routers.Tell(new PickUpstream(_decision.Target!, LoadBalancers.HashOf(IpKey.From(_accepted.Remote.Address)), _tried));
            return;
        }
        Refuse(ResponseFlags.UpstreamRetryLimitExceeded, $"{_detail}; {_attempts} attempt(s), giving up", assigned.Cluster.Name);
    }

    private void OnDirectionEnded(DirectionEnded ended)
    {
        if (ended.Failure is { } cause)
        {
            if (cause is TimeoutException && !_flags.HasFlag(ResponseFlags.DurationTimeout))
            {
                if (!_flags.HasFlag(ResponseFlags.IdleTimeout)) _metrics.IdleTimeout.Add(1, DataPlaneMetrics.Cluster(_upstream!.Cluster.Name));
                _flags |= ResponseFlags.IdleTimeout;
                _detail = $"idle for {_upstream!.Cluster.Policy.IdleTimeout}";
            }
            else if (_detail.Length == 0 || !_relaying) _detail = $"{(ended.Upstream ? "client side" : "upstream side")}: {cause.Message}";
        }
        if (--_directionsOpen > 0) return;
        if (_detail.Length == 0) _detail = "closed";
        Context.Stop(Self);
    }

    /// <summary>Ends a connection that got no upstream: the client sees the connection close.</summary>
    private void Refuse(ResponseFlags flag, string detail, string? cluster)
    {
        _flags |= flag;
        _detail = _detail.Length == 0 || flag == ResponseFlags.UpstreamRetryLimitExceeded ? detail : $"{_detail}; {detail}";
        if (flag == ResponseFlags.NoRoute) _metrics.DownstreamNoRoute.Add(1, DataPlaneMetrics.Listener(_listener));
        _refusedCluster = cluster;
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        if (!_relaying)
        {
            _accepted.Close();
            if (_upstream is not null)
            {
                // Stopped while an attempt was in flight: abandon it; that says nothing about the endpoint.
                _upstream.Load.Closed();
                _attempt?.Abandon();
            }
        }
        else
        {
            // Stopped from outside while bytes still flow: end the relay. (Aborting an ended one would
            // leave a faulted task behind for the finalizer, once per connection.)
            if (_directionsOpen > 0) _relay?.Stop(new OperationCanceledException("connection actor stopped"));
            _upstream?.Load.Closed();
        }
        Report();
    }

    private void Report()
    {
        if (_reported) return;
        _reported = true;
        var rx = _relay?.BytesFromClient ?? 0;
        var tx = _relay?.BytesToClient ?? 0;
        _metrics.Closed(_listener, _upstream?.Cluster.Name, _upstream?.Endpoint.ToString(), _relay,
            _flags == ResponseFlags.None ? null : $"{ResponseFlagNames.Format(_flags)}: {_detail}");
        var target = _decision.Target;
        var entry = new AccessLogEntry(_start, System.Diagnostics.Stopwatch.GetElapsedTime(_started), _accepted.Remote.ToString(), _listener, _decision.Gateway,
            target?.VirtualService, target?.Rule, _upstream?.Cluster.Name ?? _refusedCluster, _upstream?.Endpoint.ToString(),
            rx, tx, _flags, _detail);
        Context.System.EventStream.Publish(entry);
    }
}
