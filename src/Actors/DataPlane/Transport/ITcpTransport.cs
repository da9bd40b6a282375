using System.Net;
using System.Net.Sockets;
using Akka;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// One established TCP connection, accepted or dialled. <see cref="Flow"/> carries its bytes (in: to
/// write to the socket, out: read from it) and is materialised at most once, when the connection is
/// joined to its peer; a connection that is never joined is ended with <see cref="Close"/>.
/// <see cref="Socket"/> is set by the socket transport: a relay between two such connections runs
/// a graph fused once for all connections, and never needs <see cref="Flow"/>.
/// <see cref="ReceiveAsync"/> reads what the peer sent first (a PROXY header, a TLS ClientHello)
/// before the connection is joined; what it returned is not read again by <see cref="Flow"/>.
/// </summary>
public sealed class TcpConnection(IPEndPoint local, IPEndPoint remote, Func<Flow<ByteString, ByteString, NotUsed>> flow, Action close,
    Func<Memory<byte>, CancellationToken, ValueTask<int>> receive, Socket? socket = null)
{
    private Flow<ByteString, ByteString, NotUsed>? _flow;

    public IPEndPoint Local => local;
    public IPEndPoint Remote => remote;
    public Socket? Socket => socket;

    /// <summary>Built on first use.</summary>
    public Flow<ByteString, ByteString, NotUsed> Flow => _flow ??= flow();

    public void Close() => close();

    /// <summary>
    /// Reads the next bytes from the peer into <paramref name="into"/> (the caller's buffer: no array of the transport's
    /// own); how many, 0 at end of stream. Only before <see cref="Flow"/> is used.
    /// </summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> into, CancellationToken cancel) => receive(into, cancel);
}

/// <summary>A bound listener; <see cref="Unbind"/> stops accepting (connections already accepted go on).</summary>
public interface IListenerBinding
{
    IPEndPoint LocalAddress { get; }
    Task Unbind();
}

/// <summary>Settings applied to an upstream socket.</summary>
public sealed record ConnectOptions(TimeSpan ConnectTimeout, TcpKeepalive? Keepalive);

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
    /// Dials <paramref name="remote"/>; fails with <see cref="TimeoutException"/> after the connect
    /// timeout. Cancelling abandons the attempt (a connection that arrives anyway is closed).
    /// </summary>
    Task<TcpConnection> ConnectAsync(EndPoint remote, ConnectOptions options, CancellationToken cancel);
}
