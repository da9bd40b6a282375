using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Dispatch.SysMsg;
using Akka.Event;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// The socket transport's listener without an accept stream (<see cref="IDirectAccept"/>): an actor reference of its own
/// that the listener acks as it acked <c>Sink.ActorRefWithAck</c>. An ack starts the next accept on the listener's own
/// thread; the accept's completion (or the accept itself, when a connection was queued) tells the listener the connection.
/// One accept at a time, as the stream's one pull. Unbinding, it first hands over what the kernel had queued, then ends;
/// it ends too (its socket closed) when the listener stops, as the sink, which watched the listener, ended its stream.
/// </summary>
internal sealed class AcceptPump : MinimalActorRef, IListenerBinding
{
    private static long s_pumps;

    private readonly Socket _socket;
    private readonly OwnListeners.Listening _own;
    private readonly IInternalActorRef _listener;
    private readonly IScheduler _scheduler;
    private readonly object _onComplete;
    private readonly Func<Exception, object> _onFailure;
    private readonly ILoggingAdapter _log;
    private readonly Args _args;
    private readonly TaskCompletionSource _unbound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    /// <summary>An accept is in flight.</summary>
    private bool _pending;
    /// <summary>Out of descriptors: the next accept waits for <see cref="_retry"/>'s timer.</summary>
    private bool _waiting;
    private int _retry;
    private bool _unbinding;
    private bool _ended;
    private TimeSpan _backoff;
    private long _exhausted;

    private AcceptPump(Socket socket, OwnListeners.Listening own, IInternalActorRef listener, IScheduler scheduler, object onComplete, Func<Exception, object> onFailure,
        ILoggingAdapter log)
    {
        _socket = socket;
        _own = own;
        _listener = listener;
        _scheduler = scheduler;
        _onComplete = onComplete;
        _onFailure = onFailure;
        _log = log;
        _args = new Args(this);
        Path = new ChildActorPath(listener.Path, "accept-" + Interlocked.Increment(ref s_pumps), 0);
        Provider = listener.Provider;
        LocalAddress = (IPEndPoint)socket.LocalEndPoint!;
    }

    public override ActorPath Path { get; }
    public override IActorRefProvider Provider { get; }
    public IPEndPoint LocalAddress { get; }

    /// <summary>
    /// Binds and listens (throws if that fails; options: <see cref="OwnListeners.Prepare"/>), watches the listener and tells
    /// it <paramref name="onInit"/>.
    /// </summary>
    public static AcceptPump Start(IPEndPoint address, int backlog, IActorRef listener, IScheduler scheduler, object onInit, object onComplete,
        Func<Exception, object> onFailure, ILoggingAdapter log, OwnListeners own, bool reusePort, bool inlineCompletions = false)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        OwnListeners.Listening? listening = null;
        try
        {
            listening = own.Prepare(address, socket, reusePort);
            SocketTransport.Listening(socket);
            socket.Bind(address);
            socket.Listen(backlog);
            // An accept's completion only tells the listener (or accepts again): no hand-off to the pool before that message.
            if (inlineCompletions) InlineCompletions.Prefer(socket);
        }
        catch
        {
            socket.Dispose();
            listening?.Closed();
            throw;
        }
        var owner = (IInternalActorRef)listener;
        var pump = new AcceptPump(socket, listening, owner, scheduler, onComplete, onFailure, log);
        owner.SendSystemMessage(new Watch(owner, pump));
        listener.Tell(onInit, pump);
        return pump;
    }

    /// <summary>The listener's ack (it sends nothing else here): accept the next connection.</summary>
    protected override void TellInternal(object message, IActorRef sender) => Accept();

    /// <summary>The listener stopped: nobody takes connections any more.</summary>
    public override void SendSystemMessage(ISystemMessage message)
    {
        if (message is DeathWatchNotification) End(null);
    }

    public Task Unbind()
    {
        bool close = false, accept = false;
        lock (_gate)
        {
            if (_ended || _unbinding) return _unbound.Task;
            _unbinding = true;
            // An accept in flight means nothing is queued: closing ends it. Waiting out a shortage: take what is queued now.
            if (_pending) close = true;
            else if (_waiting)
            {
                _waiting = false;
                accept = true;
            }
        }
        if (close) Close();
        if (accept) Accept();
        return _unbound.Task;
    }

    private void Accept()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_ended || _pending || _waiting) return;
                if (_unbinding && !Queued())
                {
                    End(_onComplete);
                    return;
                }
                _pending = true;
            }
            _args.AcceptSocket = null;
            bool later;
            try
            {
                later = _socket.AcceptAsync(_args);
            }
            catch (Exception e)
            {
                // The socket closed under it (the pump ending): the args are this path's to dispose.
                if (Settled()) return;
                Failed(e);
                return;
            }
            if (later || Completed()) return;
        }
    }

    /// <summary>Closing a listener resets the connections queued on it: unbinding, those are taken first.</summary>
    private bool Queued()
    {
        try { return _socket.Poll(0, SelectMode.SelectRead); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { return false; }
    }

    /// <summary>An accept ended: true when it is done with (handed over, waiting, ended); false to accept again at once.</summary>
    private bool Completed()
    {
        var error = _args.SocketError;
        var socket = _args.AcceptSocket;
        _args.AcceptSocket = null;
        if (Settled())
        {
            // The pump ended meanwhile (its listener stopped, or it unbound): nobody would serve it.
            socket?.Dispose();
            return true;
        }
        if (error != SocketError.Success || socket is null)
        {
            socket?.Dispose();
            Failed(SocketErrors.Of(error));
            return true;
        }
        TcpConnection connection;
        try
        {
            connection = SocketTransport.Accepted(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset before we got to it: take the next one.
            socket.Dispose();
            return false;
        }
        _backoff = TimeSpan.Zero;
        _listener.Tell(connection, this);
        return true;
    }

    /// <summary>
    /// The accept in flight is over: true if the pump ended meanwhile, its args then disposed here (<see cref="End"/> leaves
    /// them to the accept it found in flight). Else the args are free for the next accept.
    /// </summary>
    private bool Settled()
    {
        lock (_gate)
        {
            _pending = false;
            if (!_ended) return false;
        }
        _args.Dispose();
        return true;
    }

    private void Failed(Exception e)
    {
        lock (_gate)
        {
            if (_unbinding || _ended)
            {
                End(_onComplete);
                return;
            }
        }
        if (SocketTransport.Shortage(e))
        {
            // EMFILE/ENFILE (or no memory): the listener stays bound, its queue waits in the kernel; try again shortly.
            // Logged at the first failure of each shortage, with how many there were in all.
            Interlocked.Increment(ref _exhausted);
            if (_backoff == TimeSpan.Zero)
                _log.Warning("listener {0}: accept failed, out of descriptors or memory ({1}), {2} time(s) so far; accepting again within {3}", LocalAddress, e.Message, _exhausted, SocketTransport.MaxAcceptBackoff);
            _backoff = SocketTransport.NextBackoff(_backoff);
            int retry;
            lock (_gate)
            {
                if (_unbinding || _ended) return;
                _waiting = true;
                retry = ++_retry;
            }
            _scheduler.Advanced.ScheduleOnce(_backoff, () => Retry(retry));
            return;
        }
        End(_onFailure(e));
    }

    private void Retry(int retry)
    {
        lock (_gate)
        {
            // Unbinding took the wait over (and accepted at once).
            if (!_waiting || retry != _retry) return;
            _waiting = false;
        }
        Accept();
    }

    /// <summary>
    /// Ends once: the socket closed, the args disposed (by the accept in flight, if any, as it ends: <see cref="Settled"/>),
    /// the unbinding done, the listener told <paramref name="last"/> (null: it stopped).
    /// </summary>
    private void End(object? last)
    {
        bool pending;
        lock (_gate)
        {
            if (_ended) return;
            _ended = true;
            _waiting = false;
            pending = _pending;
        }
        Close();
        if (!pending) _args.Dispose();
        _unbound.TrySetResult();
        if (last is null) return;
        _listener.Tell(last, this);
        _listener.SendSystemMessage(new Unwatch(_listener, this));
    }

    private void Close()
    {
        _socket.Dispose();
        _own.Closed();
    }

    /// <summary>Accepts that failed for want of descriptors or memory (each followed by a backoff): for tests.</summary>
    internal long Shortages => Interlocked.Read(ref _exhausted);

    /// <summary>The listening socket's TCP_NODELAY, which Linux gives every socket it accepts: for tests.</summary>
    internal bool NoDelay => _socket.NoDelay;

    /// <summary>The listening socket's handle: for tests.</summary>
    internal SafeSocketHandle Handle => _socket.SafeHandle;

    /// <summary>An accept is in flight: for tests.</summary>
    internal bool AcceptInFlight
    {
        get { lock (_gate) return _pending; }
    }

    /// <summary>The accept's args were disposed (the pump ended and no accept is in flight): for tests.</summary>
    internal bool ArgsDisposed
    {
        get
        {
            try
            {
                _args.SetBuffer(Memory<byte>.Empty);
                return false;
            }
            catch (ObjectDisposedException)
            {
                return true;
            }
            catch (InvalidOperationException)
            {
                return false; // an accept is in flight
            }
        }
    }

    /// <summary>The one accept's event args, reused for every accept (completions call back here: on the pool, or on the socket event thread with inline completions), disposed as the pump ends.</summary>
    private sealed class Args(AcceptPump pump) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            if (!pump.Completed()) pump.Accept();
        }
    }
}
