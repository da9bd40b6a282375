using System.Net.Sockets;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The middle of a relayed connection, as one stage between the client's and the upstream's flows:
/// passes bytes both ways, counts them, ends the connection when it has been idle too long, and
/// reports how both directions ended, once, when the second has. One stage instead of a chain of operators keeps what is built,
/// fused and materialised per connection small (measured in bench/README.md).
/// </summary>
internal sealed class RelayStage(RelayParts parts)
    : GraphStageWithMaterializedValue<BidiShape<ByteString, ByteString, ByteString, ByteString>, RelayStage.Control>
{
    /// <summary>Byte counts, and the way to end the relay from outside.</summary>
    public sealed class Control
    {
        internal long FromClient;
        internal long ToClient;
        /// <summary>Reads of the socket relay that found their socket empty, each a system call for nothing (written by the stage's thread; for tests).</summary>
        internal int EmptyReads;
        /// <summary>Its place in the open relays of the metrics' series it counts in (<see cref="Traffic"/>), by kind.</summary>
        internal Traffic.Links Series;
        // The control is handed out (the connection actor and the metrics hold it): locking it would let outside code block a stop.
        private readonly object _gate = new();
        private Action<object>? _end;
        /// <summary>A stop asked before the stage attached: <see cref="Close"/> or the failure (null: none asked).</summary>
        private object? _pendingStop;

        public long BytesFromClient => Interlocked.Read(ref FromClient);
        public long BytesToClient => Interlocked.Read(ref ToClient);

        /// <summary>
        /// Ends both directions: null closes them (half-close each way), an exception resets them. A
        /// stop asked before the relay runs (it is started elsewhere) takes effect when it starts.
        /// </summary>
        public void Stop(Exception? failure)
        {
            object stop = failure is null ? Close : failure;
            Action<object>? end;
            lock (_gate)
            {
                end = _end;
                if (end is null) _pendingStop = stop;
            }
            end?.Invoke(stop);
        }

        /// <summary>How a stage is told to stop: <see cref="Close"/>, or the exception to reset both connections with.</summary>
        internal enum Stopping { Close }

        /// <summary>
        /// What <see cref="Stop"/> tells the stage for a stop without a failure: a value of its own type, so nothing else a stage's
        /// callback is given (a failure, a socket's completion, its own timers) can be taken for it, and it for no failure. Boxed
        /// once; a stage matches it by value. The stage attaches its own callback, with no closure to turn null into its close
        /// message (~88 bytes per connection, bench/README.md session 14).
        /// </summary>
        internal static readonly object Close = Stopping.Close;

        internal void Attach(Action<object> end)
        {
            object? pending;
            lock (_gate)
            {
                _end = end;
                pending = _pendingStop;
            }
            if (pending is not null) end(pending);
        }
    }

    private readonly Inlet<ByteString> _fromClient = new("relay.fromClient");
    private readonly Outlet<ByteString> _toUpstream = new("relay.toUpstream");
    private readonly Inlet<ByteString> _fromUpstream = new("relay.fromUpstream");
    private readonly Outlet<ByteString> _toClient = new("relay.toClient");

    public override BidiShape<ByteString, ByteString, ByteString, ByteString> Shape => new(_fromClient, _toUpstream, _fromUpstream, _toClient);

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("relay");

    public override ILogicAndMaterializedValue<Control> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        return new LogicAndMaterializedValue<Control>(new Logic(this, parts, parts.Control), parts.Control);
    }

    // Its own handlers, one object per direction (lambda handlers were ten delegates and four wrappers per connection),
    // built with the port counts rather than the shape (that constructor makes a LogSource and a string per stage),
    // and its idle timeout in the node's IdleSweep rather than a stage timer: all of it held by every idle connection.
    private sealed class Logic : GraphStageLogic, IdleSweep.IIdle
    {
        /// <summary>Posted by the sweep: end the relay if it is still idle (an object of its own, never taken for a failure).</summary>
        private static readonly object IdleCheck = new();

        private readonly RelayParts _parts;
        private readonly Control _control;
        private readonly long _idleMs;
        /// <summary>Which directions have ended: the relay's end is one message to the actor, told when the second has.</summary>
        private RelayEnds _ends;
        private long _lastActivity = Environment.TickCount64;
        private Action<object>? _end;
        /// <summary>Sent upstream before the client's next bytes (a PROXY header, the bytes read to route the connection).</summary>
        private ByteString? _preamble;
        /// <summary>Why the stage was stopped, when it was (null: closed from outside); reported for the directions still open.</summary>
        private (bool Set, Exception? Cause) _stopCause;

        public Logic(RelayStage stage, RelayParts parts, Control control) : base(2, 2)
        {
            _parts = parts;
            _control = control;
            _idleMs = parts.IdleTimeout is { } idle ? (long)Math.Ceiling(idle.TotalMilliseconds) : 0;
            // Without the sweep, an idle timeout would silently never fire (a connection, and its descriptors, held for ever).
            if (_idleMs > 0 && parts.Sweep is null) throw new InvalidOperationException("a relay with an idle timeout needs the node's IdleSweep");
            _preamble = parts.UpstreamPreamble is { IsEmpty: false } preamble ? preamble : null;
            var up = new Direction(this, true, stage._fromClient, stage._toUpstream);
            var down = new Direction(this, false, stage._fromUpstream, stage._toClient);
            SetHandler(stage._fromClient, up);
            SetHandler(stage._toUpstream, up);
            SetHandler(stage._fromUpstream, down);
            SetHandler(stage._toClient, down);
        }

        protected override object LogSource => Akka.Event.LogSource.Create("relay");

        long IdleSweep.IIdle.LastActivity => Volatile.Read(ref _lastActivity);
        long IdleSweep.IIdle.IdleTimeoutMs => _idleMs;
        int IdleSweep.IIdle.SweepSlot { get; set; } = -1;
        void IdleSweep.IIdle.Expire() => _end?.Invoke(IdleCheck);

        /// <summary>Client to upstream, or upstream to client.</summary>
        private sealed class Direction(Logic logic, bool up, Inlet<ByteString> from, Outlet<ByteString> to) : IInHandler, IOutHandler
        {
            public void OnPush()
            {
                var bytes = logic.Grab(from);
                if (up) Interlocked.Add(ref logic._control.FromClient, bytes.Count);
                else Interlocked.Add(ref logic._control.ToClient, bytes.Count);
                if (logic._idleMs > 0) Volatile.Write(ref logic._lastActivity, Environment.TickCount64);
                logic.Push(to, bytes);
            }

            public void OnUpstreamFinish()
            {
                // The client may finish before the upstream asked for anything: its preamble still goes first.
                if (up && logic._preamble is { } preamble)
                {
                    logic._preamble = null;
                    logic.Emit(to, preamble, () => logic.Complete(to));
                }
                else logic.Complete(to);
                logic.Ended(up, null, clientSide: up);
            }

            public void OnUpstreamFailure(Exception e)
            {
                logic.Fail(to, e);
                logic.Ended(up, e, clientSide: up);
            }

            public void OnPull()
            {
                if (up && logic._preamble is { } preamble)
                {
                    logic._preamble = null;
                    logic.Push(to, preamble);
                }
                else logic.Pull(from);
            }

            public void OnDownstreamFinish(Exception cause)
            {
                logic.Cancel(from, cause);
                // Cancelled by the socket this direction writes to: a failure there is that side's (a client's reset
                // cancels the upstream-to-client direction first, with the reset as its cause).
                logic.Ended(up, cause is SubscriptionWithCancelException.NonFailureCancellation ? null : cause, clientSide: !up);
            }
        }

        public override void PreStart()
        {
            var end = _end = GetAsyncCallback<object>(message =>
            {
                switch (message)
                {
                    case Control.Stopping.Close:
                        _stopCause = (true, null);
                        CloseWithin();
                        break;
                    case Exception failure:
                        _stopCause = (true, failure);
                        FailStage(failure);
                        break;
                    default:
                        if (ReferenceEquals(message, IdleCheck)) ExpireIfIdle();
                        break;
                }
            });
            _control.Attach(end);
            Interlocked.Add(ref _control.FromClient, _parts.PreambleFromClient);
            if (_idleMs > 0) _parts.Sweep!.Add(this);
        }

        private void ExpireIfIdle()
        {
            if (Environment.TickCount64 - _lastActivity < _idleMs) return;
            // Reported as a timeout, but the sockets close with a FIN each way, as Envoy and HAProxy close an idle connection.
            _stopCause = (true, new TimeoutException($"no bytes in either direction for {_parts.IdleTimeout}"));
            CloseWithin();
        }

        /// <summary>
        /// Closes both ways (each socket's stage shuts down sending once what it holds is written), and resets both
        /// connections after the flush deadline: a peer that does not read would otherwise hold the sockets, their stages
        /// and what they hold for ever. By then a connection that flushed is closed, and the reset does nothing to it.
        /// </summary>
        private void CloseWithin()
        {
            if (_parts.Reset is { } reset) Materializer.ScheduleOnce(SocketRelayStage.FlushDeadline, reset);
            CompleteStage();
        }

        public override void PostStop()
        {
            if (_idleMs > 0) _parts.Sweep!.Remove(this);
            // Stopped before both directions ended on their own (idle, or stopped from outside).
            if (_ends.Both) return;
            var cause = _stopCause.Set ? _stopCause.Cause : new OperationCanceledException("relay stopped");
            Ended(up: true, cause, clientSide: true);
            Ended(up: false, cause, clientSide: false);
        }

        private void Ended(bool up, Exception? failure, bool clientSide) => _ends.Ended(up, failure, clientSide, _parts);
    }
}

/// <summary>A relay's two directions ending: <see cref="RelayEnded"/> is told once, when the second has (one hop to the actor, not two).</summary>
internal struct RelayEnds
{
    private bool _up;
    private bool _down;
    /// <summary>The direction that ended first, and how.</summary>
    private (bool ClientSide, Exception? Failure) _first;

    public readonly bool Both => _up && _down;

    /// <summary>A direction ended; <paramref name="clientSide"/>: its failure, if any, came from the client's socket (else the upstream's).</summary>
    public void Ended(bool up, Exception? failure, bool clientSide, RelayParts parts)
    {
        if (up ? _up : _down) return;
        if (up) _up = true;
        else _down = true;
        if (!Both)
        {
            _first = (clientSide, failure);
            return;
        }
        parts.Ended(new RelayEnded(_first, (clientSide, failure)));
    }
}

/// <summary>
/// How a relay ended, told once both directions have: each direction's failure (null: it finished) and whether it came
/// from the client's socket or the upstream's, in the order they ended.
/// </summary>
internal sealed record RelayEnded((bool ClientSide, Exception? Failure) First, (bool ClientSide, Exception? Failure) Second);

/// <summary>
/// What one relayed connection's stages need: its idle timeout, where the relay's end is
/// reported, (for two connections of the socket transport) its two sockets, and the bytes the
/// upstream gets first: <see cref="PreambleFromClient"/> of them (the last ones) came from the client
/// before the relay began and count as bytes from it.
/// </summary>
internal sealed record RelayParts(TimeSpan? IdleTimeout, Action<RelayEnded> Ended, Socket? Client = null, Socket? Upstream = null,
    ByteString? UpstreamPreamble = null, int PreambleFromClient = 0)
    : Attributes.IAttribute
{
    // Set in place by Relays.Run, which starts each relay once: a copy (`with`) was one more object per connection.
    /// <summary>The client's socket (socket transport: set by <see cref="Relays"/>).</summary>
    public Socket? Client { get; internal set; } = Client;

    /// <summary>The upstream's socket (socket transport: set by <see cref="Relays"/>).</summary>
    public Socket? Upstream { get; internal set; } = Upstream;

    /// <summary>Where the relay's idle timeout is kept (set by <see cref="Relays"/>); required with an idle timeout.</summary>
    internal IdleSweep? Sweep { get; set; }

    /// <summary>The socket relay's sockets complete on the runtime's event thread (set by <see cref="Relays"/>: <see cref="Transport.InlineCompletions"/>).</summary>
    internal bool InlineCompletions { get; set; }

    /// <summary>
    /// Resets both connections of a <see cref="RelayStage"/>, from any thread (set by <see cref="Relays"/>): what a gentle
    /// stop or idle timeout does when the flush deadline has passed.
    /// </summary>
    internal Action? Reset { get; init; }

    /// <summary>The relay's byte counts and stop, known before it runs.</summary>
    public RelayStage.Control Control { get; } = new();
}
