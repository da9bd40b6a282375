using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>The stock transport: Akka.Streams <c>Tcp()</c>, half-close on both sides, SO_REUSEPORT on listeners.</summary>
public sealed class AkkaTcpTransport(ActorSystem system) : ITcpTransport
{
    public Source<AcceptedConnection, Task<IListenerBinding>> Bind(IPEndPoint address, int backlog) =>
        system.TcpStream()
            .Bind(address.Address.ToString(), address.Port, backlog, ImmutableList.Create<Inet.SocketOption>(new ReusePort()), halfClose: true)
            .Select(c => new AcceptedConnection((IPEndPoint)c.LocalAddress, (IPEndPoint)c.RemoteAddress, c.Flow))
            .MapMaterializedValue(async task => (IListenerBinding)new Binding(await task));

    public Flow<ByteString, ByteString, Task<UpstreamConnected>> Connect(EndPoint remote, ConnectOptions options)
    {
        var socketOptions = options.Keepalive is { } keepalive
            ? ImmutableList.Create<Inet.SocketOption>(new Keepalive(keepalive))
            : ImmutableList<Inet.SocketOption>.Empty;
        return system.TcpStream()
            .OutgoingConnection(remote, null, socketOptions, halfClose: true, connectionTimeout: options.ConnectTimeout)
            .MapMaterializedValue(async task => new UpstreamConnected((await task).LocalAddress));
    }

    private sealed class Binding(Akka.Streams.Dsl.Tcp.ServerBinding binding) : IListenerBinding
    {
        public IPEndPoint LocalAddress => (IPEndPoint)binding.LocalAddress;
        public Task Unbind() => binding.Unbind();
    }
}

/// <summary>SO_REUSEPORT, so several node processes on one host can share a listener.</summary>
public sealed class ReusePort : Inet.SocketOption
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    public override void BeforeServerSocketBind(Socket ss)
    {
        ss.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (OperatingSystem.IsLinux()) ss.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
    }
}

/// <summary>DestinationRule <c>connectionPool.tcp.tcpKeepalive</c> on the upstream socket.</summary>
public sealed class Keepalive(TcpKeepalive settings) : Inet.SocketOption
{
    public override void BeforeConnect(Socket s) => Apply(s, settings);

    public static void Apply(Socket s, TcpKeepalive settings)
    {
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        if (settings.Time is { } time) s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Math.Max(1, (int)time.ToTimeSpan().TotalSeconds));
        if (settings.Interval is { } interval) s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, (int)interval.ToTimeSpan().TotalSeconds));
        if (settings.Probes is { } probes) s.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, probes);
    }
}
