using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Dispatch;
using Akka.IO;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// Our own transport over System.Net.Sockets: a listener stage that accepts while its consumer pulls,
/// and one <see cref="SocketStage"/> per connection. An accepted socket waits in the kernel until the
/// connection actor joins it to an upstream, so nothing runs for it before then; an unbound listener
/// leaves its accepted connections alone and first accepts those the kernel had queued for it. Out of
/// descriptors (EMFILE/ENFILE), a listener stays bound and accepts again after a backoff.
/// </summary>
public sealed class SocketTransport : ITcpTransport, IDirectAccept
{
    public Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) =>
        Source.FromGraph(new AcceptStage(address, backlog, _listening));

    public IListenerBinding Listen(IPEndPoint address, int backlog, IActorRef listener, object onInit, object onComplete, Func<Exception, object> onFailure,
        ILoggingAdapter log, bool reusePort = false) =>
        AcceptPump.Start(address, backlog, listener, _scheduler, onInit, onComplete, onFailure, log, _listening, reusePort, _inlineCompletions);

    public Task? Closing(IPEndPoint address) => _listening.Closing(address);

    private readonly OwnListeners _listening = new();

    /// <summary>Where connect timeouts are kept: the actor system's timer wheel, not a timer per attempt.</summary>
    private readonly IScheduler _scheduler;

    /// <summary>
    /// Listeners' accepts, and connects that say so (<see cref="ConnectOptions.InlineCompletion"/>), complete on the runtime's
    /// socket event thread, as relays do with <c>relay-inline-completions</c>: what runs there is a message to the listener,
    /// or the relay's start (its host's turn, <see cref="WakeInline"/>), not a hand-off to the pool first.
    /// </summary>
    private readonly bool _inlineCompletions;

    public SocketTransport(IScheduler scheduler, bool inlineCompletions = false)
    {
        _scheduler = scheduler;
        _inlineCompletions = inlineCompletions;
    }

    public void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt)
    {
        Socket socket;
        bool inline;
        try
        {
            socket = remote is IPEndPoint ip
                ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
        }
        catch (Exception e)
        {
            attempt.Fail(e);
            return;
        }
        try
        {
            socket.NoDelay = true;
            if (options.Keepalive is { } keepalive) Keepalive.Apply(socket, keepalive);
            inline = _inlineCompletions && options.InlineCompletion && InlineCompletions.Prefer(socket);
        }
        catch (Exception e)
        {
            socket.Dispose();
            attempt.Fail(e);
            return;
        }
        new Dial(socket, remote, options.ConnectTimeout, attempt, inline).Start(_scheduler);
    }

    /// <summary>
    /// One connect, as one object: the socket's own event args (so the socket caches none for its lifetime, and all of
    /// this is garbage once connected) and the owner's abandon hook. Whichever ends it first — the connect, the timeout,
    /// the owner abandoning it — wins; the others find it ended. <paramref name="inline"/>: its completion runs on the socket event
    /// thread, and the relay host it wakes runs its turn there too.
    /// </summary>
    private sealed class Dial(Socket socket, EndPoint remote, TimeSpan timeout, ConnectAttempt attempt, bool inline)
        : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true), IConnecting, IThreadPoolWorkItem
    {
        private int _ended;
        private Deadline? _deadline;

        public void Start(IScheduler scheduler)
        {
            if (!attempt.Begin(this))
            {
                socket.Dispose();
                Dispose();
                return;
            }
            RemoteEndPoint = remote;
            _deadline = new Deadline(this);
            bool pending;
            try
            {
                // Throws once the scheduler has shut down (the node stopping): a failure of this attempt, its socket closed.
                scheduler.Advanced.ScheduleOnce(timeout, _deadline, _deadline);
                pending = socket.ConnectAsync(this);
            }
            catch (Exception e)
            {
                if (End())
                {
                    socket.Dispose();
                    attempt.Fail(e);
                }
                Dispose();
                return;
            }
            if (!pending) OnCompleted(this);
        }

        /// <summary>True for the first to end it: the socket is its to keep or close. The deadline lets go of it then.</summary>
        private bool End()
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0) return false;
            _deadline?.Release();
            return true;
        }

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            if (inline) WakeInline.Call(static dial => dial.Finish(), this);
            else Finish();
        }

        private void Finish()
        {
            if (!End())
            {
                // Timed out or abandoned: the socket was closed, and this is the connect's aborted end.
                Dispose();
                return;
            }
            var error = SocketError;
            Dispose();
            if (error != System.Net.Sockets.SocketError.Success)
            {
                socket.Dispose();
                attempt.Fail(SocketErrors.Of(error));
                return;
            }
            TcpConnection connected;
            try
            {
                // The address dialled is the peer's (no getpeername); the local one is read only if asked for.
                connected = Wrap(socket, null, remote as IPEndPoint ?? (IPEndPoint)socket.RemoteEndPoint!);
            }
            catch (Exception failure)
            {
                // Reset before we got to it.
                socket.Dispose();
                attempt.Fail(failure);
                return;
            }
            attempt.Arrive(connected);
        }

        /// <summary>
        /// The connect timeout, on the scheduler's one thread (which also runs every other timer and the cluster's heartbeats):
        /// only ends the dial there. Closing the socket and telling the owner go to the thread pool, so a storm of timeouts
        /// (an upstream dropping SYNs) does not make other timers late.
        /// </summary>
        public void TimedOut()
        {
            if (End()) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        /// <summary>A timed-out dial, on the pool.</summary>
        void IThreadPoolWorkItem.Execute()
        {
            socket.Dispose();
            attempt.Fail(new TimeoutException($"connect to {remote} timed out after {timeout}"));
        }

        public void Abort()
        {
            if (End()) socket.Dispose();
        }
    }

    /// <summary>
    /// A dial's timeout on the scheduler's wheel, which holds it until its time comes whatever happens: so it holds the
    /// dial (and through it the connection's actor and sockets) only until the dial ends, and is then a few bytes the
    /// wheel drops unrun (it asks only <see cref="IsCancellationRequested"/>).
    /// </summary>
    private sealed class Deadline(Dial dial) : IRunnable, ICancelable
    {
        private Dial? _dial = dial;

        public void Release() => Volatile.Write(ref _dial, null);

        public void Run() => Volatile.Read(ref _dial)?.TimedOut();
        public void Execute() => Run();

        public bool IsCancellationRequested => Volatile.Read(ref _dial) is null;
        public CancellationToken Token => CancellationToken.None;
        public void Cancel() => Release();
        public void Cancel(bool throwOnFirstException) => Release();
        public void CancelAfter(TimeSpan delay) => throw new NotSupportedException();
        public void CancelAfter(int millisecondsDelay) => throw new NotSupportedException();
    }

    private static TcpConnection Wrap(Socket socket, IPEndPoint? local, IPEndPoint remote) => new(local, remote, socket);

    /// <summary>
    /// Linux gives every accepted socket its listener's TCP_NODELAY (the kernel clones the listener's state into it), so a
    /// listener sets it once (<see cref="Listening"/>) instead of a setsockopt per connection, ~1–2 µs of a connection's
    /// ~230 µs on the VM measured (bench/README.md, sessions 19–20). Elsewhere each accepted socket sets it.
    /// </summary>
    private static readonly bool NoDelayInherited = OperatingSystem.IsLinux();

    /// <summary>What a listening socket sets before it listens, for the sockets it will accept.</summary>
    internal static void Listening(Socket listener)
    {
        if (NoDelayInherited) listener.NoDelay = true;
    }

    /// <summary>An accepted socket as a connection (throws if it was reset before we got to it).</summary>
    internal static TcpConnection Accepted(Socket socket)
    {
        if (!NoDelayInherited) socket.NoDelay = true;
        // .NET already gives a listener bound to one address its own local address object here (getsockname only
        // for a wildcard). Transparent proxying (TPROXY) would break that: then the original destination must be read.
        return new TcpConnection((IPEndPoint)socket.LocalEndPoint!, (IPEndPoint)socket.RemoteEndPoint!, socket)
        {
            AcceptedAt = System.Diagnostics.Stopwatch.GetTimestamp(),
        };
    }

    /// <summary>An accept failed for want of descriptors (EMFILE/ENFILE) or memory: the listener stays bound and accepts again after a backoff.</summary>
    internal static bool Shortage(Exception e) => Descriptors.Exhausted(e) || e is SocketException { SocketErrorCode: SocketError.NoBufferSpaceAvailable };

    /// <summary>The pause before the next accept in a shortage: 10 ms, doubling up to <see cref="MaxAcceptBackoff"/>.</summary>
    internal static TimeSpan NextBackoff(TimeSpan backoff) =>
        backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxAcceptBackoff.Ticks));

    /// <summary>The longest pause between accepts while the process is out of descriptors.</summary>
    internal static readonly TimeSpan MaxAcceptBackoff = TimeSpan.FromSeconds(1);

    /// <summary>Listens on one address; each pull accepts one connection.</summary>
    private sealed class AcceptStage(IPEndPoint address, int backlog, OwnListeners own) : GraphStageWithMaterializedValue<SourceShape<TcpConnection>, Task<IListenerBinding>>
    {
        private readonly Outlet<TcpConnection> _out = new("accept.out");
        private readonly IPEndPoint _address = address;
        private readonly int _backlog = backlog;
        private readonly OwnListeners _own = own;

        public override SourceShape<TcpConnection> Shape => new(_out);

        protected override Attributes InitialAttributes { get; } = Attributes.CreateName("accept");

        public override ILogicAndMaterializedValue<Task<IListenerBinding>> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
        {
            var bound = new TaskCompletionSource<IListenerBinding>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new LogicAndMaterializedValue<Task<IListenerBinding>>(new Logic(this, bound), bound.Task);
        }

        private sealed class Logic : TimerGraphStageLogic, IListenerBinding
        {
            private readonly AcceptStage _stage;
            private readonly TaskCompletionSource<IListenerBinding> _bound;
            private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private Socket? _listener;
            private OwnListeners.Listening? _listening;
            private ValueTask<Socket> _accept;
            private bool _acceptPending;
            private Action _acceptCompletedOnSocketThread = null!;
            private Action _unbind = null!;
            private volatile bool _unbinding;
            private TimeSpan _backoff;
            private long _exhausted;

            public Logic(AcceptStage stage, TaskCompletionSource<IListenerBinding> bound) : base(stage.Shape)
            {
                _stage = stage;
                _bound = bound;
                SetHandler(stage._out, onPull: Accept, onDownstreamFinish: _ => CompleteStage());
            }

            public IPEndPoint LocalAddress { get; private set; } = new(IPAddress.None, 0);

            public override void PreStart()
            {
                var acceptCompleted = GetAsyncCallback(OnAcceptCompleted);
                _acceptCompletedOnSocketThread = acceptCompleted;
                _unbind = GetAsyncCallback(OnUnbind);
                var listener = new Socket(_stage._address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    _listening = _stage._own.Prepare(_stage._address, listener, reusePort: false);
                    Listening(listener);
                    listener.Bind(_stage._address);
                    listener.Listen(_stage._backlog);
                }
                catch (Exception e)
                {
                    listener.Dispose();
                    _listening?.Closed();
                    _bound.TrySetException(e);
                    FailStage(e);
                    return;
                }
                _listener = listener;
                LocalAddress = (IPEndPoint)listener.LocalEndPoint!;
                _bound.TrySetResult(this);
            }

            private void Accept()
            {
                if (_unbinding)
                {
                    // Closing a listener resets the connections queued on it: take those first, then close.
                    bool queued;
                    try { queued = _listener is { } l && l.Poll(0, SelectMode.SelectRead); }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException) { queued = false; }
                    if (!queued)
                    {
                        CompleteStage();
                        return;
                    }
                }
                try
                {
                    var accept = _listener!.AcceptAsync(CancellationToken.None);
                    if (!accept.IsCompleted)
                    {
                        _accept = accept;
                        _acceptPending = true;
                        accept.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_acceptCompletedOnSocketThread);
                        return;
                    }
                    Accepted(accept.GetAwaiter().GetResult());
                }
                catch (Exception e)
                {
                    AcceptFailed(e);
                }
            }

            private void OnAcceptCompleted()
            {
                _acceptPending = false;
                Socket socket;
                try
                {
                    socket = _accept.GetAwaiter().GetResult();
                }
                catch (Exception e)
                {
                    AcceptFailed(e);
                    return;
                }
                Accepted(socket);
            }

            private void Accepted(Socket socket)
            {
                _backoff = TimeSpan.Zero;
                try
                {
                    Push(_stage._out, SocketTransport.Accepted(socket));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Reset before we got to it: wait for the next one.
                    socket.Dispose();
                    Accept();
                }
            }

            private void AcceptFailed(Exception e)
            {
                if (_unbinding)
                {
                    CompleteStage();
                    return;
                }
                if (Shortage(e))
                {
                    // EMFILE/ENFILE (or no memory): the listener stays bound, its queue waits in the kernel; try again shortly.
                    // Logged at the first failure of each shortage, with how many there were in all.
                    _exhausted++;
                    if (_backoff == TimeSpan.Zero)
                        Log.Warning("listener {0}: accept failed, out of descriptors or memory ({1}), {2} time(s) so far; accepting again within {3}", _stage._address, e.Message, _exhausted, MaxAcceptBackoff);
                    _backoff = NextBackoff(_backoff);
                    ScheduleOnce("accept", _backoff);
                    return;
                }
                FailStage(e);
            }

            protected override void OnTimer(object timerKey) => Accept();

            public Task Unbind()
            {
                _unbinding = true;
                _unbind();
                return _unbound.Task;
            }

            private void OnUnbind()
            {
                // An accept in flight means nothing is queued: closing ends it. Otherwise the next pull takes what is queued.
                if (_acceptPending) Close();
                else if (IsAvailable(_stage._out))
                {
                    // Pulled but not accepting: waiting out a descriptor shortage.
                    CancelTimer("accept");
                    Accept();
                }
            }

            private void Close()
            {
                _listener?.Dispose();
                _listening?.Closed();
            }

            public override void PostStop()
            {
                Close();
                _bound.TrySetException(new InvalidOperationException($"listener on {_stage._address} stopped before it was bound"));
                _unbound.TrySetResult();
            }
        }
    }
}
