using System.Buffers;
using System.Net.Sockets;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Implementation.Fusing;
using Akka.Streams.Stage;
using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// A relayed connection between two sockets of the socket transport, as one stage: the relay of <see cref="RelayStage"/>
/// (byte counts, idle timeout, the upstream's preamble, half-close each way, one <see cref="RelayEnded"/>) with both
/// sockets' reads and writes of <see cref="SocketStage"/> in the same logic. Each direction reads what the socket holds
/// into a buffer of the thread's and writes it to the other socket at once; only what the other socket does not take then
/// is copied (into a pooled array) and sent asynchronously, and that direction reads nothing more until it is sent, as
/// HAProxy and nginx hold one buffer per direction. Three stages joined by nine interpreter edges, each read a ByteString
/// and a pass through the graph, were the largest part of what a connection materialised and kept (bench/README.md,
/// session 11). Failures: an error on either socket resets both, and both directions end with it, that socket's side.
/// </summary>
internal sealed class SocketRelayStage : GraphStageWithMaterializedValue<SourceShape<NotUsed>, RelayStage.Control>
{
    /// <summary>The largest read: HAProxy's and nginx's buffer size in compare.sh, and below the large-object heap.</summary>
    private const int MaxRead = 64 * 1024;

    /// <summary>Reads (and writes) in a row for one direction before it lets the host's other relays run.</summary>
    private const int ReadsPerTurn = 16;

    /// <summary>
    /// A read of fewer bytes is a message, not part of a stream: its sender most likely waits for the answer, so the socket is
    /// most likely empty now and the direction waits at once (<see cref="Side.LikelyEmpty"/>). Streams (reads of more) read
    /// again first, as before.
    /// </summary>
    private const int MessageRead = 4 * 1024;

    /// <summary>
    /// How long a gentle stop (max duration, drain) waits for a pending send before it resets both sockets: a peer that
    /// does not read would otherwise hold both descriptors and the pending buffer for ever, past the connection's end.
    /// </summary>
    internal static readonly TimeSpan FlushDeadline = TimeSpan.FromSeconds(5);

    /// <summary>The one blueprint: each connection's parts come from the host that materialises it (<see cref="Relays.Materializing"/>).</summary>
    public static readonly SocketRelayStage Instance = new();

    private SocketRelayStage()
    {
    }

    // A source that never emits (Akka's interpreter runs no stage without a port), into a sink that never pulls.
    private readonly Outlet<NotUsed> _out = new("socket-relay.out");

    public override SourceShape<NotUsed> Shape => new(_out);

    /// <summary>The relay as a runnable graph: the stage into a sink of no cost (Sink.Ignore would make a Task per relay).</summary>
    public static IRunnableGraph<RelayStage.Control> Graph => Source.FromGraph(Instance).ToMaterialized(Sink.FromGraph(Nowhere.Instance), Keep.Left);

    private sealed class Nowhere : GraphStage<SinkShape<NotUsed>>
    {
        public static readonly Nowhere Instance = new();
        private readonly Inlet<NotUsed> _in = new("socket-relay.nowhere");

        public override SinkShape<NotUsed> Shape => new(_in);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

        private sealed class Logic : InGraphStageLogic
        {
            public Logic(Nowhere stage) : base(1, 0) => SetHandler(stage._in, this);

            public override void OnPush()
            {
            }
        }
    }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("socket-relay");

    public override ILogicAndMaterializedValue<RelayStage.Control> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var parts = Relays.Materializing ?? throw new InvalidOperationException("a socket relay is materialised by its host, with its RelayParts");
        return new LogicAndMaterializedValue<RelayStage.Control>(new Logic(this, parts), parts.Control);
    }

    /// <summary>Where a direction's reads land, one per thread: a read is written on at once, on the same thread.</summary>
    [ThreadStatic] private static byte[]? _readBuffer;

    private static readonly Func<SocketAsyncEventArgs, object> Itself = e => e;

    /// <summary>Told through the stage's callback by the idle sweep: end the relay if it is still idle.</summary>
    private static readonly object IdleCheck = new();

    /// <summary>Told through the stage's callback when a gentle stop's flush is out of time: reset both sockets.</summary>
    private static readonly object FlushExpired = new();

    /// <summary>One socket: reading it is one direction, writing it the other's end.</summary>
    private sealed class Side(Socket socket, bool client)
    {
        public readonly Socket Socket = socket;
        public readonly bool Client = client;
        public Side Peer = null!;
        /// <summary>A zero-byte receive: completes once the socket is readable (the wait holds no buffer).</summary>
        public SocketStage.Args<object> Wait = null!;
        /// <summary>Made once a write did not complete at once.</summary>
        public SocketStage.Args<object>? Send;
        public bool Waiting;
        /// <summary>
        /// The socket most likely holds nothing (its last read was a message; or, for the upstream, nothing was read yet): the
        /// direction waits instead of reading. The wait's own first try (the runtime peeks at the socket) finds what did arrive,
        /// so a read before it would most likely be a system call for nothing, and on this kind of virtual machine a system
        /// call is a large part of what a connection costs (bench/README.md, session 19).
        /// </summary>
        public bool LikelyEmpty;
        public bool Sending;
        /// <summary>Nothing more is read: end of stream, or the relay is stopping.</summary>
        public bool ReadDone;
        /// <summary>Sending is shut down.</summary>
        public bool WriteDone;
        /// <summary>The pooled array of the send in flight.</summary>
        public byte[]? Pending;
        /// <summary>The peer reset this socket: the kernel has closed the connection, so there is no reset left to send.</summary>
        public bool ResetByPeer;
    }

    private sealed class Logic : GraphStageLogic, IdleSweep.IIdle, IOutHandler
    {
        private readonly RelayParts _parts;
        private readonly RelayStage.Control _control;
        private readonly Side _client;
        private readonly Side _upstream;
        private readonly long _idleMs;
        private long _lastActivity = Environment.TickCount64;
        /// <summary>Tells the stage an event from any thread (<see cref="StageEvents"/>; Akka's async callback where it cannot).</summary>
        private Action<object> _callback = null!;
        /// <summary>The interpreter running the stage, while <see cref="StageEvents"/> can tell it events; else null.</summary>
        private GraphInterpreter? _interpreter;
        /// <summary><see cref="OnAsync"/>, which every event runs inside the interpreter.</summary>
        private Action<object> _handler = null!;
        private bool _reset;
        /// <summary>The stage has completed itself: nothing more is read or written.</summary>
        private bool _done;
        /// <summary>Which directions have ended: the relay's end is one message to the actor, told when the second has.</summary>
        private RelayEnds _ends;
        /// <summary>A gentle stop's deadline for the sends still pending.</summary>
        private Akka.Actor.ICancelable? _flushDeadline;

        public Logic(SocketRelayStage stage, RelayParts parts) : base(0, 1)
        {
            SetHandler(stage._out, this);
            _parts = parts;
            _control = parts.Control;
            _idleMs = parts.IdleTimeout is { } idle ? (long)Math.Ceiling(idle.TotalMilliseconds) : 0;
            if (_idleMs > 0 && parts.Sweep is null) throw new InvalidOperationException("a relay with an idle timeout needs the node's IdleSweep");
            _client = new Side(parts.Client ?? throw new InvalidOperationException("a socket relay needs the client's socket"), client: true);
            _upstream = new Side(parts.Upstream ?? throw new InvalidOperationException("a socket relay needs the upstream's socket"), client: false);
            _client.Peer = _upstream;
            _upstream.Peer = _client;
            // Freshly dialled, the upstream has sent nothing yet (a server that speaks first is found by the wait's try); the
            // client most likely has: it sent as it connected, and the dial took a round trip.
            _upstream.LikelyEmpty = true;
        }

        protected override object LogSource => Akka.Event.LogSource.Create("socket-relay");

        long IdleSweep.IIdle.LastActivity => Volatile.Read(ref _lastActivity);
        long IdleSweep.IIdle.IdleTimeoutMs => _idleMs;
        int IdleSweep.IIdle.SweepSlot { get; set; } = -1;
        void IdleSweep.IIdle.Expire() => _callback(IdleCheck);

        // The outlet carries nothing; it closes when the stage completes.
        public void OnPull() { }
        public void OnDownstreamFinish(Exception cause) { }

        public override void PreStart()
        {
            _interpreter = StageEvents.Of(this);
            _handler = OnAsync;
            var callback = _callback = _interpreter is null ? GetAsyncCallback(_handler) : Tell;
            foreach (var side in (ReadOnlySpan<Side>)[_client, _upstream])
            {
                side.Socket.Blocking = false;
                if (_parts.InlineCompletions) InlineCompletions.Prefer(side.Socket);
                side.Wait = NewArgs();
                side.Wait.SetBuffer(Memory<byte>.Empty);
            }
            // A stop from outside with no failure comes as RelayStage.Control.Stopping.Close: close both ways.
            _control.Attach(callback);
            Interlocked.Add(ref _control.FromClient, _parts.PreambleFromClient);
            if (_idleMs > 0) _parts.Sweep!.Add(this);
            if (_parts.UpstreamPreamble is { IsEmpty: false } preamble)
            {
                var bytes = preamble.ToArray();
                // Before any of the client's bytes: while it is being sent, the client is not read.
                Write(_upstream, bytes, bytes.Length);
            }
            Pump(_client);
            Pump(_upstream);
        }

        /// <summary>Args whose completions come back to <see cref="OnAsync"/>, told with no allocation where <see cref="StageEvents"/> can.</summary>
        private SocketStage.Args<object> NewArgs()
        {
            var args = new SocketStage.Args<object>(Itself);
            if (_interpreter is { } interpreter) args.Prepared = StageEvents.Prepare(interpreter, this, _handler, args);
            else args.Callback = _callback;
            return args;
        }

        private void Tell(object message) => StageEvents.Tell(_interpreter!, this, _handler, message);

        private void OnAsync(object message)
        {
            switch (message)
            {
                case SocketStage.Args<object> args:
                    args.Delivered();
                    var side = ReferenceEquals(args, _client.Wait) || ReferenceEquals(args, _client.Send) ? _client : _upstream;
                    if (ReferenceEquals(args, side.Wait)) WaitEnded(side, args.SocketError);
                    else SendEnded(side, args.SocketError, args.BytesTransferred);
                    break;
                case Side turn:
                    Pump(turn);
                    break;
                case RelayStage.Control.Stopping.Close:
                    StopAll(null, reset: false, FlushDeadline);
                    break;
                case Exception failure:
                    StopAll(failure, reset: true);
                    break;
                default:
                    if (ReferenceEquals(message, IdleCheck)) ExpireIfIdle();
                    else if (ReferenceEquals(message, FlushExpired) && !_done) Abort();
                    break;
            }
        }

        // ---- a direction: read from one side, write to its peer ----

        /// <summary>Moves what <paramref name="from"/> holds to its peer until it holds nothing (then waits), the peer stops taking it, or its turn is up.</summary>
        private void Pump(Side from)
        {
            var to = from.Peer;
            var buffer = _readBuffer ??= new byte[MaxRead];
            for (var reads = 0; ; reads++)
            {
                if (from.ReadDone || from.Waiting || to.Sending || _done) return;
                if (reads == ReadsPerTurn)
                {
                    // Goes on after the relays queued at the host meanwhile.
                    _callback(from);
                    return;
                }
                if (from.LikelyEmpty)
                {
                    from.LikelyEmpty = false;
                    if (!Readable(from)) return;
                    continue;
                }
                var read = from.Socket.Receive(buffer, 0, buffer.Length, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                {
                    _control.EmptyReads++;
                    if (!Readable(from)) return;
                    continue;
                }
                if (error != SocketError.Success)
                {
                    Fail(from, SocketErrors.Of(error));
                    return;
                }
                if (read == 0)
                {
                    EndOfStream(from);
                    return;
                }
                from.LikelyEmpty = read < MessageRead;
                if (from.Client) Interlocked.Add(ref _control.FromClient, read);
                else Interlocked.Add(ref _control.ToClient, read);
                if (_idleMs > 0) Volatile.Write(ref _lastActivity, Environment.TickCount64);
                if (!Write(to, buffer, read)) return;
            }
        }

        /// <summary>
        /// Waits until <paramref name="from"/> is readable (or ends): true if it is at once, so the caller reads; false while the
        /// wait is pending (<see cref="WaitEnded"/> goes on) or after it failed.
        /// </summary>
        private bool Readable(Side from)
        {
            from.Waiting = true;
            if (from.Socket.ReceiveAsync(from.Wait)) return false;
            from.Waiting = false;
            if (from.Wait.SocketError == SocketError.Success) return true;
            Fail(from, SocketErrors.Of(from.Wait.SocketError));
            return false;
        }

        private void WaitEnded(Side from, SocketError error)
        {
            from.Waiting = false;
            if (from.ReadDone) return;
            if (error != SocketError.Success) Fail(from, SocketErrors.Of(error));
            else Pump(from);
        }

        /// <summary>
        /// Writes <paramref name="count"/> bytes of <paramref name="bytes"/> to <paramref name="to"/>: true when the socket
        /// took them all; else the rest goes asynchronously (false), or the write failed (false).
        /// </summary>
        private bool Write(Side to, byte[] bytes, int count)
        {
            var sent = to.Socket.Send(bytes, 0, count, SocketFlags.None, out var error);
            if (error is not (SocketError.Success or SocketError.WouldBlock))
            {
                Fail(to, SocketErrors.Of(error));
                return false;
            }
            if (error == SocketError.WouldBlock) sent = 0;
            if (sent == count) return true;
            // The socket's buffer is full: the rest is sent when it has room (bytes may be the thread's read buffer: copied).
            var rest = count - sent;
            var pending = to.Pending = ArrayPool<byte>.Shared.Rent(rest);
            Buffer.BlockCopy(bytes, sent, pending, 0, rest);
            var args = to.Send ??= NewArgs();
            args.SetBuffer(pending, 0, rest);
            to.Sending = true;
            // Completed at once after all: the direction goes on in the caller's loop (no recursion through Pump).
            return !to.Socket.SendAsync(args) && Sent(to, args.SocketError, args.BytesTransferred);
        }

        /// <summary>An asynchronous write completed: the direction goes on, or ends if its source has.</summary>
        private void SendEnded(Side to, SocketError error, int sent)
        {
            if (!Sent(to, error, sent)) return;
            var from = to.Peer;
            if (from.ReadDone) ShutdownSend(to);
            else Pump(from);
        }

        private bool Sent(Side to, SocketError error, int sent)
        {
            to.Sending = false;
            var expected = to.Send!.Count;
            if (to.Pending is { } pending) ArrayPool<byte>.Shared.Return(pending);
            to.Pending = null;
            if (error != SocketError.Success)
            {
                Fail(to, SocketErrors.Of(error));
                return false;
            }
            // Stream sockets send everything or fail; anything else is a broken promise worth failing on.
            if (sent == expected) return true;
            Fail(to, new IOException($"sent {sent} of {expected} bytes"));
            return false;
        }

        /// <summary>The peer of <paramref name="from"/> finished sending: so does this direction, once what it holds is written.</summary>
        private void EndOfStream(Side from)
        {
            from.ReadDone = true;
            Ended(up: from.Client, null, clientSide: from.Client);
            if (!from.Peer.Sending) ShutdownSend(from.Peer);
        }

        private void ShutdownSend(Side to)
        {
            if (to.WriteDone) return;
            to.WriteDone = true;
            try
            {
                to.Socket.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The peer is gone already: nothing left to tell it.
            }
            if (_client.ReadDone && _client.WriteDone && _upstream.ReadDone && _upstream.WriteDone) Finish();
        }

        private void Finish()
        {
            _done = true;
            CompleteStage();
        }

        // ---- the end ----

        /// <summary>A socket failed: both are reset, and both directions end with its failure (the one writing to it first).</summary>
        private void Fail(Side side, Exception cause)
        {
            side.ResetByPeer |= cause is SocketException { SocketErrorCode: SocketError.ConnectionReset };
            Ended(up: !side.Client, cause, clientSide: side.Client);
            Ended(up: side.Client, cause, clientSide: side.Client);
            _reset = true;
            Finish();
        }

        /// <summary>
        /// Stopped from outside (or idle): with a failure both sockets are reset; without, each stops reading and shuts down
        /// sending once what it holds is written, within <paramref name="flush"/> (then both are reset). Both directions are
        /// reported with <paramref name="cause"/>.
        /// </summary>
        private void StopAll(Exception? cause, bool reset, TimeSpan? flush = null)
        {
            Ended(up: true, cause, clientSide: true);
            Ended(up: false, cause, clientSide: false);
            if (reset)
            {
                Abort();
                return;
            }
            _client.ReadDone = _upstream.ReadDone = true;
            if (!_client.Sending) ShutdownSend(_client);
            if (!_upstream.Sending) ShutdownSend(_upstream);
            if (_done || !(_client.Sending || _upstream.Sending)) return;
            if (flush is { } deadline && deadline > TimeSpan.Zero)
                _flushDeadline ??= Materializer.ScheduleOnce(deadline, () => _callback(FlushExpired));
            else Abort();
        }

        /// <summary>Resets both sockets and completes.</summary>
        private void Abort()
        {
            _reset = true;
            Finish();
        }

        private void ExpireIfIdle()
        {
            if (_done || Environment.TickCount64 - Volatile.Read(ref _lastActivity) < _idleMs) return;
            // Reported as a timeout, but the sockets close with a FIN each way, as Envoy and HAProxy close an idle connection.
            // A send still pending has not moved for the whole idle timeout (reads wait for it): it is the stall, so the
            // sockets are reset at once rather than given more time.
            StopAll(new TimeoutException($"no bytes in either direction for {_parts.IdleTimeout}"), reset: false, flush: TimeSpan.Zero);
        }

        public override void PostStop()
        {
            if (_idleMs > 0) _parts.Sweep!.Remove(this);
            _flushDeadline?.Cancel();
            // Stopped before both directions ended (the host's stream ended under it).
            if (!_ends.Both)
            {
                var cause = new OperationCanceledException("relay stopped");
                Ended(up: true, cause, clientSide: true);
                Ended(up: false, cause, clientSide: false);
            }
            Close(_client);
            Close(_upstream);
        }

        private void Close(Side side)
        {
            // Stopped before the close: an operation the close aborts disposes its args without calling back.
            side.Wait?.Stop(pending: side.Waiting);
            side.Send?.Stop(pending: side.Sending);
            // A failed or cancelled connection is reset, as Envoy and HAProxy do; a finished one closes. One the peer reset is
            // closed already in the kernel (a client that resets is every connection of compare.sh's connrate): SO_LINGER on it
            // would be a system call that changes nothing.
            if ((_reset || !side.ReadDone || !side.WriteDone) && !side.ResetByPeer) SocketStage.Reset(side.Socket);
            else side.Socket.Dispose();
        }

        private void Ended(bool up, Exception? failure, bool clientSide) => _ends.Ended(up, failure, clientSide, _parts);
    }
}
