using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// Put around an Akka.IO TCP flow (joined to it, fused): its materialised <see cref="Handle"/> resets the connection from
/// any thread, however far its ends have gone (a relay's flush deadline: <see cref="TcpConnection.Reset"/>). Akka's TCP
/// stage resets its connection (<c>Tcp.Abort</c>) only for a failure on a port still open, and its ports close early: the
/// relay cancels the reading side at a gentle stop, the sending side's end waits behind a write that a peer that does not
/// read never lets complete (<see cref="EndAfterLastWrite"/>), and after a half-close Akka.IO waits for the peer's FIN and
/// ignores a <c>Close</c>. So a cancel without a failure does not reach the TCP stage: this stage reads on and drops what
/// comes (what the TCP stage itself does then) until the peer's FIN, and a reset fails both ports into the TCP stage.
/// Elements, failures and the sending side's end pass straight through.
/// </summary>
internal sealed class ResettableSocket : GraphStageWithMaterializedValue<BidiShape<ByteString, ByteString, ByteString, ByteString>, ResettableSocket.Handle>
{
    public static readonly ResettableSocket Instance = new();

    /// <summary>Resets the connection once, from any thread; asked before the stage runs, when it starts; after it stopped, nothing.</summary>
    public sealed class Handle
    {
        // The handle is handed out (held by every stock TcpConnection): locking it would let outside code block a reset.
        private readonly object _gate = new();
        private Action<Exception>? _reset;
        private bool _asked;

        public void Reset()
        {
            Action<Exception>? reset;
            lock (_gate)
            {
                if (_asked) return;
                _asked = true;
                reset = _reset;
            }
            reset?.Invoke(Resetting());
        }

        internal void Attach(Action<Exception> reset)
        {
            bool asked;
            lock (_gate)
            {
                _reset = reset;
                asked = _asked;
            }
            if (asked) reset(Resetting());
        }

        /// <summary>The stage has stopped: nothing is left to reset (and no interpreter to run on).</summary>
        internal void Detach()
        {
            lock (_gate) _reset = null;
        }
    }

    /// <summary>
    /// What the TCP stage is failed with: it tells Akka.IO to reset the connection. A new one each time: the cause reaches
    /// awaiting code and may be rethrown on several threads at once, which would race on one shared instance's stack trace.
    /// </summary>
    private static Exception Resetting() => new OperationCanceledException("the connection was reset: its relay's flush deadline passed");

    private readonly Inlet<ByteString> _toSend = new("resettable-socket.toSend");
    private readonly Outlet<ByteString> _intoSocket = new("resettable-socket.intoSocket");
    private readonly Inlet<ByteString> _fromSocket = new("resettable-socket.fromSocket");
    private readonly Outlet<ByteString> _received = new("resettable-socket.received");

    private ResettableSocket() => Shape = new BidiShape<ByteString, ByteString, ByteString, ByteString>(_toSend, _intoSocket, _fromSocket, _received);

    public override BidiShape<ByteString, ByteString, ByteString, ByteString> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("resettable-socket");

    public override ILogicAndMaterializedValue<Handle> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var handle = new Handle();
        return new LogicAndMaterializedValue<Handle>(new Logic(this, handle), handle);
    }

    private sealed class Logic : GraphStageLogic
    {
        private readonly ResettableSocket _stage;
        private readonly Handle _handle;
        /// <summary>The reading side was cancelled without a failure: what the socket still delivers is dropped.</summary>
        private bool _dropping;

        public Logic(ResettableSocket stage, Handle handle) : base(stage.Shape)
        {
            _stage = stage;
            _handle = handle;
            SetHandler(stage._toSend,
                onPush: () => Push(stage._intoSocket, Grab(stage._toSend)),
                // Reading, even given up, goes on until the peer's FIN or a reset: cancelled now, it would leave Akka.IO
                // waiting for that FIN (a Close is ignored after the half-close this sends) with no way left to reset it.
                onUpstreamFinish: () => Complete(stage._intoSocket),
                onUpstreamFailure: FailStage);
            SetHandler(stage._intoSocket,
                onPull: () => Pull(stage._toSend),
                onDownstreamFinish: cause => Cancel(stage._toSend, cause));
            SetHandler(stage._fromSocket,
                onPush: () =>
                {
                    var bytes = Grab(stage._fromSocket);
                    if (_dropping) Pull(stage._fromSocket);
                    else Push(stage._received, bytes);
                },
                // The peer's FIN: what is still to send goes on (the stage stops once every port is closed).
                onUpstreamFinish: () => Complete(stage._received),
                onUpstreamFailure: FailStage);
            SetHandler(stage._received,
                onPull: () => Pull(stage._fromSocket),
                onDownstreamFinish: cause =>
                {
                    if (IsClosed(stage._fromSocket)) return;
                    if (cause is not SubscriptionWithCancelException.NonFailureCancellation)
                    {
                        Cancel(stage._fromSocket, cause);
                        return;
                    }
                    // Held open, so a reset can still reach the TCP stage; until then it reads on and drops, as it would.
                    _dropping = true;
                    if (!HasBeenPulled(stage._fromSocket)) Pull(stage._fromSocket);
                });
        }

        public override void PreStart()
        {
            _handle.Attach(GetAsyncCallback<Exception>(FailStage));
        }

        public override void PostStop() => _handle.Detach();
    }
}
