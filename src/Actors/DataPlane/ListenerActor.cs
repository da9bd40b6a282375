using System.Net;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// One bound address:port. Accepts through the transport (one accept in flight: the stream waits for
/// this actor's ack), starts a <see cref="ConnectionActor"/> child per connection within the listener's
/// and the node's connection caps, retries a failed bind with backoff, and on <see cref="Unbind"/> stops
/// accepting (connections the kernel had queued still come through and are served) and stops itself
/// once its connections have ended (they keep the route they were given). It asks for the next connection only once it
/// has taken a place for it in the node's descriptors (<see cref="ConnectionBudget.TryReserve"/>: a reserve stays free
/// for the runtime); without, it accepts nothing more (clients wait in the kernel's queue) until a connection ends or a
/// timer finds room.
/// Should the process run out of descriptors all the same (<see cref="Descriptors"/>: EMFILE), it holds the connection
/// it was handed likewise; then it serves them all.
/// </summary>
public sealed class ListenerActor : ReceiveActor, IWithTimers
{
    public sealed record Unbind;
    /// <summary>The drain timeout passed: open connections close now (with a FIN).</summary>
    public sealed record CloseConnections;
    public sealed record Bound(IpPort Address);
    public sealed record BindFailed(IpPort Address, string Reason);

    private sealed record StreamInit;
    private sealed record Ack;
    private sealed record StreamDone;
    private sealed record StreamFailed(Exception Cause);
    private sealed record TryBind;
    private sealed record BindResult(IListenerBinding? Binding, Exception? Failure);
    private sealed record Relieve;

    /// <summary>The longest wait between looks for free descriptors while a connection is held back.</summary>
    private static readonly TimeSpan MaxReliefWait = TimeSpan.FromSeconds(1);
    /// <summary>A wait for descriptors this soon after the last one continues its shortage (logged and counted once).</summary>
    private static readonly TimeSpan ShortageGap = TimeSpan.FromSeconds(10);

    private readonly IpPort _address;
    private readonly NodeDataPlane _dataPlane;
    private readonly ITcpTransport _transport;
    private readonly DataPlaneSettings _settings;
    private readonly IMaterializer _materializer;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IListenerBinding? _binding;
    private TimeSpan _retry;
    private bool _unbinding;
    private bool _streamRunning;
    private int _connections;
    private long _accepted;
    private long _refused;
    private TcpConnection? _held;
    /// <summary>A descriptor place taken for the connection asked for (or held back), not yet given to one.</summary>
    private bool _reserved;
    /// <summary>The accept stream's connections accepted ahead are counted in the node's descriptors (DescriptorBudget.AcceptingAhead).</summary>
    private bool _countedAhead;
    private IActorRef? _acceptStream;
    private TimeSpan _reliefWait;
    /// <summary>Not asking for connections: the descriptors leave no room for one more.</summary>
    private bool _paused;
    /// <summary>When a wait for descriptors last ended (0: never), and whether the one now began a shortage.</summary>
    private long _resumedAt;
    private bool _newShortage;
    private long _heldSince;
    private long _shortages;
    /// <summary>With max-connections-per-source: each connection's peer, and how many each peer holds.</summary>
    private readonly Dictionary<IActorRef, IpKey> _sourceOf = new();
    private readonly Dictionary<IpKey, int> _perSource = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IpPort address, NodeDataPlane dataPlane) =>
        Akka.Actor.Props.Create(() => new ListenerActor(address, dataPlane));

    public ListenerActor(IpPort address, NodeDataPlane dataPlane)
    {
        _address = address;
        _dataPlane = dataPlane;
        (_, _, _, _transport, _settings, _, _materializer, _, _) = dataPlane;
        _retry = _settings.BindRetry;

        Receive<TryBind>(_ => StartBinding());
        Receive<BindResult>(OnBindResult);
        Receive<StreamInit>(_ =>
        {
            _acceptStream = Sender;
            // A connection held back (out of descriptors) has the place: the next is asked for once it is served.
            if (_held is null) Next();
        });
        Receive<TcpConnection>(c =>
        {
            // Held back by an accept stream that failed since: this one's turn comes first, or it goes (one is held at most).
            if (_held is { } stale && !ReferenceEquals(stale, c))
            {
                _held = null;
                if (Descriptors.Available()) Serve(stale);
                else stale.Close();
            }
            _acceptStream = Sender;
            if (!_unbinding && !Descriptors.Available())
            {
                HoldBack(c);
                return;
            }
            Serve(c);
            Next();
        });
        Receive<Relieve>(_ => Relief());
        Receive<StreamDone>(_ =>
        {
            StreamEnded();
            if (!_unbinding) _log.Warning("listener {0}: accept stream ended", _address);
            StopWhenDrained();
        });
        Receive<StreamFailed>(f =>
        {
            StreamEnded();
            if (_unbinding)
            {
                StopWhenDrained();
                return;
            }
            _log.Warning("listener {0}: accept stream failed ({1}); binding again", _address, f.Cause.Message);
            _binding = null;
            _acceptStream = null;
            Timers.StartSingleTimer("bind", new TryBind(), _retry);
        });
        Receive<Terminated>(t =>
        {
            if (_sourceOf.Remove(t.ActorRef, out var source) && --_perSource[source] == 0) _perSource.Remove(source);
            _connections--;
            _dataPlane.Connections.Release();
            // A connection that ended freed its descriptors: the one held back may have them.
            Relief();
            StopWhenDrained();
        });
        Receive<Unbind>(_ =>
        {
            _unbinding = true;
            Timers.CancelAll();
            // Connections the kernel queued are taken now (as descriptors allow) or reset when the listener closes.
            if (_held is not null || _paused) Resume();
            _binding?.Unbind();
            _binding = null;
            _log.Info("listener {0}: unbound, {1} connection(s) draining", _address, _connections);
            StopWhenDrained();
        });
        Receive<CloseConnections>(_ =>
        {
            foreach (var child in Context.GetChildren()) child.Tell(ConnectionActor.DrainTimeout.Instance);
        });
    }

    private void Serve(TcpConnection c)
    {
        var source = IpKey.From(c.Remote.Address);
        // The place taken before asking for it; a connection nobody asked for (unbinding, a stale one) takes one now.
        var place = _reserved || _dataPlane.Connections.TryReserve();
        _reserved = false;
        if (!Admit(source, place)) { c.Close(); return; }
        _accepted++;
        var child = Context.ActorOf(ConnectionActor.Props(c, _dataPlane), $"c{_accepted}");
        Context.Watch(child);
        _connections++;
        if (_settings.MaxConnectionsPerSource > 0)
        {
            _sourceOf[child] = source;
            _perSource[source] = _perSource.GetValueOrDefault(source) + 1;
        }
    }

    /// <summary>
    /// Asks the accept stream for the next connection once a place is taken for it (unbinding: to empty the queue,
    /// each connection then taking a place as it comes); else pauses.
    /// </summary>
    private void Next()
    {
        if (_unbinding || _reserved || (_reserved = _dataPlane.Connections.TryReserve()))
        {
            _acceptStream?.Tell(new Ack());
            return;
        }
        _paused = true;
        if (!Wait()) return;
        var connections = _dataPlane.Connections;
        var descriptors = connections.Descriptors;
        var open = connections.Open;
        _log.Warning("listener {0}: out of descriptors (shortage {1}): {2}", _address, _shortages,
            $"{open} connection(s) hold {open * DescriptorBudget.PerConnection} of the {descriptors.Limit} descriptors allowed (ulimit -n), the rest of the process "
            + $"{descriptors.Others}, and {descriptors.Reserve} stay free ({DataPlaneSettings.DescriptorReserveKey}): accepting nothing more until a connection ends; "
            + "clients wait in the kernel's queue");
    }

    /// <summary>Out of descriptors (EMFILE) all the same: no ack (so no accept) until they are free again.</summary>
    private void HoldBack(TcpConnection c)
    {
        _held = c;
        if (Wait())
            _log.Warning("listener {0}: out of descriptors (shortage {1}): accepting nothing more until a connection ends or descriptors are free; " +
                         "one connection waits accepted, the rest in the kernel's queue", _address, _shortages);
    }

    /// <summary>
    /// Waits for descriptors. True when a shortage begins (to be counted and logged): not when the last ended within
    /// <see cref="ShortageGap"/>, as each connection's end does when connections keep the node at its limit.
    /// </summary>
    private bool Wait()
    {
        _heldSince = System.Diagnostics.Stopwatch.GetTimestamp();
        _reliefWait = TimeSpan.FromMilliseconds(50);
        Timers.StartSingleTimer("relief", new Relieve(), _reliefWait);
        _newShortage = _resumedAt == 0 || System.Diagnostics.Stopwatch.GetElapsedTime(_resumedAt) > ShortageGap;
        if (!_newShortage) return false;
        _shortages++;
        _dataPlane.Metrics.AcceptPaused(_address.ToString());
        return true;
    }

    private void Relief()
    {
        if (_held is null && !_paused) return;
        if (!(_held is null ? (_reserved = _dataPlane.Connections.TryReserve()) : Descriptors.Available()))
        {
            if (Timers.IsTimerActive("relief")) return;
            _reliefWait = TimeSpan.FromTicks(Math.Min(_reliefWait.Ticks * 2, MaxReliefWait.Ticks));
            Timers.StartSingleTimer("relief", new Relieve(), _reliefWait);
            return;
        }
        if (_newShortage) _log.Info("listener {0}: descriptors free again after {1:F1}s; accepting", _address, System.Diagnostics.Stopwatch.GetElapsedTime(_heldSince).TotalSeconds);
        _resumedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        Resume();
    }

    /// <summary>Serves the connection held back, if any, and asks for the next.</summary>
    private void Resume()
    {
        Timers.Cancel("relief");
        _paused = false;
        if (_held is { } held)
        {
            _held = null;
            Serve(held);
        }
        Next();
    }

    /// <summary>
    /// Within the caps, with a descriptor place (<paramref name="place"/>)? Over one, the connection is closed at once
    /// (its place given back), counted and logged (the first, then every 100th).
    /// </summary>
    private bool Admit(IpKey source, bool place)
    {
        var perListener = _settings.MaxConnectionsPerListener;
        var perSource = _settings.MaxConnectionsPerSource;
        string? cap = null;
        // Unbinding, the kernel's queue is emptied whatever the descriptors: beyond the reserve a connection is closed.
        if (!place) cap = $"{DataPlaneSettings.DescriptorReserveKey} ({_dataPlane.Connections.Descriptors.Reserve}, while unbinding)";
        else if (perListener > 0 && _connections >= perListener) cap = $"max-connections-per-listener ({perListener})";
        else if (perSource > 0 && _perSource.GetValueOrDefault(source) >= perSource) cap = $"max-connections-per-source ({perSource}, from {source})";
        else if (!_dataPlane.Connections.TryTake()) cap = $"max-connections of the node ({_settings.MaxConnections})";
        if (cap is null) return true;
        if (place) _dataPlane.Connections.Unreserve();
        _dataPlane.Metrics.Overflowed(_address.ToString());
        if (_refused++ % 100 == 0) _log.Warning("listener {0}: connection refused at {1}; {2} refused so far", _address, cap, _refused);
        return false;
    }

    private void StopWhenDrained()
    {
        // Stopping earlier would drop connections the kernel had queued that the accept stream still hands over.
        if (_unbinding && _connections == 0 && !_streamRunning) Context.Stop(Self);
    }

    protected override void PreStart() => StartBinding();

    /// <summary>A connection that throws is stopped, not restarted: its socket cannot be taken twice; siblings go on.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PostStop()
    {
        _binding?.Unbind();
        _held?.Close();
        if (_reserved) _dataPlane.Connections.Unreserve();
        _reserved = false;
        StreamEnded();
        // Stopped (or restarted) with connections still open: their Terminated will not reach this instance.
        for (; _connections > 0; _connections--) _dataPlane.Connections.Release();
    }

    private void StartBinding()
    {
        var endpoint = new IPEndPoint(_address.Address.ToAddress(), _address.Port);
        try
        {
            _streamRunning = true;
            if (!_countedAhead) _dataPlane.Connections.Descriptors.AcceptingAhead(DescriptorBudget.AcceptedAhead);
            _countedAhead = true;
            var binding = _transport.Bind(endpoint, _settings.ListenBacklog)
                // Its buffer holds one connection (16 by default): accepted ahead of its ack, it holds a descriptor no
                // place counts, so each running accept stream shrinks the node's room by DescriptorBudget.AcceptedAhead.
                .ToMaterialized(Sink.ActorRefWithAck<TcpConnection>(Self, new StreamInit(), new Ack(), new StreamDone(), e => new StreamFailed(e))
                    .WithAttributes(Attributes.CreateInputBuffer(1, 1)), Keep.Left)
                .Run(_materializer);
            binding.PipeTo(Self, success: b => new BindResult(b, null), failure: e => new BindResult(null, e));
        }
        catch (Exception e)
        {
            StreamEnded();
            Self.Tell(new BindResult(null, e));
        }
    }

    /// <summary>The accept stream ended: it holds nothing accepted ahead; unbinding, the place it was asked for is given back.</summary>
    private void StreamEnded()
    {
        _streamRunning = false;
        if (_countedAhead) _dataPlane.Connections.Descriptors.AcceptingAhead(-DescriptorBudget.AcceptedAhead);
        _countedAhead = false;
        if (_unbinding && _reserved && _held is null)
        {
            _reserved = false;
            _dataPlane.Connections.Unreserve();
        }
    }

    private void OnBindResult(BindResult result)
    {
        if (result.Binding is { } binding)
        {
            if (_unbinding) { binding.Unbind(); return; }
            _binding = binding;
            _retry = _settings.BindRetry;
            _log.Info("listener {0}: bound", _address);
            Context.Parent.Tell(new Bound(_address));
            return;
        }
        if (_unbinding) return;
        var cause = result.Failure is AggregateException { InnerException: { } inner } ? inner : result.Failure!;
        var reason = cause.InnerException?.Message ?? cause.Message;
        _log.Warning("listener {0}: bind failed: {1}; retrying in {2}", _address, reason, _retry);
        Context.Parent.Tell(new BindFailed(_address, reason));
        Timers.StartSingleTimer("bind", new TryBind(), _retry);
        _retry = TimeSpan.FromTicks(Math.Min(_retry.Ticks * 2, _settings.BindRetryMax.Ticks));
    }
}
