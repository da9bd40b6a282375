using System.Net;
using System.Net.Sockets;
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
/// this actor's ack; the socket transport has no stream: its accept tells this actor each connection, and the ack starts
/// the next, <see cref="IDirectAccept"/>), starts a <see cref="ConnectionActor"/> child per connection within the listener's
/// and the node's connection caps, retries a failed bind with backoff, and on <see cref="Unbind"/> stops
/// accepting (connections the kernel had queued still come through and are served) and stops itself
/// once its connections have ended (they keep the route they were given). It asks for the next connection only once it
/// has taken a place for it in the node's descriptors (<see cref="ConnectionBudget.TryReserve"/>: a reserve stays free
/// for the runtime); without, it accepts nothing more (clients wait in the kernel's queue) until a connection ends or a
/// timer finds room; nor while max-pending-connections of its connections are accepted and not yet dialling
/// (<see cref="PendingConnections"/>: the first of them to dial or end asks again). Its accept stream takes a place too,
/// before it binds (its listening socket and, on the stock transport, the one connection its stream accepts ahead), so
/// listeners started on a full node wait for room like connections.
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
    /// <summary>This listener threw and was resumed (<see cref="ListenerSet"/>): it takes up what it was doing, its connections kept.</summary>
    public sealed record Recover(Exception Cause);

    /// <summary>An accept stream's messages carry its number: a restarted listener tells its predecessor's stream from its own.</summary>
    private sealed record StreamInit(long Stream);
    private sealed record Ack;
    private sealed record StreamDone(long Stream);
    private sealed record StreamFailed(long Stream, Exception Cause);
    private sealed record TryBind;
    private sealed record BindResult(long Stream, IListenerBinding? Binding, Exception? Failure);
    private sealed record Relieve;
    /// <summary>The accept stream of this listener before a restart, still emptying its queue into this instance.</summary>
    private sealed record Previous(long Stream);
    /// <summary>
    /// Stopped (or restarted): the connections' places were given back (<see cref="PostStop"/>); those of its children that
    /// end after it are not counted again.
    /// </summary>
    private bool _stopped;
    /// <summary>
    /// This instance's connections not yet dialling (<see cref="PendingConnections"/>): one per instance, so that a restarted
    /// listener ignores its predecessor's word that one left.
    /// </summary>
    private readonly PendingConnections _pending;
    /// <summary>Not asking for connections: max-pending-connections are pending (told by <see cref="_pending"/> when one leaves).</summary>
    private bool _pendingFull;
    private long _pendingPauses;
    private long _pendingWarnedAt;

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
    /// <summary>The accept stream was acked and has not handed over a connection since.</summary>
    private bool _asked;
    /// <summary>A descriptor place taken for the connection asked for (or held back), not yet given to one.</summary>
    private bool _reserved;
    /// <summary>The accept stream's own place (its listening socket and, on the stock transport, the connection it accepts ahead), held while it runs.</summary>
    private bool _streamPlace;
    private TimeSpan _placeWait;
    /// <summary>The accept stream waits for a place (counted in <see cref="ConnectionBudget.WaitingStreams"/>).</summary>
    private bool _waitingForPlace;
    private static long s_streams;
    /// <summary>The number of this listener's accept stream (0: none started).</summary>
    private long _stream;
    /// <summary>The accept stream's binding while it is being bound (to unbind it should this listener stop first).</summary>
    private Task<IListenerBinding>? _bindingPending;
    private IActorRef? _acceptStream;
    /// <summary>Streams of the instance before a restart not yet ended: what they hand over is served before this one stops.</summary>
    private readonly HashSet<long> _previous = [];
    /// <summary>
    /// Streams that ended before this instance was told they were its predecessor's: a restart can find a stream's end
    /// already in the mailbox, ahead of the Previous that PreRestart sends; without this it would be waited for for ever.
    /// </summary>
    private readonly HashSet<long> _endedEarly = [];
    /// <summary>Restarted, and not yet told by <see cref="PreRestart"/> whether to bind: a Recover meant for the instance before is not for it.</summary>
    private bool _fresh;

    /// <summary>Waited one bind retry for this node's previous listener on the address to close; the next try binds anyway.</summary>
    private bool _waitedForPredecessor;
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
        _pending = new PendingConnections(_settings.MaxPendingConnections, Self);
        dataPlane.Metrics.PendingOf(address.ToString(), _pending);

        Receive<TryBind>(_ =>
        {
            _fresh = false;
            StartBinding();
        });
        Receive<BindResult>(OnBindResult);
        Receive<StreamInit>(init =>
        {
            // The stream of this listener before a restart, unbound in PreRestart: acked so it hands over what it had queued.
            if (init.Stream != _stream)
            {
                Sender.Tell(new Ack());
                return;
            }
            _acceptStream = Sender;
            _asked = false;
            // A connection held back (out of descriptors) has the place: the next is asked for once it is served.
            if (_held is null) Next();
        });
        Receive<TcpConnection>(c =>
        {
            if (!Sender.Equals(_acceptStream))
            {
                // From the accept stream of this listener before a restart, emptying its queue: served as unbinding
                // serves (a place if there is one), then the next asked for until it ends.
                Start(c, _dataPlane.Connections.TryReserve());
                Sender.Tell(new Ack());
                return;
            }
            // Asked for (one at a time: none is held back when the stream is acked).
            _asked = false;
            if (!_unbinding && !Descriptors.Available())
            {
                HoldBack(c);
                return;
            }
            Serve(c);
            Next();
        });
        Receive<Relieve>(_ => Relief());
        Receive<Previous>(p =>
        {
            if (!_endedEarly.Remove(p.Stream)) _previous.Add(p.Stream);
        });
        // A stream that ends unasked (its socket closed under it) is bound again as a failed one is: its place is kept for that.
        Receive<StreamDone>(done => StreamStopped(done.Stream, "ended"));
        Receive<StreamFailed>(f => StreamStopped(f.Stream, $"failed ({f.Cause.Message})"));
        Receive<Unbind>(_ =>
        {
            // ListenerSet unbinds a listener it no longer lists again should it say it bound meanwhile.
            _fresh = false;
            if (_unbinding) return;
            _unbinding = true;
            Timers.CancelAll();
            Waiting(false);
            // Connections the kernel queued are taken now (as descriptors allow) or reset when the listener closes.
            if (_held is not null || _paused || _pendingFull) Resume();
            _binding?.Unbind();
            _binding = null;
            _log.Info("listener {0}: unbound, {1} connection(s) draining", _address, _connections);
            StopWhenDrained();
        });
        Receive<CloseConnections>(_ =>
        {
            foreach (var child in Context.GetChildren()) child.Tell(ConnectionActor.DrainTimeout.Instance);
        });
        Receive<Recover>(r => TakeUp(r.Cause));
        // A pending connection left while the listener waited at max-pending-connections: the next is asked for. (One of the
        // instance before a restart is nothing to this one.)
        Receive<PendingConnections>(p => ReferenceEquals(p, _pending), _ =>
        {
            if (!_pendingFull) return;
            _pendingFull = false;
            Next();
        });
        Receive<PendingConnections>(_ => { });
    }

    /// <summary>
    /// A connection's actor ended (<see cref="Connections.HandleChildTerminated"/>), on this listener's thread: its place is
    /// given back. Akka tells a parent of every child's end, however it ended (a constructor that threw too), as a system
    /// message; the connection told it again as a message of its own (two wake-ups of the listener per connection when they
    /// did not meet in one mailbox run; bench/README.md, session 18).
    /// </summary>
    private void ConnectionEnded(IActorRef child)
    {
        if (_stopped) return;
        if (_sourceOf.Remove(child, out var source) && --_perSource[source] == 0) _perSource.Remove(source);
        _connections--;
        _dataPlane.Connections.Release();
        // A connection that ended freed its descriptors: the one held back may have them. Told, not called: this runs as a
        // system message, also while the listener stops (its connections stopping first), when nothing is to be accepted.
        if (_held is not null || _paused) Self.Tell(new Relieve());
        StopWhenDrained();
    }

    /// <summary>
    /// A connection that throws is stopped, not restarted (its socket cannot be taken twice; siblings go on), and the end of
    /// each is counted here.
    /// </summary>
    private sealed class Connections(ListenerActor listener) : OneForOneStrategy(_ => Directive.Stop)
    {
        public override void HandleChildTerminated(IActorContext actorContext, IActorRef child, IEnumerable<IInternalActorRef> children) =>
            listener.ConnectionEnded(child);
    }

    /// <summary>
    /// After an exception (resumed, not restarted: a restart would stop its connections): what the listener was doing goes
    /// on from its state, which keeps its connections and their counts. Unbinding is finished; a stream that is not running is
    /// bound unless its timer will; one running is asked for its next connection unless it was asked already or the listener
    /// waits for descriptors (then their timer, started again if the exception lost it, asks).
    /// </summary>
    private void TakeUp(Exception cause)
    {
        if (_fresh) return;
        _log.Warning("listener {0}: taking up again after {1}: {2}; {3} connection(s) kept", _address, cause.GetType().Name, cause.Message, _connections);
        if (_unbinding)
        {
            _binding?.Unbind();
            _binding = null;
            if (_held is not null || _paused || _pendingFull) Resume();
            StopWhenDrained();
        }
        else if (!_streamRunning)
        {
            if (!Timers.IsTimerActive("bind")) StartBinding();
        }
        else if (_held is not null || _paused)
        {
            if (!Timers.IsTimerActive("relief")) Relief();
        }
        else if (_acceptStream is not null && !_asked) Next();
    }

    private void StreamStopped(long stream, string how)
    {
        if (stream != _stream)
        {
            if (_previous.Remove(stream)) StopWhenDrained();
            else _endedEarly.Add(stream);
            return;
        }
        StreamEnded();
        if (_unbinding)
        {
            StopWhenDrained();
            return;
        }
        _log.Warning("listener {0}: accept stream {1}; binding again", _address, how);
        _binding = null;
        _acceptStream = null;
        _asked = false;
        // No stream to ack until the next one's StreamInit (its Next decides whether to pause); one held back keeps its timer.
        if (_held is null)
        {
            _paused = false;
            Timers.Cancel("relief");
        }
        Timers.StartSingleTimer("bind", new TryBind(), _retry);
    }

    private void Serve(TcpConnection c)
    {
        // The place taken before asking for it; a connection nobody asked for (unbinding, a stale one) takes one now.
        var place = _reserved || _dataPlane.Connections.TryReserve();
        _reserved = false;
        Start(c, place);
    }

    /// <summary>
    /// Starts the connection's actor within the caps, with its descriptor place (<paramref name="place"/>); else closes it.
    /// Should anything throw before the actor is started (its end gives back what it holds), what was taken for it
    /// is given back and the connection closed here, and the listener serves on: else that place would be lost for good,
    /// the socket left open, and (thrown on) a second such failure within a minute would restart the listener.
    /// </summary>
    private void Start(TcpConnection c, bool place)
    {
        var admitted = false;
        try
        {
            var source = IpKey.From(c.Remote.Address);
            var admit = Admit(source, place);
            // Admitted, the place is the connection's (given back by Release); refused, Admit gave it back.
            (admitted, place) = (admit, false);
            if (!admit) { c.Close(); return; }
            _accepted++;
            // Pending from here (before the actor can run, and leave); admitted, it leaves through the actor (its constructor
            // too, should that throw: ConnectionActor.Props) or the catch below.
            _pending.Enter();
            // Not watched: its end is counted as Akka tells a parent of a child's (ConnectionEnded); a death watch per
            // connection cost both actors' watch sets and a Terminated (bench/README.md, session 16).
            var child = Context.ActorOf(ConnectionActor.Props(c, _dataPlane, _pending), $"c{_accepted}");
            _connections++;
            admitted = false;
            if (_settings.MaxConnectionsPerSource > 0)
            {
                _sourceOf[child] = source;
                _perSource[source] = _perSource.GetValueOrDefault(source) + 1;
            }
        }
        catch (Exception e) when (admitted || place)
        {
            if (admitted)
            {
                _dataPlane.Connections.Release();
                _pending.Leave();
            }
            else _dataPlane.Connections.Unreserve();
            c.Close();
            _log.Error(e, "listener {0}: a connection could not be started ({1}); closed, its place given back", _address, e.Message);
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
            // A new accept stream of a paused listener: not paused any more (the relief timer would take a second place).
            _paused = false;
            Timers.Cancel("relief");
            if (_acceptStream is null) return;
            // At max-pending-connections the next waits in the kernel's queue (its place kept for it) until one leaves.
            if (!_unbinding && _pending.Full())
            {
                PendingFull();
                return;
            }
            _pendingFull = false;
            _acceptStream.Tell(new Ack());
            _asked = true;
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

    /// <summary>Counted each time; logged at most once per <see cref="ShortageGap"/> (under overload it pauses at every connection).</summary>
    private void PendingFull()
    {
        if (_pendingFull) return;
        _pendingFull = true;
        _pendingPauses++;
        _dataPlane.Metrics.PendingFull(_address.ToString());
        if (_pendingWarnedAt != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(_pendingWarnedAt) < ShortageGap) return;
        _pendingWarnedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        _log.Warning("listener {0}: {1} connections pending ({2} = {3}): accepting the next as one dials or ends, clients wait in the kernel's queue; "
                     + "paused so {4} time(s)", _address, _pending.Count, DataPlaneSettings.MaxPendingKey, _settings.MaxPendingConnections, _pendingPauses);
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
        // A place already taken is kept: overwriting it would lose it for good.
        if (!(_held is null ? (_reserved || (_reserved = _dataPlane.Connections.TryReserve())) : Descriptors.Available()))
        {
            if (Timers.IsTimerActive("relief")) return;
            _reliefWait = Doubled(_reliefWait, MaxReliefWait);
            Timers.StartSingleTimer("relief", new Relieve(), _reliefWait);
            return;
        }
        if (_newShortage) _log.Info("listener {0}: descriptors free again after {1:F1}s; accepting", _address, System.Diagnostics.Stopwatch.GetElapsedTime(_heldSince).TotalSeconds);
        _resumedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        Resume();
    }

    /// <summary>Serves the connection held back, if any, and asks for the next (unbinding: whatever is pending).</summary>
    private void Resume()
    {
        Timers.Cancel("relief");
        _paused = false;
        _pendingFull = false;
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
        // Unbinding (or after a restart, the previous stream's queue), the kernel's queue is emptied whatever the descriptors:
        // beyond the reserve a connection is closed.
        if (!place) cap = $"{DataPlaneSettings.DescriptorReserveKey} ({_dataPlane.Connections.Descriptors.Reserve}, emptying the queue of a stopped accept stream)";
        else if (perListener > 0 && _connections >= perListener) cap = $"max-connections-per-listener ({perListener})";
        else if (perSource > 0 && _perSource.GetValueOrDefault(source) >= perSource) cap = $"max-connections-per-source ({perSource}, from {source})";
        else if (!_dataPlane.Connections.TryTake()) cap = $"max-connections of the node ({_settings.MaxConnections})";
        if (cap is null) return true;
        if (place) _dataPlane.Connections.Unreserve();
        _dataPlane.Metrics.Overflowed(_address.ToString());
        if (_refused++ % 100 == 0) _log.Warning("listener {0}: connection refused at {1}; {2} refused so far", _address, cap, _refused);
        return false;
    }

    /// <summary>
    /// The stock transport's accept stream closed a connection beyond the listen backlog (it accepts ahead of the listener):
    /// counted as the caps' closes are, from the stream's thread (the counters are thread-safe; it logs them itself).
    /// </summary>
    private Action Overflowed()
    {
        var metrics = _dataPlane.Metrics;
        var listener = _address.ToString();
        return () => metrics.Overflowed(listener);
    }

    private void StopWhenDrained()
    {
        // Stopping earlier would drop connections the kernel had queued that the accept stream still hands over.
        if (_unbinding && _connections == 0 && !_streamRunning && _previous.Count == 0) Context.Stop(Self);
    }

    protected override void PreStart() => StartBinding();

    protected override SupervisorStrategy SupervisorStrategy() => new Connections(this);

    protected override void PostStop()
    {
        _stopped = true;
        // Not yet bound when stopped: unbound as soon as it is (else its listening socket would stay open, in the kernel's
        // SO_REUSEPORT group beside a successor's, taking connections nobody accepts), unbinding or not: its BindResult,
        // which would unbind it, does not reach another instance.
        if (_binding is { } binding) binding.Unbind();
        else if (_streamRunning && _bindingPending is { } pending)
            pending.ContinueWith(t => t.Result.Unbind(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        _held?.Close();
        if (_reserved) _dataPlane.Connections.Unreserve();
        _reserved = false;
        StreamEnded();
        GiveBackStreamPlace();
        Waiting(false);
        _dataPlane.Metrics.PendingGone(_address.ToString(), _pending);
        // Stopped (or restarted) with connections still open: their ends, after this, are not counted by this instance.
        for (; _connections > 0; _connections--) _dataPlane.Connections.Release();
    }

    /// <summary>
    /// Restarted (ListenerSet's supervision, for a listener that threw again soon after <see cref="Recover"/>; its connections
    /// stop): the stream's binding is undone in PostStop, but an accept stream waiting for an ack (one connection accepted
    /// ahead) would never pull again to see it, and would keep its listening socket and that connection for ever: acked, it
    /// hands them to the next instance (the same actor), which serves them and acks until the stream has emptied its queue
    /// and ends. The next instance binds only if this one was not unbinding (its address removed: it unbinds at once).
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        var stream = _streamRunning ? _acceptStream : null;
        // Told before the binding is undone (in PostStop), so before the stream can end.
        if (_streamRunning) Self.Tell(new Previous(_stream));
        // What this instance still waited for, or had seen end unannounced, is the next one's to know (a second restart).
        foreach (var previous in _previous) Self.Tell(new Previous(previous));
        foreach (var ended in _endedEarly) Self.Tell(new StreamDone(ended));
        base.PreRestart(reason, message);
        stream?.Tell(new Ack());
        Self.Tell(_unbinding ? new Unbind() : new TryBind());
    }

    /// <summary>Not <see cref="PreStart"/>: <see cref="PreRestart"/> told the next instance whether to bind.</summary>
    protected override void PostRestart(Exception reason) => _fresh = true;

    private void StartBinding()
    {
        // A TryBind can come twice (after a wait for the previous listener, and from TakeUp): one stream at a time.
        if (_unbinding || _streamRunning) return;
        // The stream's place first, through the same compare-and-swap as connections': without room it waits as they do.
        if (!_streamPlace && !(_streamPlace = _dataPlane.Connections.TryReserveStream()))
        {
            // Connections leave a place free for a waiting stream: a busy listener would otherwise take each one freed.
            Waiting(true);
            var first = _placeWait == TimeSpan.Zero;
            _placeWait = first ? TimeSpan.FromMilliseconds(50) : Doubled(_placeWait, MaxReliefWait);
            if (first)
            {
                var why = $"waiting for descriptors: the node's connections and listeners take its room ({DataPlaneSettings.DescriptorReserveKey} stays free)";
                _log.Warning("listener {0}: {1}; binding once a place is free", _address, why);
                Context.Parent.Tell(new BindFailed(_address, why));
            }
            Timers.StartSingleTimer("bind", new TryBind(), _placeWait);
            return;
        }
        Waiting(false);
        _placeWait = TimeSpan.Zero;
        var endpoint = new IPEndPoint(_address.Address.ToAddress(), _address.Port);
        // This node's previous listener on the address still closes (emptying its queue after an unbind or a restart):
        // bound once it has, rather than beside it through SO_REUSEPORT, which would leave this socket open to anybody of
        // the node's uid (Transport/OwnListeners). At most one bind retry's wait (review1-s14 R5): a predecessor that keeps
        // draining (clients keep coming) or waits for room could otherwise keep this one unbound for ever, unsaid. Then it
        // binds anyway: beside it with reuse-port on; else the bind fails (address in use, said so), retried as any.
        if (_transport.Closing(endpoint) is { IsCompleted: false } closing)
        {
            if (!_waitedForPredecessor)
            {
                _waitedForPredecessor = true;
                Task.WhenAny(closing, Task.Delay(_settings.BindRetry)).PipeTo(Self, success: _ => new TryBind());
                return;
            }
            _log.Warning("listener {0}: this node's previous listener on the address still closes after {1} (bind-retry); binding anyway", _address, _settings.BindRetry);
        }
        else _waitedForPredecessor = false;
        try
        {
            _streamRunning = true;
            var stream = _stream = Interlocked.Increment(ref s_streams);
            // The socket transport accepts straight into this mailbox, speaking the stream's messages (bench/README.md, session 12).
            var binding = _transport is IDirectAccept direct
                ? Task.FromResult(direct.Listen(endpoint, _settings.ListenBacklog, Self, new StreamInit(stream), new StreamDone(stream), e => new StreamFailed(stream, e), _log,
                    _settings.ReusePort))
                : _transport.Bind(endpoint, _settings.ListenBacklog, Overflowed(), _settings.ReusePort)
                    // Its buffer holds one connection (16 by default), accepted ahead of its ack: the stream's place covers it.
                    .ToMaterialized(Sink.ActorRefWithAck<TcpConnection>(Self, new StreamInit(stream), new Ack(), new StreamDone(stream), e => new StreamFailed(stream, e))
                        .WithAttributes(Attributes.CreateInputBuffer(1, 1)), Keep.Left)
                    .Run(_materializer);
            _bindingPending = binding;
            binding.PipeTo(Self, success: b => new BindResult(stream, b, null), failure: e => new BindResult(stream, null, e));
        }
        catch (Exception e)
        {
            StreamEnded();
            Self.Tell(new BindResult(_stream, null, e));
        }
    }

    /// <summary>
    /// The accept stream ended. Unbinding, its place is given back, and the one it was asked for too; else the listener
    /// binds again and keeps its place for that (given back, other listeners' connections on a full node would take it
    /// first, and this one would stay unbound).
    /// </summary>
    private void StreamEnded()
    {
        _streamRunning = false;
        _bindingPending = null;
        if (_unbinding) GiveBackStreamPlace();
        if (_unbinding && _reserved && _held is null)
        {
            _reserved = false;
            _dataPlane.Connections.Unreserve();
        }
    }

    private void Waiting(bool waiting)
    {
        if (_waitingForPlace == waiting) return;
        _waitingForPlace = waiting;
        _dataPlane.Connections.WaitForStream(waiting);
    }

    private void GiveBackStreamPlace()
    {
        if (_streamPlace) _dataPlane.Connections.UnreserveStream();
        _streamPlace = false;
    }

    private void OnBindResult(BindResult result)
    {
        // The binding of the stream before a restart: PostStop unbinds it.
        if (result.Stream != _stream) return;
        _bindingPending = null;
        if (result.Binding is { } binding)
        {
            if (_unbinding) { binding.Unbind(); return; }
            _binding = binding;
            _retry = _settings.BindRetry;
            _waitedForPredecessor = false;
            _log.Info("listener {0}: bound", _address);
            Context.Parent.Tell(new Bound(_address));
            return;
        }
        if (_unbinding) return;
        var cause = result.Failure is AggregateException { InnerException: { } inner } ? inner : result.Failure!;
        var reason = Explained(cause);
        _log.Warning("listener {0}: bind failed: {1}; retrying in {2}", _address, reason, _retry);
        Context.Parent.Tell(new BindFailed(_address, reason));
        Timers.StartSingleTimer("bind", new TryBind(), _retry);
        _retry = Doubled(_retry, _settings.BindRetryMax);
    }

    /// <summary>
    /// A bind failure's message, and when the address is in use what to do about it (review1-s14 R6): reuse-port went off by
    /// default, so nodes sharing an address by other means than the compose file (systemd units, their own manifests) find
    /// their second node refused. The same text goes to the log and to the listener's status.
    /// </summary>
    private string Explained(Exception cause)
    {
        var reason = cause.InnerException?.Message ?? cause.Message;
        if (!InUse(cause)) return reason;
        var endpoint = new IPEndPoint(_address.Address.ToAddress(), _address.Port);
        if (_transport.Closing(endpoint) is { IsCompleted: false })
            return $"{reason}: this node's previous listener on it still closes (it empties what the kernel had queued for it)";
        return _settings.ReusePort
            ? $"{reason}: in use by a process that does not set SO_REUSEPORT, or runs under another uid"
            : $"{reason}: in use by another process; if that is another AkkaL4 node sharing the address, set {ReusePortKey} = on on every node sharing it";
    }

    internal const string ReusePortKey = "akkal4.data-plane.reuse-port";

    private static bool InUse(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }) return true;
        return false;
    }

    private static TimeSpan Doubled(TimeSpan wait, TimeSpan max) => TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, max.Ticks));
}
