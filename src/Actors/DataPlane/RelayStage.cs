using System.Net.Sockets;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The middle of a relayed connection, as one stage between the client's and the upstream's flows:
/// passes bytes both ways, counts them, ends the connection when it has been idle too long, and
/// reports each direction's end once. One stage instead of a chain of operators keeps what is built,
/// fused and materialised per connection small (measured in bench/README.md).
/// </summary>
internal sealed class RelayStage(RelayParts? parts)
    : GraphStageWithMaterializedValue<BidiShape<ByteString, ByteString, ByteString, ByteString>, RelayStage.Control>
{
    /// <summary>Byte counts, and the way to end the relay from outside.</summary>
    public sealed class Control
    {
        internal long FromClient;
        internal long ToClient;
        private Action<Exception?>? _end;
        private (bool Asked, Exception? Failure) _pendingStop;

        public long BytesFromClient => Interlocked.Read(ref FromClient);
        public long BytesToClient => Interlocked.Read(ref ToClient);

        /// <summary>
        /// Ends both directions: null closes them (half-close each way), an exception resets them. A
        /// stop asked before the relay runs (it is started elsewhere) takes effect when it starts.
        /// </summary>
        public void Stop(Exception? failure)
        {
            Action<Exception?>? end;
            lock (this)
            {
                end = _end;
                if (end is null) _pendingStop = (true, failure);
            }
            end?.Invoke(failure);
        }

        internal void Attach(Action<Exception?> end)
        {
            (bool Asked, Exception? Failure) pending;
            lock (this)
            {
                _end = end;
                pending = _pendingStop;
            }
            if (pending.Asked) end(pending.Failure);
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
        // Null: a shared blueprint, given each connection's parts by the host that materialises it.
        var given = parts ?? Relays.Materializing ?? throw new InvalidOperationException("a relay needs its RelayParts");
        return new LogicAndMaterializedValue<Control>(new Logic(this, given, given.Control), given.Control);
    }

    private sealed class Logic : TimerGraphStageLogic
    {
        private readonly RelayParts _parts;
        private readonly Control _control;
        private bool _upEnded;
        private bool _downEnded;
        private long _lastActivity = Environment.TickCount64;
        /// <summary>Sent upstream before the client's next bytes (a PROXY header, the bytes read to route the connection).</summary>
        private ByteString? _preamble;
        /// <summary>What the directions still open are reported to have ended with, when the stage stops.</summary>
        private Exception? _stopCause = new OperationCanceledException("relay stopped");

        public Logic(RelayStage stage, RelayParts parts, Control control) : base(stage.Shape)
        {
            _parts = parts;
            _control = control;
            _preamble = parts.UpstreamPreamble is { IsEmpty: false } preamble ? preamble : null;
            SetHandler(stage._fromClient,
                onPush: () =>
                {
                    var bytes = Grab(stage._fromClient);
                    Interlocked.Add(ref control.FromClient, bytes.Count);
                    _lastActivity = Environment.TickCount64;
                    Push(stage._toUpstream, bytes);
                },
                onUpstreamFinish: () =>
                {
                    // The client may finish before the upstream asked for anything: its preamble still goes first.
                    if (_preamble is { } preamble)
                    {
                        _preamble = null;
                        Emit(stage._toUpstream, preamble, () => Complete(stage._toUpstream));
                    }
                    else Complete(stage._toUpstream);
                    Ended(up: true, null);
                },
                onUpstreamFailure: e => { Fail(stage._toUpstream, e); Ended(up: true, e); });
            SetHandler(stage._toUpstream,
                onPull: () =>
                {
                    if (_preamble is null) Pull(stage._fromClient);
                    else
                    {
                        Push(stage._toUpstream, _preamble);
                        _preamble = null;
                    }
                },
                onDownstreamFinish: cause => { Cancel(stage._fromClient, cause); Ended(up: true, Failure(cause)); });
            SetHandler(stage._fromUpstream,
                onPush: () =>
                {
                    var bytes = Grab(stage._fromUpstream);
                    Interlocked.Add(ref control.ToClient, bytes.Count);
                    _lastActivity = Environment.TickCount64;
                    Push(stage._toClient, bytes);
                },
                onUpstreamFinish: () => { Complete(stage._toClient); Ended(up: false, null); },
                onUpstreamFailure: e => { Fail(stage._toClient, e); Ended(up: false, e); });
            SetHandler(stage._toClient,
                onPull: () => Pull(stage._fromUpstream),
                onDownstreamFinish: cause => { Cancel(stage._fromUpstream, cause); Ended(up: false, Failure(cause)); });
        }

        public override void PreStart()
        {
            var end = GetAsyncCallback<Exception?>(failure =>
            {
                _stopCause = failure;
                if (failure is null) CompleteStage();
                else FailStage(failure);
            });
            _control.Attach(end);
            Interlocked.Add(ref _control.FromClient, _parts.PreambleFromClient);
            if (_parts.IdleTimeout is { } idle) ScheduleOnce("idle", idle);
        }

        protected override void OnTimer(object timerKey)
        {
            var idle = _parts.IdleTimeout!.Value;
            var quiet = TimeSpan.FromMilliseconds(Environment.TickCount64 - _lastActivity);
            if (quiet >= idle)
            {
                // Reported as a timeout, but the sockets close with a FIN each way, as Envoy and HAProxy close an idle connection.
                _stopCause = new TimeoutException($"no bytes in either direction for {idle}");
                CompleteStage();
            }
            else ScheduleOnce("idle", idle - quiet);
        }

        public override void PostStop()
        {
            // Stopped before both directions ended on their own (idle, or stopped from outside).
            Ended(up: true, _stopCause);
            Ended(up: false, _stopCause);
        }

        private static Exception? Failure(Exception cause) => cause is SubscriptionWithCancelException.NonFailureCancellation ? null : cause;

        private void Ended(bool up, Exception? failure)
        {
            if (up ? _upEnded : _downEnded) return;
            if (up) _upEnded = true;
            else _downEnded = true;
            _parts.DirectionEnded(up, failure);
        }
    }
}

/// <summary>
/// What one relayed connection's stages need: its idle timeout, where each direction's end is
/// reported, (for two connections of the socket transport) its two sockets, and the bytes the
/// upstream gets first: <see cref="PreambleFromClient"/> of them (the last ones) came from the client
/// before the relay began and count as bytes from it.
/// </summary>
internal sealed record RelayParts(TimeSpan? IdleTimeout, Action<bool, Exception?> DirectionEnded, Socket? Client = null, Socket? Upstream = null,
    ByteString? UpstreamPreamble = null, int PreambleFromClient = 0)
    : Attributes.IAttribute
{
    /// <summary>The relay's byte counts and stop, known before it runs.</summary>
    public RelayStage.Control Control { get; } = new();
}
