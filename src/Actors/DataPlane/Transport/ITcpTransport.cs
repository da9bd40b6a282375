using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// One established TCP connection, accepted or dialled. <see cref="Flow"/> carries its bytes (in: to
/// write to the socket, out: read from it) and is materialised at most once, when the connection is
/// joined to its peer; a connection that is never joined is ended with <see cref="Close"/>.
/// <see cref="Socket"/> is set by the socket transport: a relay between two such connections is
/// one stage over both sockets (<see cref="SocketRelayStage"/>), and never needs <see cref="Flow"/>.
/// <see cref="ReceiveAsync"/> reads what the peer sent first (a PROXY header, a TLS ClientHello)
/// before the connection is joined; what it returned is not read again by <see cref="Flow"/>.
/// </summary>
public sealed class TcpConnection
{
    private readonly Func<Flow<ByteString, ByteString, NotUsed>>? _flowOf;
    private readonly Action? _close;
    private readonly Func<Memory<byte>, CancellationToken, ValueTask<int>>? _receive;
    private readonly Socket? _socket;
    private readonly IPEndPoint _remote;
    private Flow<ByteString, ByteString, NotUsed>? _flow;
    private IPEndPoint? _local;

    public TcpConnection(IPEndPoint? local, IPEndPoint remote, Func<Flow<ByteString, ByteString, NotUsed>> flow, Action close,
        Func<Memory<byte>, CancellationToken, ValueTask<int>> receive, Socket? socket = null)
    {
        (_local, _remote, _flowOf, _close, _receive, _socket) = (local, remote, flow, close, receive, socket);
    }

    /// <summary>
    /// A connection of the socket transport: its flow, close and reads are its socket's own, with no delegates and closure
    /// of its own (four objects per socket, and the accepted one's held for the connection's life: bench/README.md, session 11).
    /// </summary>
    internal TcpConnection(IPEndPoint? local, IPEndPoint remote, Socket socket)
    {
        (_local, _remote, _socket) = (local, remote, socket);
    }

    /// <summary>
    /// Read from <see cref="Socket"/> when first asked where the transport did not give it: a dialled connection's (only TLS
    /// origination asks; a getsockname and its address objects per connection were not worth it).
    /// </summary>
    public IPEndPoint Local => _local ??= (IPEndPoint)(_socket ?? throw new InvalidOperationException("a connection without a socket needs its local address")).LocalEndPoint!;
    public IPEndPoint Remote => _remote;
    public Socket? Socket => _socket;

    /// <summary>Built on first use.</summary>
    public Flow<ByteString, ByteString, NotUsed> Flow => _flow ??= _flowOf is null ? Akka.Streams.Dsl.Flow.FromGraph(new SocketStage(_socket!)) : _flowOf();

    public void Close()
    {
        if (_close is null) _socket!.Dispose();
        else _close();
    }

    /// <summary>
    /// Resets the connection from any thread, whatever its flow is doing (a relay's stop whose flush ran out of time): its
    /// socket, or <see cref="ResetWith"/> (a TLS session's plain connection; the stock transport's <see cref="ResettableSocket"/>).
    /// </summary>
    internal void Reset()
    {
        if (_socket is { } socket) SocketStage.Reset(socket);
        else ResetWith?.Invoke();
    }

    /// <summary>
    /// The peer has reset the connection (its TCP state is CLOSE), read from the kernel without taking anything off the
    /// socket (TCP_INFO's first byte; Linux, the socket transport's own sockets). False where that cannot be told (another
    /// transport, another OS, the socket closed): the connection then goes on as before. A peer that only half-closed
    /// (CLOSE_WAIT) may still want its answer, so it is not gone.
    /// </summary>
    internal bool PeerReset()
    {
        if (_socket is not { } socket || !OperatingSystem.IsLinux()) return false;
        Span<byte> info = stackalloc byte[8];
        try
        {
            return socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info) >= 1 && info[0] == TcpStateClose;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    private const int IpProtoTcp = 6, TcpInfo = 11;
    /// <summary>TCP_CLOSE in Linux's tcp_states.h: what a socket becomes when its peer resets it.</summary>
    private const byte TcpStateClose = 7;

    /// <summary>
    /// When the transport accepted it (<see cref="System.Diagnostics.Stopwatch"/> ticks; 0: dialled, or not known): how long it
    /// has waited in the node before its actor took it up (pending-timeout).
    /// </summary>
    internal long AcceptedAt { get; init; }

    /// <summary>How a connection without a <see cref="Socket"/> of its own is reset (a TLS session: its plain socket).</summary>
    internal Action? ResetWith { private get; init; }

    /// <summary>
    /// Reads the next bytes from the peer into <paramref name="into"/> (the caller's buffer: no array of the transport's
    /// own); how many, 0 at end of stream. Only before <see cref="Flow"/> is used.
    /// </summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> into, CancellationToken cancel) =>
        _receive is null ? _socket!.ReceiveAsync(into, SocketFlags.None, cancel) : _receive(into, cancel);
}

/// <summary>A bound listener; <see cref="Unbind"/> stops accepting (connections already accepted go on).</summary>
public interface IListenerBinding
{
    IPEndPoint LocalAddress { get; }
    Task Unbind();
}

/// <summary>Settings applied to an upstream socket.</summary>
/// <param name="InlineCompletion">
/// Nothing but the relay's start follows the connect (no TLS handshake): its completion may run on the runtime's socket event
/// thread, where a transport that can (<see cref="SocketTransport"/>, relays completing inline) runs it.
/// </param>
public sealed record ConnectOptions(TimeSpan ConnectTimeout, TcpKeepalive? Keepalive, bool InlineCompletion = false);

/// <summary>
/// The one seam between the data plane and the network: every connection actor is fed by the flows
/// of the connections this hands out, whether they come from stock Akka.Streams <c>Tcp()</c> or from
/// our own stages over System.Net.Sockets.
/// </summary>
public interface ITcpTransport
{
    /// <summary>Accepts connections on <paramref name="address"/>; accepting is backpressured by the consumer.</summary>
    Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog);

    /// <summary>
    /// <see cref="Bind(IPEndPoint, int)"/>, telling <paramref name="overflowed"/> (from any thread) of each connection the
    /// transport accepted and closed because more than the listen backlog already waited for the consumer, as a listener's
    /// caps close theirs (<c>downstream_cx_overflow</c>). Only the stock transport accepts ahead of its consumer; elsewhere
    /// the kernel's queue holds them, and drops what is beyond it unaccepted.
    /// </summary>
    Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog, Action overflowed) => Bind(address, backlog);

    /// <summary>
    /// <see cref="Bind(IPEndPoint, int, Action)"/> with SO_REUSEPORT when <paramref name="reusePort"/> (else only where the
    /// node's own listeners need it: <see cref="OwnListeners"/>).
    /// </summary>
    Source<TcpConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog, Action overflowed, bool reusePort) => Bind(address, backlog, overflowed);

    /// <summary>While a listener of this transport on exactly <paramref name="address"/> still closes: done once it has closed (else null).</summary>
    Task? Closing(IPEndPoint address) => null;

    /// <summary>
    /// Dials <paramref name="remote"/> and tells <paramref name="attempt"/> how it went, once, on whatever thread it
    /// ended on: connected, or failed (with <see cref="TimeoutException"/> after the connect timeout). An attempt
    /// abandoned first is told nothing, and a connection that arrives anyway is closed. A callback rather than a
    /// Task: a connection's dial is then one object and one hop to its actor (bench/README.md, session 6).
    /// </summary>
    void Connect(EndPoint remote, ConnectOptions options, ConnectAttempt attempt);
}

/// <summary>
/// A transport that accepts straight into its listener's mailbox: each accept's completion tells the listener its
/// connection, with no stream in between (the accept stream's interpreter ran twice per connection, for the accept's
/// callback and for the listener's ack: bench/README.md, session 12).
/// </summary>
public interface IDirectAccept
{
    /// <summary>
    /// Listens on <paramref name="address"/> (throws when it cannot bind) and speaks to <paramref name="listener"/> as
    /// <c>Sink.ActorRefWithAck</c> does, from an actor reference of its own: <paramref name="onInit"/> first, then one
    /// connection for each message the listener sends back to it (its ack), <paramref name="onComplete"/> once unbound and
    /// emptied of what the kernel had queued, or <paramref name="onFailure"/>. It also ends (its socket closed) when the
    /// listener stops. Out of descriptors it stays bound and accepts again after a backoff, logged to <paramref name="log"/>.
    /// SO_REUSEPORT as <see cref="ITcpTransport.Bind(IPEndPoint, int, Action, bool)"/> says.
    /// </summary>
    IListenerBinding Listen(IPEndPoint address, int backlog, IActorRef listener, object onInit, object onComplete, Func<Exception, object> onFailure,
        ILoggingAdapter log, bool reusePort = false);
}

/// <summary>What a transport's connect in flight can be told: stop, the attempt was abandoned.</summary>
public interface IConnecting
{
    void Abort();
}

/// <summary>
/// One connect attempt: the transport reports it with <see cref="Arrive"/> or <see cref="Fail"/>; its owner may
/// <see cref="Abandon"/> it at any time, after which it reports nothing and whatever arrives is closed.
/// </summary>
public abstract class ConnectAttempt
{
    private readonly object _gate = new();
    private IConnecting? _inFlight;
    private TcpConnection? _arrived;
    private bool _abandoned;
    private bool _ended;

    /// <summary>The connection is open (not called once abandoned).</summary>
    protected abstract void OnConnected(TcpConnection connection);

    /// <summary>The connect failed (not called once abandoned).</summary>
    protected abstract void OnFailed(Exception cause);

    /// <summary>The transport starts the attempt: false when it was abandoned already (start nothing).</summary>
    public bool Begin(IConnecting connecting)
    {
        lock (_gate)
        {
            if (_abandoned) return false;
            _inFlight = connecting;
            return true;
        }
    }

    /// <summary>The transport's connection arrived: handed to the owner, or closed when the attempt was abandoned.</summary>
    public void Arrive(TcpConnection connection)
    {
        bool wanted;
        lock (_gate)
        {
            wanted = !_abandoned && !_ended;
            if (wanted)
            {
                _ended = true;
                _inFlight = null;
                _arrived = connection;
            }
        }
        if (!wanted)
        {
            connection.Close();
            return;
        }
        OnConnected(connection);
    }

    /// <summary>The transport's connect failed: told to the owner unless it abandoned the attempt.</summary>
    public void Fail(Exception cause)
    {
        lock (_gate)
        {
            if (_abandoned || _ended) return;
            _ended = true;
            _inFlight = null;
        }
        OnFailed(cause);
    }

    /// <summary>Nothing more is wanted: a connect in flight stops, a connection that arrived and was not taken over is closed.</summary>
    public void Abandon()
    {
        IConnecting? inFlight;
        TcpConnection? arrived;
        lock (_gate)
        {
            if (_abandoned) return;
            _abandoned = true;
            (inFlight, arrived) = (_inFlight, _arrived);
            _inFlight = null;
        }
        inFlight?.Abort();
        arrived?.Close();
    }

    /// <summary>
    /// The owner took the connection over (it is joined): abandoning no longer closes it. False when the attempt was
    /// abandoned first (the connection is closed already).
    /// </summary>
    public bool TakenOver()
    {
        lock (_gate)
        {
            if (_abandoned) return false;
            _arrived = null;
            return true;
        }
    }
}

public static class TcpTransportExtensions
{
    /// <summary>
    /// <see cref="ITcpTransport.Connect"/> as a Task (for tests and tools; a connection actor uses the callback):
    /// cancelling abandons the attempt and cancels the task.
    /// </summary>
    public static async Task<TcpConnection> ConnectAsync(this ITcpTransport transport, EndPoint remote, ConnectOptions options, CancellationToken cancel = default)
    {
        var attempt = new TaskAttempt();
        // Unregistered when the connect ends: a long-lived token would otherwise keep every attempt's callback.
        // Abandoned only when the cancel wins the task: a connection already handed to the caller is the caller's.
        using var registration = cancel.Register(() =>
        {
            if (attempt.Result.TrySetCanceled(cancel)) attempt.Abandon();
        });
        transport.Connect(remote, options, attempt);
        return await attempt.Result.Task.ConfigureAwait(false);
    }

    private sealed class TaskAttempt : ConnectAttempt
    {
        public readonly TaskCompletionSource<TcpConnection> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override void OnConnected(TcpConnection connection)
        {
            // Taken over first, so a cancel after it cannot close what the caller gets. A cancel before it closed the
            // connection and cancelled the task; one that won the task in between leaves the connection to this close.
            if (TakenOver() && !Result.TrySetResult(connection)) connection.Close();
        }

        // A task's exception is thrown by whoever awaits it: a process-wide one (SocketErrors) is never thrown, so this gets its own.
        protected override void OnFailed(Exception cause) =>
            Result.TrySetException(cause is SocketErrors.Shared shared ? new System.Net.Sockets.SocketException((int)shared.SocketErrorCode) : cause);
    }
}
