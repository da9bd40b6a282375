using System.Net;
using Akka;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>An accepted client connection: its addresses and the flow of its bytes (in: to the client, out: from the client).</summary>
public sealed record AcceptedConnection(IPEndPoint Local, IPEndPoint Remote, Flow<ByteString, ByteString, NotUsed> Flow);

/// <summary>A bound listener; <see cref="Unbind"/> stops accepting (connections already accepted go on).</summary>
public interface IListenerBinding
{
    IPEndPoint LocalAddress { get; }
    Task Unbind();
}

/// <summary>The local address of an established upstream connection.</summary>
public sealed record UpstreamConnected(EndPoint Local);

/// <summary>Settings applied to an upstream socket.</summary>
public sealed record ConnectOptions(TimeSpan ConnectTimeout, TcpKeepalive? Keepalive);

/// <summary>
/// The one seam between the data plane and the network: every connection actor is fed by the flows
/// this returns, whether they come from stock Akka.Streams <c>Tcp()</c> or from our own stages.
/// </summary>
public interface ITcpTransport
{
    /// <summary>Accepts connections on <paramref name="address"/>; accepting is backpressured by the consumer.</summary>
    Source<AcceptedConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog);

    /// <summary>A connection attempt made when the flow is materialised; the task fails when it cannot connect.</summary>
    Flow<ByteString, ByteString, Task<UpstreamConnected>> Connect(EndPoint remote, ConnectOptions options);
}
