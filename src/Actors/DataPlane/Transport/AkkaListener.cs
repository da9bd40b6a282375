using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Actor.Internal;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// One listener of the stock transport, kept to <see cref="IListenerBinding"/>'s promise: connections already accepted go
/// on when it unbinds. Akka.IO makes every accepted connection a child of its TcpListener actor, which stops (and with it
/// resets them) as soon as it is told to unbind. So unbinding closes the listening socket underneath that actor (new
/// connections are refused, or go to another socket of the SO_REUSEPORT group), ends the accept stream the listener
/// sees, and tells Akka.IO to unbind only once every connection its actor accepted has stopped.
/// A socket option, for Akka.IO's hooks: the listening socket before it binds, each accepted connection's actor as it starts.
/// </summary>
internal sealed class AkkaListener(OwnListeners own, IPEndPoint address, bool reusePort) : Inet.SocketOption
{
    private readonly object _gate = new();
    /// <summary>The connection actors this listener's TcpListener started (stopped ones pruned as it grows).</summary>
    private readonly HashSet<ActorCell> _accepted = [];
    private int _pruneAt = 64;
    private Socket? _listening;
    private OwnListeners.Listening? _own;
    private int _closed;

    /// <summary>Akka.IO's binding (set as the stream is materialised; each Bind's source is run once).</summary>
    public Task<Akka.Streams.Dsl.Tcp.ServerBinding>? Binding { get; set; }

    public override void BeforeServerSocketBind(Socket ss)
    {
        _own = own.Prepare(address, ss, reusePort);
        _listening = ss;
    }

    /// <summary>The socket did not bind: no listener of this node's on the address.</summary>
    public void BindFailed() => _own?.Closed();

    /// <summary>Called by Akka.IO for each accepted socket as its connection actor starts: the current actor is that connection.</summary>
    public override void AfterConnect(Socket s)
    {
        if (InternalCurrentActorCellKeeper.Current is not { } connection) return;
        lock (_gate)
        {
            if (_accepted.Count >= _pruneAt)
            {
                _accepted.RemoveWhere(Stopped);
                _pruneAt = Math.Max(64, 2 * _accepted.Count);
            }
            _accepted.Add(connection);
        }
    }

    private static bool Stopped(ActorCell actor) => actor.IsTerminated;

    /// <summary>Completes once every connection accepted so far has stopped.</summary>
    public Task ConnectionsEnded()
    {
        List<IActorRef> open;
        lock (_gate) open = _accepted.Where(a => !Stopped(a)).Select(a => a.Self).ToList();
        return Task.WhenAll(open.Select(a => a.WatchAsync()));
    }

    /// <summary>
    /// Closes the listening socket without Akka.IO's listener actor noticing (it would stop, and its connections with it):
    /// a fresh listening socket is put in place under the same descriptor (dup3), so the one listening closes (the kernel
    /// refuses new connections and resets those queued), while the actor's accept waits for ever on a socket nobody can
    /// reach, until its unbind closes that descriptor. False where that cannot be done (not Linux, or the socket is closed).
    /// </summary>
    public bool StopListening()
    {
        if (!OperatingSystem.IsLinux() || _listening is not { } listening || Interlocked.Exchange(ref _closed, 1) == 1) return false;
        var handle = listening.SafeHandle;
        var held = false;
        try
        {
            // Held, the descriptor cannot be closed (and its number given to another socket) while it is replaced.
            handle.DangerousAddRef(ref held);
            // Non-blocking like the socket it replaces (an accept tried on it must wait, not block a thread), and unreachable:
            // a unix socket under a random abstract name.
            using var placeholder = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            placeholder.Bind(new UnixDomainSocketEndPoint("\0akkal4-unbound-" + Guid.NewGuid().ToString("N")));
            placeholder.Listen(1);
            if (Dup3((int)placeholder.SafeHandle.DangerousGetHandle(), (int)handle.DangerousGetHandle(), CloseOnExec) < 0) return false;
            _own?.Closed();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (held) handle.DangerousRelease();
        }
    }

    private const int CloseOnExec = 0x80000; // O_CLOEXEC

    [DllImport("libc", EntryPoint = "dup3", SetLastError = true)]
    private static extern int Dup3(int oldFd, int newFd, int flags);

    /// <summary>
    /// Between Akka.IO's accept stream and the listener's: passes connections through until <see cref="Unbind"/> (or the
    /// listener's end of the stream) ends the listener's part, without cancelling Akka.IO's (that would unbind at once).
    /// It takes every connection as it comes and queues it for the listener: taking it runs its stream (the transport's
    /// Select), which registers it with its Akka.IO actor. Akka.IO 1.5.73 accepts without waiting for demand and queues
    /// what nobody asked for unregistered; an actor not registered within <c>akka.io.tcp.register-timeout</c> (5 s) stops
    /// and resets its connection, which a listener slower than that behind a burst of connects did (ConcurrencyTests).
    /// At most <paramref name="backlog"/> wait (the listen backlog, as in the kernel's queue), each in a place of the node's
    /// descriptors (<paramref name="places"/>, <see cref="ConnectionBudget.TryReserveAhead"/>) while it waits: a listener that
    /// stops asking (out of places) would otherwise hold every connection made meanwhile, a descriptor each, beyond the
    /// reserve (1024 by default against a reserve of 512) until EMFILE. One that does not fit is closed, counted
    /// (<paramref name="overflowed"/>: the listener's <c>downstream_cx_overflow</c>, as its caps count theirs) and logged
    /// (the first, then every 100th).
    /// </summary>
    public sealed class Gate(AkkaListener listener, EndPoint address, int backlog, Action overflowed, ConnectionBudget? places = null)
        : GraphStageWithMaterializedValue<FlowShape<TcpConnection, TcpConnection>, Func<Task>>
    {
        private readonly ConnectionBudget? _places = places;
        private readonly AkkaListener _listener = listener;
        private readonly EndPoint _address = address;
        private readonly int _backlog = Math.Max(1, backlog);
        private readonly Action _overflowed = overflowed;
        private readonly Inlet<TcpConnection> _in = new("akka-listener.in");
        private readonly Outlet<TcpConnection> _out = new("akka-listener.out");

        public override FlowShape<TcpConnection, TcpConnection> Shape => new(_in, _out);

        public override ILogicAndMaterializedValue<Func<Task>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
        {
            var logic = new Logic(this);
            return new LogicAndMaterializedValue<Func<Task>>(logic, logic.Unbind);
        }

        private sealed class Logic : GraphStageLogic
        {
            private readonly Gate _stage;
            private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private Action _detach = null!;
            private bool _detached;
            /// <summary>Taken (registered) and not yet asked for by the listener.</summary>
            private readonly Queue<TcpConnection> _ready = new();
            /// <summary>Closed because <see cref="_ready"/> was full or the node had no place for it.</summary>
            private long _overflowed;

            public Logic(Gate stage) : base(stage.Shape)
            {
                _stage = stage;
                SetHandler(stage._in,
                    onPush: () =>
                    {
                        var connection = Grab(stage._in);
                        // Accepted as the listener unbound: not handed over, so closed (as the kernel resets those queued).
                        if (_detached) connection.Close();
                        else if (IsAvailable(stage._out)) Push(stage._out, connection);
                        else if (_ready.Count < stage._backlog && (stage._places?.TryReserveAhead() ?? true)) _ready.Enqueue(connection);
                        else Overflow(connection);
                        Pull(stage._in);
                    },
                    onUpstreamFinish: () =>
                    {
                        if (_ready.Count == 0) CompleteStage();
                        else EmitMultiple(stage._out, _ready.ToArray(), CompleteStage);
                        Left(_ready.Count);
                        _ready.Clear();
                    },
                    onUpstreamFailure: FailStage);
                SetHandler(stage._out, onPull: () =>
                {
                    if (!_ready.TryDequeue(out var connection)) return;
                    Left(1);
                    Push(stage._out, connection);
                }, onDownstreamFinish: _ => Detach());
            }

            public override void PreStart()
            {
                _detach = GetAsyncCallback(Detach);
                Pull(_stage._in);
            }

            /// <summary>Connections left the queue (handed over, or closed): their places are given back.</summary>
            private void Left(int count)
            {
                if (_stage._places is { } places)
                    for (var i = 0; i < count; i++) places.Unreserve();
            }

            private void Overflow(TcpConnection connection)
            {
                connection.Close();
                _stage._overflowed();
                if (_overflowed++ % 100 == 0)
                    Log.Warning("listener {0}: connection closed, {1} accepted connections already wait for the listener (listen backlog {2}, or no descriptor place for more); {3} closed so far",
                        _stage._address, _ready.Count, _stage._backlog, _overflowed);
            }

            public Task Unbind()
            {
                _detach();
                return _unbound.Task;
            }

            private void Detach()
            {
                if (_detached) return;
                _detached = true;
                Left(_ready.Count);
                while (_ready.TryDequeue(out var queued)) queued.Close();
                var listener = _stage._listener;
                // Not bound yet, or the socket cannot be closed underneath: Akka.IO unbinds (and stops what it accepted).
                if (listener.Binding is not { IsCompletedSuccessfully: true } bound || !listener.StopListening())
                {
                    CompleteStage();
                    return;
                }
                if (!IsClosed(_stage._out)) Complete(_stage._out);
                // After the listener's end of the stream: every connection it was handed was accepted (and tracked) before.
                var binding = bound.Result;
                listener.ConnectionsEnded().ContinueWith(_ => binding.Unbind(), TaskScheduler.Default).Unwrap()
                    .ContinueWith(_ => _unbound.TrySetResult(), TaskScheduler.Default);
            }

            public override void PostStop()
            {
                // Failed with connections queued: they go with the stream, and so do their places.
                Left(_ready.Count);
                _ready.Clear();
                _unbound.TrySetResult();
            }
        }
    }
}
